"""Rewriting committed batches: taking rows out of a batch (expired events, deleted records).

A batch is rewritten in staging and swapped in by renames, so readers see the old rows or the new
ones, never a half-written batch; its record counts follow. Rewrites hold the sandbox's lock: the
jobs that read batches (graph and profile builds) never see one swapped under them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from accord.catalog import BatchRecord, resolve_sandbox
from accord.errors import InvalidInputError, NotFoundError
from accord.jobs import ensure_held
from accord.lake.datasets import find_dataset
from accord.lake.housekeeping import sandbox_job
from accord.lake.store import replace_folder

if TYPE_CHECKING:
    from accord.workspace import Workspace

MAX_RECORD_IDS = 100_000


def remove_rows(workspace: Workspace, con: Any, sandbox_id: str, dataset_id: str, batch_id: str,
                doomed: Any) -> int:  # fmt: skip
    """Rewrite one batch without the rows `doomed(table)` selects; returns how many rows left it."""
    from accord.engine import copy_to_parquet

    files = workspace.lake.batch_files(sandbox_id, dataset_id, [batch_id])
    if not files:
        return 0
    table = con.read_parquet(files, union_by_name=True)
    condition = doomed(table)
    if condition is None:
        return 0
    count = int(con.execute(table.filter(condition).count()))
    if count == 0:
        return 0
    staging = workspace.lake.staging(f"rewrite-{batch_id}")
    copy_to_parquet(con, table.filter(~condition.fill_null(False)), str(staging / "data_0.parquet"))
    ensure_held(workspace.catalog)
    replace_folder(staging, workspace.lake.batch_dir(sandbox_id, dataset_id, batch_id))
    with workspace.catalog.session() as session:
        batch = session.get(BatchRecord, batch_id)
        assert batch is not None
        batch.output_record_count -= count
    return count


def delete_records(workspace: Workspace, sandbox: str, name: str, ids: list[str]) -> dict[str, Any]:
    """Delete records of a dataset by their `_id`, from every batch that holds them."""
    from accord.engine import connect

    wanted = sorted({i for i in ids if isinstance(i, str) and i})
    if not wanted or len(wanted) > MAX_RECORD_IDS:
        raise InvalidInputError(f"give between 1 and {MAX_RECORD_IDS:,} record ids (`_id`)", code="DATASET-0405-400")
    with sandbox_job(workspace, sandbox, f"deletion of records of {name}"):
        with workspace.catalog.session() as session:
            sandbox_id = resolve_sandbox(session, sandbox).id
            record = find_dataset(session, sandbox_id, name)
            batches = [b.id for b in session.scalars(select(BatchRecord).where(
                BatchRecord.dataset_id == record.id, BatchRecord.status == "success"))]  # fmt: skip
            dataset_id = record.id
        deleted, touched = 0, []
        con = connect(workspace.settings)
        try:
            for batch_id in batches:
                count = remove_rows(workspace, con, sandbox_id, dataset_id, batch_id,
                                    lambda t: t._id.isin(wanted) if "_id" in t.columns else None)  # fmt: skip
                if count:
                    deleted += count
                    touched.append(batch_id)
        finally:
            con.disconnect()
    if not deleted:
        raise NotFoundError(f"none of these records is in dataset {name!r}", code="DATASET-0406-404")
    return {"dataset": name, "deletedRecords": deleted, "batches": touched}
