"""When dataflows run on their own: due times from schedules, and the scheduler that starts them.

A schedule is `once` (at its start time) or every `interval` minutes, hours, days or weeks from
its start time (or from when the dataflow was created). A dataflow is due when a slot has passed
since its last scheduled run; `accord serve`'s scheduler (`accord.jobs.scheduler`) starts it, and
the dataflow's lock keeps its runs from overlapping, whoever starts them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from accord.catalog import DataflowRecord, FlowRunRecord, Sandbox, aware
from accord.jobs import is_held
from accord.jobs.scheduler import Due, Duty
from accord.sources.dataflows import dataflow_lock
from accord.workspace import Workspace

PERIODS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1),
           "week": timedelta(weeks=1)}  # fmt: skip


def latest_slot(schedule: dict[str, Any], created: datetime, now: datetime) -> datetime | None:
    """The most recent moment at or before `now` when the schedule wanted a run, if any."""
    start = aware(datetime.fromisoformat(schedule["startTime"])) if schedule.get("startTime") else aware(created)
    if now < start:
        return None
    if schedule.get("frequency", "once") == "once":
        return start
    period = PERIODS[schedule["frequency"]] * int(schedule.get("interval", 1))
    return start + period * ((now - start) // period)


def is_due(schedule: dict[str, Any], created: datetime, last_scheduled: datetime | None, now: datetime) -> bool:
    slot = latest_slot(schedule, created, now)
    return slot is not None and (last_scheduled is None or aware(last_scheduled) < slot)


def due_dataflows(workspace: Workspace, now: datetime | None = None) -> list[tuple[str, str]]:
    """(sandbox, dataflow) pairs that are enabled, not running, and due.

    A dataflow whose last run's process died counts as not running: its next run closes that run."""
    now = now or datetime.now(UTC)
    last_run = (
        select(FlowRunRecord.dataflow_id, func.max(FlowRunRecord.started_at).label("last"))
        .where(FlowRunRecord.trigger == "schedule")
        .group_by(FlowRunRecord.dataflow_id)
        .subquery()
    )
    due = []
    with workspace.catalog.session() as session:
        rows = session.execute(
            select(DataflowRecord, Sandbox.name, last_run.c.last)
            .join(Sandbox, Sandbox.id == DataflowRecord.sandbox_id)
            .outerjoin(last_run, last_run.c.dataflow_id == DataflowRecord.id)
            .where(DataflowRecord.enabled.is_(True))
        )
        for flow, sandbox, last in rows:
            if flow.running_run_id and is_held(session, dataflow_lock(flow.id), workspace.settings.stale_run_seconds):
                continue
            if is_due(flow.schedule, flow.created_at, last, now):
                due.append((sandbox, flow.name))
    return due


def dataflow_duty(workspace: Workspace) -> Duty:
    """Dataflows on their schedules, for the scheduler of `accord serve` (with the delay alerts checked each tick)."""
    from accord.sources.alerts import check_delays
    from accord.sources.runs import run_dataflow

    def due() -> list[Due]:
        found = due_dataflows(workspace)
        check_delays(workspace)
        return [(sandbox, name, None) for sandbox, name in found]

    def run(sandbox: str, name: str, _detail: Any) -> dict[str, Any]:
        return run_dataflow(workspace, sandbox, name, trigger="schedule")

    return Duty("dataflow", due, run)
