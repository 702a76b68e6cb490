"""The data lake: datasets as Parquet batches under a lake root, previews, statistics, diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.lake.contracts import CONTRACTS, set_schema_contract
    from accord.lake.datasets import (
        batch_document,
        batch_errors,
        create_dataset,
        delete_batch,
        find_dataset,
        get_batch,
        get_dataset,
        list_batches,
        list_datasets,
        newest_batch,
        set_profile_enabled,
    )
    from accord.lake.erasure import (
        DatasetRows,
        Erased,
        Renumbering,
        diagnostics_files,
        diagnostics_naming,
        erase_diagnostics,
        erase_rows,
        find_rows,
        sandbox_datasets,
    )
    from accord.lake.expiry import cutoff, purge_expired, set_ttl
    from accord.lake.footers import stored_statistics
    from accord.lake.housekeeping import Reaped, batch_lock, reap_abandoned, sandbox_job, sandbox_lock
    from accord.lake.listing import read_datasets
    from accord.lake.reading import open_dataset, preview, statistics
    from accord.lake.rewrite import delete_records
    from accord.lake.store import Lake, file_version, replace_folder
    from accord.lake.values import jsonable

_EXPORTS = {
    "listing": ["read_datasets"],
    "datasets": [
        "batch_document",
        "batch_errors",
        "create_dataset",
        "delete_batch",
        "find_dataset",
        "get_batch",
        "get_dataset",
        "list_batches",
        "list_datasets",
        "newest_batch",
        "set_profile_enabled",
    ],
    "contracts": ["CONTRACTS", "set_schema_contract"],
    "erasure": [
        "DatasetRows",
        "Erased",
        "Renumbering",
        "diagnostics_files",
        "diagnostics_naming",
        "erase_diagnostics",
        "erase_rows",
        "find_rows",
        "sandbox_datasets",
    ],
    "expiry": ["cutoff", "purge_expired", "set_ttl"],
    "footers": ["stored_statistics"],
    "housekeeping": ["Reaped", "batch_lock", "reap_abandoned", "sandbox_job", "sandbox_lock"],
    "reading": ["open_dataset", "preview", "statistics"],
    "rewrite": ["delete_records"],
    "store": ["Lake", "file_version", "replace_folder"],
    "values": ["jsonable"],
}
__all__ = lazy_face(__name__, _EXPORTS)
