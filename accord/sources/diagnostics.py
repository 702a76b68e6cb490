"""A run's failed rows, by file and line: the row diagnostics of the batches it ingested, read as far as asked."""

from __future__ import annotations

from typing import Any

from accord.lake import batch_errors
from accord.sources.runs import get_run
from accord.workspace import Workspace


def run_row_errors(workspace: Workspace, sandbox: str, run_id: str, limit: int = 100,
                   batches: int = 20) -> list[dict[str, Any]]:  # fmt: skip
    """The first `limit` failed rows of a run, from its first `batches` batches, each as `lake.batch_errors`
    gives it (file, line and row number, the record, its errors) with its batch id. Only the diagnostics
    files of those batches are read, and each only as far as needed."""
    with workspace.catalog.session() as session:
        run = get_run(session, sandbox, run_id)
    found: list[dict[str, Any]] = []
    for batch_id in run["batches"][:batches]:
        if len(found) >= limit:
            break
        found.extend({"batch": batch_id, **row} for row in batch_errors(workspace, sandbox, batch_id,
                                                                         limit - len(found)))  # fmt: skip
    return found
