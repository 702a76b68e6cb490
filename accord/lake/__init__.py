"""The data lake: datasets as Parquet batches under a lake root, previews, statistics, diagnostics."""

from accord.lake.datasets import (
    batch_document,
    batch_errors,
    create_dataset,
    delete_batch,
    find_dataset,
    get_batch,
    get_dataset,
    jsonable,
    list_batches,
    list_datasets,
    open_dataset,
    preview,
    set_profile_enabled,
    statistics,
)
from accord.lake.expiry import cutoff, purge_expired, set_ttl
from accord.lake.rewrite import delete_records
from accord.lake.store import Lake, replace_folder

__all__ = [
    "Lake",
    "batch_document",
    "batch_errors",
    "create_dataset",
    "cutoff",
    "delete_batch",
    "delete_records",
    "find_dataset",
    "get_batch",
    "get_dataset",
    "jsonable",
    "list_batches",
    "list_datasets",
    "open_dataset",
    "preview",
    "purge_expired",
    "replace_folder",
    "set_profile_enabled",
    "set_ttl",
    "statistics",
]
