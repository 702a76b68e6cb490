"""The campaign engine's scheduled work under `accord serve` (or `accord campaign serve`): workflows on their
schedules (the audience import among them) and waiting runs whose wait is over, and the log export every
`campaign_log_export_minutes`."""

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


def workflows_due(engine: CampaignEngine, now: datetime | None = None) -> list[Due]:
    """Workflows to start, and waiting runs to resume, as the scheduler lists due work."""
    from accord.campaign.workflows import due_workflows

    return [("campaign", work.workflow if work.run is None else f"{work.workflow}#{work.run}", work)
            for work in due_workflows(engine, now or datetime.now(UTC))]  # fmt: skip


def campaign_duties(engine: CampaignEngine) -> list[Duty]:
    """The engine's duties; runs that a killed process left `running` are marked interrupted first."""
    from accord.campaign.logs import export_logs
    from accord.campaign.workflows import mark_interrupted, resume_workflow, run_workflow

    mark_interrupted(engine)

    def run_export(_sandbox: str, _name: str, _detail: Any) -> dict[str, Any]:
        made = export_logs(engine)
        return {"id": made["until"], "status": "success"}

    def run_work(_sandbox: str, _name: str, work: Any) -> dict[str, Any]:
        if work.run is not None:
            return resume_workflow(engine, work.run)
        return run_workflow(engine, work.workflow, trigger="schedule")

    return [Duty("campaign workflow", lambda: workflows_due(engine), run_work),
            Duty("campaign log export", lambda: log_export_due(engine), run_export)]  # fmt: skip
