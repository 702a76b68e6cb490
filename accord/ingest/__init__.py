"""Batch ingestion: readers, the data prep mapping language, validation, partial ingestion."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.ingest.checking import check_records
    from accord.ingest.exceptions import REQUIRED_MISSING, ROW_ERROR_CODES, InvalidMappingError, UnreadableFileError
    from accord.ingest.formats import copy_upload
    from accord.ingest.mapping.compiler import record_misfits, records_misfits, records_trimmed
    from accord.ingest.mapping.functions import FUNCTIONS
    from accord.ingest.mapping.model import MappingEntry, MappingSet, load_mapping, parse_mapping
    from accord.ingest.pipeline import IngestRequest, LeftOut, ingest_file
    from accord.ingest.preview import MappingPreview, PreviewRow, preview_mapping
    from accord.ingest.readers import ReadOptions

_EXPORTS = {
    "checking": ["check_records"],
    "exceptions": ["InvalidMappingError", "REQUIRED_MISSING", "ROW_ERROR_CODES", "UnreadableFileError"],
    "formats": ["copy_upload"],
    "mapping.compiler": ["record_misfits", "records_misfits", "records_trimmed"],
    "mapping.functions": ["FUNCTIONS"],
    "mapping.model": ["MappingEntry", "MappingSet", "load_mapping", "parse_mapping"],
    "pipeline": ["IngestRequest", "LeftOut", "ingest_file"],
    "preview": ["MappingPreview", "PreviewRow", "preview_mapping"],
    "readers": ["ReadOptions"],
}
__all__ = lazy_face(__name__, _EXPORTS)
