"""Batch ingestion: readers, the data prep mapping language, validation, partial ingestion."""

from accord.ingest.exceptions import ROW_ERROR_CODES, InvalidMappingError, UnreadableFileError
from accord.ingest.formats import copy_upload
from accord.ingest.mapping.functions import FUNCTIONS
from accord.ingest.mapping.model import MappingEntry, MappingSet, load_mapping, parse_mapping
from accord.ingest.pipeline import IngestRequest, ingest_file
from accord.ingest.readers import ReadOptions

__all__ = [
    "FUNCTIONS",
    "ROW_ERROR_CODES",
    "IngestRequest",
    "InvalidMappingError",
    "MappingEntry",
    "MappingSet",
    "ReadOptions",
    "UnreadableFileError",
    "copy_upload",
    "ingest_file",
    "load_mapping",
    "parse_mapping",
]
