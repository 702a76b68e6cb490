"""The campaign engine's scheduled work under `accord serve` (or `accord campaign serve`): the log export,
every `campaign_log_export_minutes`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from accord.campaign.engine import CampaignEngine
from accord.campaign.models import LogExportCursorRecord
from accord.jobs.scheduler import Due, Duty


def log_export_due(engine: CampaignEngine, now: datetime | None = None) -> list[Due]:
    """The log export, when the last one is older than the interval (or there was none)."""
    now = now or datetime.now(UTC)
    with engine.database.session() as session:
        last = session.scalar(select(LogExportCursorRecord.updated_at).where(LogExportCursorRecord.kind == "delivery"))
    if last is not None and now - last < timedelta(minutes=engine.settings.campaign_log_export_minutes):
        return []
    return [("campaign", engine.name, None)]


def campaign_duties(engine: CampaignEngine) -> list[Duty]:
    from accord.campaign.logs import export_logs

    def run_export(_sandbox: str, _name: str, _detail: Any) -> dict[str, Any]:
        made = export_logs(engine)
        return {"id": made["until"], "status": "success"}

    return [Duty("campaign log export", lambda: log_export_due(engine), run_export)]
