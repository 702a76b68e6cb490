"""The campaign engine's scheduled work under `accord serve` (or `accord campaign serve`): workflows on their
schedules (among them the built-in `audience-import`, hourly, and `log-export`, every
`campaign_log_export_minutes`) and waiting runs whose wait is over."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from accord.campaign.engine import CampaignEngine
from accord.jobs.scheduler import Due, Duty


def workflows_due(engine: CampaignEngine, now: datetime | None = None) -> list[Due]:
    """Workflows to start, and waiting runs to resume, as the scheduler lists due work."""
    from accord.campaign.workflows import due_workflows

    return [("campaign", work.workflow if work.run is None else f"{work.workflow}#{work.run}", work)
            for work in due_workflows(engine, now or datetime.now(UTC))]  # fmt: skip


def campaign_duties(engine: CampaignEngine) -> list[Duty]:
    """The engine's duties; runs that a killed process left `running` are marked interrupted first."""
    from accord.campaign.workflows import mark_interrupted, resume_workflow, run_workflow

    mark_interrupted(engine)

    def run_work(_sandbox: str, _name: str, work: Any) -> dict[str, Any]:
        if work.run is not None:
            return resume_workflow(engine, work.run)
        return run_workflow(engine, work.workflow, trigger="schedule")

    return [Duty("campaign workflow", lambda: workflows_due(engine), run_work)]
