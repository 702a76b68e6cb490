"""What workflow activities write beside recipients: the state of collected files, and the audience load
audit (one record per audience file: loaded, inserted, updated, rejected with reasons, removed)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, update

from accord.campaign.models import AudienceLoadRecord, CampaignBase, CollectedFileRecord
from accord.campaign.workflows.audiences import audience_of
from accord.campaign.workflows.spec import RunContext
from accord.catalog import utcnow

MAX_REJECTS_KEPT = 10_000
"""Rejects kept with their reasons on one audit record; the count is always exact."""


def table(model: type[CampaignBase]) -> Table:
    """A model's table, for Core statements (executemany without the ORM's bookkeeping)."""
    return cast(Table, model.__table__)


def refuse_file(context: RunContext, file: dict[str, Any], reason: str, *, audience: bool, final: bool = True) -> None:
    """Mark a collected file refused (`final`: not collected again unless it changes; else it is left to the next
    run, as for a limit an administrator may raise); for an audience, audit it."""
    with context.engine.database.session() as session:
        if file.get("collected") is not None:
            status = "refused" if final else "collected"
            session.execute(update(CollectedFileRecord).where(CollectedFileRecord.id == file["collected"])
                            .values(status=status, error=reason[:2000], run_id=None if not final else context.run_id,
                                    updated_at=utcnow()))  # fmt: skip
        if audience:
            list_name = audience_of(file["name"]).list_name
            session.add(AudienceLoadRecord(run_id=context.run_id, file=file["name"], list_name=list_name,
                                           error=reason[:2000]))  # fmt: skip


def mark_processed(session: Any, run_id: int) -> None:
    """The files a run collected and did not refuse are processed, now that it succeeded."""
    session.execute(update(CollectedFileRecord)
                    .where(CollectedFileRecord.run_id == run_id, CollectedFileRecord.status == "collected")
                    .values(status="processed", updated_at=utcnow()))  # fmt: skip


def load_document(record: AudienceLoadRecord) -> dict[str, Any]:
    return {"id": record.id, "run": record.run_id, "file": record.file, "list": record.list_name,
            "loaded": record.loaded, "inserted": record.inserted, "updated": record.updated,
            "rejected": record.rejected, "removed": record.removed, "rejects": record.rejects,
            "error": record.error, "createdAt": record.created_at.isoformat()}  # fmt: skip
