"""Experience event time-to-live: events older than their dataset's TTL leave profiles at once,
and `purge_expired` removes them from the lake, batch by batch, each swapped in one rename."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import ibis
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import BatchRecord, resolve_sandbox
from accord.errors import InvalidInputError
from accord.lake.datasets import find_dataset
from accord.lake.housekeeping import sandbox_job
from accord.lake.rewrite import remove_rows
from accord.schema import resolve_schema_by_id

if TYPE_CHECKING:
    from accord.workspace import Workspace


def set_ttl(session: Session, sandbox: str, name: str, days: int | None) -> dict[str, Any]:
    """Set (or clear, with None) the time-to-live of an experience event dataset."""
    from accord.lake.datasets import dataset_document

    record = find_dataset(session, resolve_sandbox(session, sandbox).id, name)
    if resolve_schema_by_id(session, record.schema_id).class_name != "experienceevent":
        raise InvalidInputError(f"dataset {name!r} holds profiles: a time-to-live applies to events only",
                                code="DATASET-0402-400")  # fmt: skip
    if days is not None and not 1 <= days <= 36_500:
        raise InvalidInputError("a time-to-live is 1 to 36,500 days", code="DATASET-0403-400")
    record.ttl_days = days
    session.flush()
    return dataset_document(session, record)


def cutoff(ttl_days: int | None, now: datetime | None = None) -> datetime | None:
    """Events before this moment have expired (None: they never do)."""
    return None if ttl_days is None else (now or datetime.now(UTC)) - timedelta(days=ttl_days)


def purge_expired(workspace: Workspace, sandbox: str, name: str, now: datetime | None = None) -> dict[str, Any]:
    """Remove expired events from the lake; returns how many were removed, from how many batches."""
    from accord.engine import connect

    def expired(table: Any) -> Any:
        if "timestamp" not in table.columns:
            return None
        return table.timestamp.cast("timestamp('UTC')") < ibis.literal(limit)

    with sandbox_job(workspace, sandbox, f"purge of expired events of {name}"):
        with workspace.catalog.session() as session:
            sandbox_id = resolve_sandbox(session, sandbox).id
            record = find_dataset(session, sandbox_id, name)
            limit = cutoff(record.ttl_days, now)
            batches = [b.id for b in session.scalars(select(BatchRecord).where(
                BatchRecord.dataset_id == record.id, BatchRecord.status == "success"))]  # fmt: skip
            dataset_id = record.id
        if limit is None:
            raise InvalidInputError(f"dataset {name!r} has no time-to-live: set one with `accord dataset ttl`",
                                    code="DATASET-0404-400")  # fmt: skip
        purged, touched = 0, 0
        con = connect(workspace.settings)
        try:
            for batch_id in batches:
                count = remove_rows(workspace, con, sandbox_id, dataset_id, batch_id, expired)
                if count == 0:
                    continue
                with workspace.catalog.session() as session:
                    batch = session.get(BatchRecord, batch_id)
                    assert batch is not None
                    batch.options = {**batch.options, "purgedRecords": batch.options.get("purgedRecords", 0) + count}
                purged += count
                touched += 1
        finally:
            con.disconnect()
    return {"dataset": name, "purgedRecords": purged, "batches": touched, "before": limit.isoformat()}
