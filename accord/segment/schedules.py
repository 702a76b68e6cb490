"""When a sandbox's batch audiences are evaluated on their own: its schedule, which slot is due, and the duty
that `accord serve`'s scheduler ticks.

A schedule runs a segment job of every segment every `everyHours` hours (1 to 168) on a grid aligned on
`at` (`HH:MM` UTC) on the day it was set: slots are that moment plus or minus any whole number of periods
(every 6 hours at 01:30 is 01:30, 07:30, 13:30 and 19:30 each day, whenever it was set), and only those at
or after the moment it was set count (setting a schedule never runs a slot that had passed). So the first
job is the first slot after the setting, which can be before `at` on that day (every 5 hours at 22:00, set
at 07:06: 12:00 = 22:00 - 2 x 5 h, then 17:00, 22:00, 03:00...). A slot is
due once it has passed and is later than the last slot taken; slots missed while no server ran are
caught up by one job, not one per slot. With `rebuildProfiles`, the profile store is rebuilt right
before the job, under the same hold of the sandbox's lock, so that the job reads the fresh store. A
slot whose sandbox lock another job holds, or that finds a background job of the sandbox queued, is skipped
(logged), and waits for the next slot."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from accord.catalog import Sandbox, SegmentScheduleRecord, aware, resolve_sandbox, utcnow
from accord.errors import DocumentError, NotFoundError, validation_problems
from accord.jobs import holder
from accord.jobs.scheduler import Due, Duty
from accord.lake import sandbox_lock
from accord.segment.job_control import job_under_way
from accord.segment.jobs import run_job
from accord.workspace import Workspace

log = logging.getLogger("accord.segment")

MAX_EVERY_HOURS = 168


class ScheduleIn(BaseModel):
    """A sandbox's segment schedule as a caller gives it."""

    model_config = ConfigDict(extra="forbid")
    everyHours: int = Field(strict=True, ge=1, le=MAX_EVERY_HOURS, description="Hours between two jobs (1 to 168)")
    at: str = Field(
        default="00:00",
        description="`HH:MM` UTC that the slots are aligned on: `at` plus or minus "
        "whole periods on the day it is set; the first job is the first slot after it is set",
    )
    rebuildProfiles: bool = Field(default=False, strict=True, description="Rebuild the profiles right before")

    @field_validator("at")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        try:
            parsed = time.fromisoformat(value) if len(value) == 5 and value[2] == ":" else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValueError(f"{value!r} is not a time of day: give HH:MM (UTC), from 00:00 to 23:59")
        return value


class ScheduleOut(BaseModel):
    everyHours: int
    at: str
    rebuildProfiles: bool
    enabled: bool
    lastRunAt: str | None = Field(description="The last slot taken (run, or skipped: the lock was held)")
    nextRunAt: str | None = Field(description="The slot the scheduler starts next (null when disabled)")
    updated: str


@dataclass(frozen=True)
class Schedule:
    """A schedule as the slot arithmetic needs it."""

    every_hours: int
    at: time
    since: datetime
    """When it was set: its slots are counted from `at` on that day, and none before this moment."""

    @property
    def period(self) -> timedelta:
        return timedelta(hours=self.every_hours)

    @property
    def anchor(self) -> datetime:
        return datetime.combine(self.since.date(), self.at, UTC)

    def latest_slot(self, now: datetime) -> datetime | None:
        """The latest slot at or before `now`, if it is not before the schedule was set."""
        slot = self.anchor + self.period * ((now - self.anchor) // self.period)
        return slot if slot >= self.since else None

    def first_slot_after(self, moment: datetime) -> datetime:
        """The first slot strictly after `moment` (and not before the schedule was set)."""
        moment = max(moment, self.since - timedelta(microseconds=1))
        return self.anchor + self.period * ((moment - self.anchor) // self.period + 1)


def due_slot(schedule: Schedule, last_run_at: datetime | None, now: datetime) -> datetime | None:
    """The slot to run now, if one is due: the latest passed slot, when later than the last one taken."""
    slot = schedule.latest_slot(now)
    if slot is None or (last_run_at is not None and slot <= aware(last_run_at)):
        return None
    return slot


def _schedule_of(record: SegmentScheduleRecord) -> Schedule:
    return Schedule(record.every_hours, time.fromisoformat(record.start_at), aware(record.updated_at))


def schedule_document(record: SegmentScheduleRecord, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    schedule, last = _schedule_of(record), aware(record.last_run_at) if record.last_run_at else None
    upcoming = due_slot(schedule, last, now) or schedule.first_slot_after(max(now, last) if last else now)
    return {"everyHours": record.every_hours, "at": record.start_at, "rebuildProfiles": record.rebuild_profiles,
            "enabled": record.enabled, "lastRunAt": last.isoformat() if last else None,
            "nextRunAt": upcoming.isoformat() if record.enabled else None,
            "updated": aware(record.updated_at).isoformat()}  # fmt: skip


def set_schedule(session: Session, sandbox: str, document: dict[str, Any]) -> dict[str, Any]:
    """Set (or replace) the sandbox's segment schedule, enabled; refused whole, each problem named by its field."""
    try:
        given = ScheduleIn.model_validate(document)
    except ValidationError as exc:
        raise DocumentError(
            "the segment schedule", validation_problems(exc.errors()), code="SEGMENT-0431-400"
        ) from None
    sandbox_id = resolve_sandbox(session, sandbox).id
    record = session.get(SegmentScheduleRecord, sandbox_id)
    if record is None:
        record = SegmentScheduleRecord(sandbox_id=sandbox_id)
        session.add(record)
    record.enabled, record.every_hours, record.start_at = True, given.everyHours, given.at
    record.rebuild_profiles, record.updated_at = given.rebuildProfiles, utcnow()
    session.flush()
    return schedule_document(record)


def get_schedule(session: Session, sandbox: str) -> dict[str, Any]:
    """The sandbox's segment schedule (a disabled one too)."""
    record = session.get(SegmentScheduleRecord, resolve_sandbox(session, sandbox).id)
    if record is None:
        raise NotFoundError(f"sandbox {sandbox} has no segment schedule: set one with `accord segment schedule set`",
                            code="SEGMENT-0432-404")  # fmt: skip
    return schedule_document(record)


def disable_schedule(session: Session, sandbox: str) -> dict[str, Any]:
    """Stop the sandbox's scheduled jobs; the schedule is kept (shown disabled) until set again."""
    record = session.get(SegmentScheduleRecord, resolve_sandbox(session, sandbox).id)
    if record is None:
        raise NotFoundError(f"sandbox {sandbox} has no segment schedule", code="SEGMENT-0432-404")
    record.enabled = False
    return schedule_document(record)


def due_schedules(workspace: Workspace, now: datetime | None = None) -> list[Due]:
    """(sandbox, "segment job", slot) of every enabled schedule with a slot due."""
    now = now or datetime.now(UTC)
    with workspace.catalog.session() as session:
        rows = session.execute(select(SegmentScheduleRecord, Sandbox.name)
                               .join(Sandbox, Sandbox.id == SegmentScheduleRecord.sandbox_id)
                               .where(SegmentScheduleRecord.enabled.is_(True)))  # fmt: skip
        found = [(name, "segment job", due_slot(_schedule_of(record), record.last_run_at, now))
                 for record, name in rows]  # fmt: skip
    return [(sandbox, name, slot) for sandbox, name, slot in found if slot is not None]


def run_scheduled(workspace: Workspace, sandbox: str, slot: datetime,
                  rebuild: Callable[[Workspace, str], Any]) -> dict[str, Any]:  # fmt: skip
    """Take the slot and run its job (the profiles rebuilt first if the schedule says so); a slot that another
    server took, whose sandbox lock another job holds, or that finds a job of the sandbox queued, is left (the
    latter two logged)."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        taken = session.execute(update(SegmentScheduleRecord).where(
            SegmentScheduleRecord.sandbox_id == sandbox_id, SegmentScheduleRecord.enabled.is_(True),
            or_(SegmentScheduleRecord.last_run_at.is_(None), SegmentScheduleRecord.last_run_at < slot),
        ).values(last_run_at=slot))  # fmt: skip
        record = session.get(SegmentScheduleRecord, sandbox_id)
        rebuilds = bool(record and record.rebuild_profiles)
        busy = holder(session, sandbox_lock(sandbox_id))
        queued = job_under_way(session, sandbox_id, workspace.settings.stale_run_seconds)
    if not taken.rowcount:  # type: ignore[attr-defined]
        return {"id": None, "status": "taken by another server"}
    if busy is not None and not busy.abandoned(workspace.settings.stale_run_seconds):
        log.warning("the scheduled segment job of sandbox %s (slot %s) waits for the next slot: %s holds the "
                    "sandbox's lock (pid %s on %s, since %s)", sandbox, f"{slot:%Y-%m-%d %H:%M}", busy.purpose,
                    busy.owner.pid, busy.owner.host, f"{busy.since:%Y-%m-%d %H:%M:%S} UTC")  # fmt: skip
        return {"id": None, "status": "skipped: the sandbox's lock was held"}
    if queued is not None:  # about to take the lock: taking it first would make that job wait, then fail
        log.warning("the scheduled segment job of sandbox %s (slot %s) waits for the next slot: job %s is %s",
                    sandbox, f"{slot:%Y-%m-%d %H:%M}", queued.id, queued.status)  # fmt: skip
        return {"id": None, "status": f"skipped: job {queued.id} was {queued.status}"}
    before = (lambda: rebuild(workspace, sandbox)) if rebuilds else None
    return run_job(workspace, sandbox, trigger="schedule", before=before)


def segment_duty(workspace: Workspace, rebuild: Callable[[Workspace, str], Any]) -> Duty:
    """Segment schedules, for the scheduler of `accord serve`; `rebuild(workspace, sandbox)` rebuilds the
    profiles (given by the server, which knows the profile context: segmentation does not depend on it)."""

    def run(sandbox: str, _name: str, slot: Any) -> dict[str, Any]:
        return run_scheduled(workspace, sandbox, slot, rebuild)

    return Duty("segment job", lambda: due_schedules(workspace), run)
