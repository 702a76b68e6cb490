"""A segment job's record while it lives: queued, running, its progress, a cancellation, how it ended.

Statuses: `queued` (recorded, its process not yet holding the sandbox's lock), `running`, then `success`,
`partial` (some segments left out, named in `error`), `failed` or `cancelled`. Each job names its owner,
the process that runs it or will: a job left `queued` or `running` by a process that is gone was
interrupted, and the next job of the sandbox records it `failed` (a `running` one as soon as that job
holds the lock, since no other job can then run). A cancellation is a request the job reads at the
start of each step: it then stops, before it writes memberships, and ends `cancelled`; once it writes
memberships it finishes, so that memberships are never left half updated."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accord.catalog import SegmentJobRecord, aware, resolve_sandbox, utcnow
from accord.errors import ConflictError, NotFoundError
from accord.jobs import Owner, holder, process_started
from accord.lake import sandbox_lock
from accord.workspace import Workspace

INTERRUPTED = "interrupted: the process running it stopped"
UNDER_WAY = ("queued", "running")
ENDED = ("success", "partial", "failed", "cancelled")
WAITING = "waiting for the sandbox's other jobs"


class JobCancelled(Exception):
    """Raised at a step's start when the job was asked to stop (caught by the job, which ends `cancelled`)."""


class JobUnderWayError(ConflictError):
    """A job of the sandbox is queued or running: another is not started beside it (the message names it, its
    process and since when, and how to follow or cancel it)."""

    code = "SEGMENT-0433-409"

    def __init__(self, sandbox: str, record: SegmentJobRecord) -> None:
        owner = record.owner or {}
        since = aware(record.started_at)
        super().__init__(
            f"cannot start a segment job in sandbox {sandbox}: job {record.id} is already {record.status} (pid "
            f"{owner.get('pid')} on {owner.get('host')}, since {since:%Y-%m-%d %H:%M:%S} UTC); follow it with "
            f"`accord segment jobs {record.id}` (GET /segment/jobs/{record.id}) or cancel it, then try again",
            job=record.id, status=record.status, pid=owner.get("pid"), host=owner.get("host"),
            since=since.isoformat(),
        )  # fmt: skip


def owner_document(pid: int | None = None) -> dict[str, Any]:
    """The owner of a job run by this process (or by its child `pid`), as the record keeps it."""
    me = Owner.me()
    found = pid if pid is not None else me.pid
    started = process_started(found)
    return {"pid": found, "host": me.host, "seen": max(time.time(), started or 0.0)}


def interrupted(record: SegmentJobRecord) -> bool:
    """A job under way whose process is known to be gone (only a process of this host can be looked at)."""
    if record.status not in UNDER_WAY or not record.owner:
        return False
    owner = record.owner
    return Owner(int(owner["pid"]), str(owner["host"]), float(owner.get("seen") or 0) or None).gone


def job_under_way(session: Session, sandbox_id: str, stale_seconds: float) -> SegmentJobRecord | None:
    """The sandbox's job that is queued, or running, now, if one is: a queued one whose process is not known
    to be gone, a running one while a live process holds the sandbox's lock (a job runs only under it)."""
    records = list(session.scalars(select(SegmentJobRecord).where(
        SegmentJobRecord.sandbox_id == sandbox_id, SegmentJobRecord.status.in_(UNDER_WAY))))  # fmt: skip
    lock = holder(session, sandbox_lock(sandbox_id))
    locked = lock is not None and not lock.abandoned(stale_seconds)
    alive = [r for r in records if not interrupted(r) and (r.status == "queued" or locked)]
    return min(alive, key=lambda r: aware(r.started_at), default=None)


def close_interrupted(workspace: Workspace, sandbox_id: str) -> list[str]:
    """Record `failed` the jobs of a sandbox that were interrupted; the caller holds the sandbox's lock, so a
    `running` job of another process cannot be alive. Their ids."""
    with workspace.catalog.session() as session:
        records = session.scalars(select(SegmentJobRecord).where(
            SegmentJobRecord.sandbox_id == sandbox_id, SegmentJobRecord.status.in_(UNDER_WAY)))  # fmt: skip
        closed = []
        for record in records:  # a job is `running` only while it holds the lock: one found now has stopped
            if record.status == "running" or interrupted(record):
                record.status, record.error, record.finished_at = "failed", INTERRUPTED, utcnow()
                closed.append(record.id)
        return closed


PROGRESS_SECONDS = 0.5


@dataclass
class JobControl:
    """The running job's hold on its record: says where it is, hears a cancellation, records the end."""

    workspace: Workspace
    job_id: str
    on_step: Callable[[str, float], None] = field(default=lambda _label, _done: None)
    started: float = field(default_factory=time.perf_counter)
    told: float = 0.0
    """When `advance` last recorded the progress."""

    def step(self, label: str, fraction: float, total: int = 1, *, tell: bool = True) -> None:
        """A step begins: recorded as the job's progress; raises `JobCancelled` if the job was asked to stop."""
        with self.workspace.catalog.session() as session:
            record = session.get(SegmentJobRecord, self.job_id)
            assert record is not None
            record.progress = {"step": label, "done": 0, "total": total, "fraction": round(fraction, 3)}
            cancelled = record.cancel_requested
        if cancelled:
            raise JobCancelled
        if tell:
            self.on_step(label, fraction)

    def advance(self, done: int) -> None:
        """`done` of the current step's items are done (the step cannot be cancelled any more). Recorded at
        most every `PROGRESS_SECONDS`: a write per segment would cost a job of many segments a catalog write
        each; `finish` records the end."""
        now = time.perf_counter()
        if now - self.told < PROGRESS_SECONDS:
            return
        self.told = now
        with self.workspace.catalog.session() as session:
            record = session.get(SegmentJobRecord, self.job_id)
            assert record is not None
            record.progress = {**record.progress, "done": done}

    def finish(self, status: str, error: str | None, counts: dict[str, Any] | None = None) -> None:
        with self.workspace.catalog.session() as session:
            record = session.get(SegmentJobRecord, self.job_id)
            assert record is not None
            record.status, record.error, record.counts = status, error, counts or {}
            record.seconds, record.finished_at = round(time.perf_counter() - self.started, 3), utcnow()
            if status in ("success", "partial"):
                total = record.progress.get("total", 1)
                record.progress = {**record.progress, "done": total, "fraction": 1.0}


def queue(workspace: Workspace, sandbox: str, segment_ids: list[str], trigger: str) -> str:
    """Record a job to run soon (its process is about to start): its id. `segment_ids` empty: every segment."""
    with workspace.catalog.session() as session:
        job = SegmentJobRecord(sandbox_id=resolve_sandbox(session, sandbox).id, segments=segment_ids,
                               status="queued", trigger=trigger, owner=owner_document(),
                               progress={"step": WAITING, "done": 0, "total": 1, "fraction": 0.0})  # fmt: skip
        session.add(job)
        session.flush()
        return job.id


def hand_over(workspace: Workspace, job_id: str, pid: int) -> None:
    """The queued job is now owned by the process `pid` that will run it (a child of this one)."""
    with workspace.catalog.session() as session:
        session.execute(update(SegmentJobRecord).where(SegmentJobRecord.id == job_id,
                        SegmentJobRecord.status == "queued").values(owner=owner_document(pid)))  # fmt: skip


def begin(workspace: Workspace, sandbox_id: str, job_id: str | None, trigger: str) -> str | None:
    """The job starts running (the caller holds the lock): a new record, or the queued one `job_id` taken.

    None when the queued job is no longer queued (cancelled, or closed as interrupted, before it began)."""
    with workspace.catalog.session() as session:
        if job_id is None:
            job = SegmentJobRecord(sandbox_id=sandbox_id, segments=[], status="running", trigger=trigger,
                                   owner=owner_document())  # fmt: skip
            session.add(job)
            session.flush()
            return job.id
        taken = session.execute(update(SegmentJobRecord).where(
            SegmentJobRecord.id == job_id, SegmentJobRecord.sandbox_id == sandbox_id,
            SegmentJobRecord.status == "queued",
        ).values(status="running", owner=owner_document(), started_at=utcnow()))  # fmt: skip
        return job_id if taken.rowcount else None  # type: ignore[attr-defined]


def fail_queued(workspace: Workspace, job_id: str, error: str) -> None:
    """A queued job that could not begin (the lock stayed held): failed, with why."""
    with workspace.catalog.session() as session:
        session.execute(update(SegmentJobRecord).where(SegmentJobRecord.id == job_id,
                        SegmentJobRecord.status == "queued").values(status="failed", error=error,
                                                                    finished_at=utcnow()))  # fmt: skip


def cancel_job(workspace: Workspace, sandbox: str, job_id: str) -> dict[str, Any]:
    """Ask a job to stop: a queued one is cancelled at once, a running one at its next step (before it writes
    memberships; one already writing them finishes). Cancelling a cancelled job changes nothing; refused for a
    job that has ended otherwise. The job's document."""
    with workspace.catalog.session() as session:
        record = _record(session, sandbox, job_id)
        if record.status in ("success", "partial", "failed"):
            raise ConflictError(f"segment job {job_id} has already ended ({record.status}): there is nothing to "
                                "cancel", code="SEGMENT-0430-409", job=job_id, status=record.status)  # fmt: skip
        record.cancel_requested = True
        if record.status == "queued":
            record.status, record.finished_at, record.error = "cancelled", utcnow(), "cancelled before it began"
    return job_document(workspace, sandbox, job_id)


def _record(session: Any, sandbox: str, job_id: str) -> SegmentJobRecord:
    record = session.get(SegmentJobRecord, job_id)
    if record is None or record.sandbox_id != resolve_sandbox(session, sandbox).id:
        raise NotFoundError(f"no segment job {job_id!r}", code="SEGMENT-0413-404", job=job_id)
    return record


def document_of(record: SegmentJobRecord) -> dict[str, Any]:
    """A job as the API and the CLI show it; a job under way whose process is gone shows `failed` (the next
    job records it so)."""
    status, error = record.status, record.error
    if interrupted(record):
        status, error = "failed", INTERRUPTED
    progress = record.progress or {}
    return {"id": record.id, "status": status, "trigger": record.trigger, "segments": len(record.segments),
            "counts": record.counts, "error": error, "seconds": record.seconds,
            "progress": {"step": progress.get("step"), "done": progress.get("done", 0),
                         "total": progress.get("total", 0), "fraction": progress.get("fraction", 0.0)},
            "cancelRequested": record.cancel_requested, "started": record.started_at.isoformat(),
            "finished": record.finished_at.isoformat() if record.finished_at else None}  # fmt: skip


def job_document(workspace: Workspace, sandbox: str, job_id: str) -> dict[str, Any]:
    """One job of the sandbox, with its status and progress."""
    with workspace.catalog.session() as session:
        return document_of(_record(session, sandbox, job_id))


def list_jobs(workspace: Workspace, sandbox: str, limit: int = 50) -> list[dict[str, Any]]:
    """The sandbox's latest jobs, newest first."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        latest = select(SegmentJobRecord).where(SegmentJobRecord.sandbox_id == sandbox_id)
        records = session.scalars(latest.order_by(SegmentJobRecord.started_at.desc()).limit(limit))
        return [document_of(record) for record in records]
