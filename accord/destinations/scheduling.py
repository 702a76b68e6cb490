"""When activation flows run on their own: each audience's schedule, and the duty `accord serve` ticks.

An audience goes out once (on its start day at its time, else when the flow was made), daily at its
time, every 3, 6, 8 or 12 hours from its start day's time (midnight by default), or right after a
segment job that evaluated it; never before its start day nor after its end day (UTC). An audience
is due when a slot has passed since the last scheduled run that sent it; one scheduled run of a
flow sends every audience then due, and a failed run counts as an attempt (the next slot tries
again), so that a destination that is down is not hammered every tick.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from accord.catalog import Sandbox, SegmentJobRecord, aware
from accord.catalog.activations import ActivationFlowRecord, ActivationRunRecord
from accord.catalog.reading import utc_time
from accord.destinations.flows import Schedule, definition_of
from accord.jobs import is_held
from accord.jobs.scheduler import Due, Duty
from accord.workspace import Workspace

PERIODS = {"daily": timedelta(days=1), "3h": timedelta(hours=3), "6h": timedelta(hours=6),
           "8h": timedelta(hours=8), "12h": timedelta(hours=12)}  # fmt: skip


def latest_slot(
    schedule: Schedule, created: datetime, now: datetime, last_job: datetime | None = None
) -> datetime | None:
    """The most recent moment at or before `now` when the schedule wanted a run, if any; never before the flow
    was made (a `once` whose moment had passed then runs at once). `last_job`: when the newest segment job that
    evaluated the audience finished (for `after-segment-job`)."""
    if schedule.frequency == "after-segment-job":
        slot = last_job if last_job is not None and last_job >= created else None
    else:
        clock = time.fromisoformat(schedule.time) if schedule.time else time(0)
        day = schedule.start or created.date()
        anchor = datetime.combine(day, clock, UTC) if schedule.time or schedule.start else created
        period = PERIODS.get(schedule.frequency)
        if period is None:  # once
            slot = max(anchor, created)
        elif now < anchor:
            slot = None
        else:
            slot = anchor + period * ((now - anchor) // period)
            slot = slot if slot >= created else None
        if slot is not None and slot > now:
            slot = None
    if slot is None or (schedule.start is not None and slot.date() < schedule.start):
        return None
    if schedule.end is not None and slot.date() > schedule.end:
        return None
    return slot


def due_activations(workspace: Workspace, now: datetime | None = None) -> list[Due]:
    """(sandbox, flow, segment ids due) of enabled flows (or in error) that are not running."""
    now = now or datetime.now(UTC)
    due: list[Due] = []
    with workspace.catalog.session() as session:
        flows = session.execute(select(ActivationFlowRecord, Sandbox.name)
                                .join(Sandbox, Sandbox.id == ActivationFlowRecord.sandbox_id)
                                .where(ActivationFlowRecord.state.in_(("enabled", "error"))))  # fmt: skip
        for flow, sandbox in flows:
            if is_held(session, f"activation:{flow.id}", workspace.settings.stale_run_seconds):
                continue
            sent = _last_scheduled(session, flow.id)
            jobs = _last_jobs(session, flow.sandbox_id)
            created = utc_time(flow.created_at) or now
            ready = []
            for audience in definition_of(flow).audiences:
                segment_id = audience.segment_id or audience.segment
                slot = latest_slot(audience.schedule, created, now, jobs.get(segment_id))
                last = sent.get(segment_id)
                if slot is not None and (last is None or last < slot):
                    ready.append(segment_id)
            if ready:
                due.append((sandbox, flow.name, ready))
    return due


def _last_scheduled(session: Any, flow_id: str) -> dict[str, datetime]:
    """When each audience of a flow last went out on schedule (or was tried)."""
    runs = session.scalars(select(ActivationRunRecord).where(ActivationRunRecord.flow_id == flow_id,
                                                             ActivationRunRecord.trigger == "schedule")
                           .order_by(ActivationRunRecord.created_at))  # fmt: skip
    return {a["segmentId"]: aware(run.created_at) for run in runs for a in run.audiences}


def _last_jobs(session: Any, sandbox_id: str) -> dict[str, datetime]:
    """When the newest successful segment job that evaluated each segment finished."""
    jobs = session.scalars(select(SegmentJobRecord).where(SegmentJobRecord.sandbox_id == sandbox_id,
                                                          SegmentJobRecord.status == "success")
                           .order_by(SegmentJobRecord.finished_at))  # fmt: skip
    return {segment_id: aware(job.finished_at) for job in jobs if job.finished_at for segment_id in job.segments}


def activation_duty(workspace: Workspace) -> Duty:
    """Activation flows on their audiences' schedules, for the scheduler of `accord serve`."""
    from accord.destinations.runs import run_activation

    def run(sandbox: str, name: str, segment_ids: Any) -> dict[str, Any]:
        return run_activation(workspace, sandbox, name, trigger="schedule", segment_ids=list(segment_ids))

    return Duty("activation", lambda: due_activations(workspace), run)
