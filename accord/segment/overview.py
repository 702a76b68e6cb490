"""What the workspace shows of an audience without evaluating anything: its sizes over time and the jobs that
evaluated it, as the jobs recorded them, and a few of its members.

Sizes are read from the jobs' records in the catalog (a job keeps, per segment, how many qualified, entered
and left), never by counting memberships: the size of an audience of millions costs the same as one of ten.
A job records its segments by id and its counts by the segments' names at the time, in the same order (both
are made from the one list of segments it evaluated), so a size is found by id even after a rename."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from accord.catalog import SegmentJobRecord, resolve_sandbox
from accord.segment import memberships
from accord.segment.definitions import find_segment
from accord.segment.jobs import segments_folder
from accord.workspace import Workspace

SCANNED_JOBS = 500
"""The most recent jobs a sandbox's trends are read from (older sizes are not part of a recent trend)."""
JOBS_AT_ONCE = 100


@dataclass(frozen=True)
class SizeAt:
    """An audience's size when a job finished."""

    job: str
    at: datetime
    qualified: int
    """In the audience after the job: realized (entered now) and existing."""
    realized: int
    exited: int


@dataclass(frozen=True)
class AudienceJob:
    """A job that evaluated an audience, with what it counted for that audience."""

    id: str
    status: str
    """running, success, partial or failed"""
    started: datetime
    finished: datetime | None
    seconds: float | None
    error: str | None
    counts: dict[str, int] | None
    """This audience's realized, existing, exited and qualified; None when the job counted nothing (it failed
    or still runs)."""


def counts_by_id(segments: list[str], counts: dict[str, Any]) -> dict[str, dict[str, int]]:
    """A job's counts by segment id (its record keys them by the names the segments had then)."""
    if len(segments) != len(counts):  # a failed job counted nothing
        return {}
    return dict(zip(segments, counts.values(), strict=True))


def recent_sizes(
    session: Session, sandbox: str, segment_ids: Collection[str], per_segment: int = 10, scanned: int = SCANNED_JOBS
) -> dict[str, list[SizeAt]]:  # fmt: skip
    """The sizes of these audiences at their latest jobs, newest first (at most `per_segment` each), read
    from the most recent `scanned` jobs of the sandbox that counted them; an audience no such job
    evaluated has none. Jobs are read a hundred at a time until every audience has its sizes."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    found: dict[str, list[SizeAt]] = {segment_id: [] for segment_id in segment_ids}
    wanting = set(found)
    # the order is found on the small columns alone: sorting whole records, counts and all, costs far more
    latest = session.execute(select(SegmentJobRecord.id, SegmentJobRecord.finished_at).where(
        SegmentJobRecord.sandbox_id == sandbox_id, SegmentJobRecord.status.in_(("success", "partial")),
        SegmentJobRecord.finished_at.is_not(None),
    ).order_by(SegmentJobRecord.finished_at.desc(), SegmentJobRecord.id).limit(scanned)).all()  # fmt: skip
    for start in range(0, len(latest), JOBS_AT_ONCE):
        if not wanting:
            break
        chunk = latest[start : start + JOBS_AT_ONCE]
        recorded = {job_id: (segments, counts) for job_id, segments, counts in session.execute(
            select(SegmentJobRecord.id, SegmentJobRecord.segments, SegmentJobRecord.counts)
            .where(SegmentJobRecord.id.in_([job_id for job_id, _ in chunk])))}  # fmt: skip
        for job_id, finished in chunk:
            assert finished is not None  # chosen so
            for segment_id, counted in counts_by_id(*recorded[job_id]).items():
                if segment_id in wanting:
                    found[segment_id].append(SizeAt(job_id, finished, counted["qualified"], counted["realized"],
                                                    counted["exited"]))  # fmt: skip
                    if len(found[segment_id]) >= per_segment:
                        wanting.discard(segment_id)
    return found


def audience_jobs(session: Session, sandbox: str, name: str, limit: int = 20) -> list[AudienceJob]:
    """The latest jobs that evaluated an audience (by name or id), newest first, whatever became of them."""
    record = find_segment(session, sandbox, name)
    # the job's list of segment ids, as JSON text, holds `"<id>"`: ids are hexadecimal, nothing to escape; the
    # order is found on the small columns alone, then the few jobs shown are read whole
    chosen = list(session.scalars(select(SegmentJobRecord.id).where(
        SegmentJobRecord.sandbox_id == record.sandbox_id,
        cast(SegmentJobRecord.segments, String).like(f'%"{record.id}"%'),
    ).order_by(SegmentJobRecord.started_at.desc(), SegmentJobRecord.id).limit(limit)))  # fmt: skip
    jobs = {job.id: job for job in session.scalars(select(SegmentJobRecord).where(SegmentJobRecord.id.in_(chosen)))}
    return [AudienceJob(job.id, job.status, job.started_at, job.finished_at, job.seconds, job.error,
                        counts_by_id(job.segments, job.counts).get(record.id))
            for job in (jobs[job_id] for job_id in chosen)]  # fmt: skip


def member_sample(workspace: Workspace, sandbox: str, name: str, limit: int = 10) -> list[dict[str, Any]]:
    """A few profiles in an audience now (realized or existing), as its last job left them, in graph order:
    `{graphId, status}`. Reads two columns of the memberships file up to the first members found, not the
    whole file (which `members` reads to count them)."""
    with workspace.catalog.session() as session:
        record = find_segment(session, sandbox, name)
        sandbox_id, segment_id = record.sandbox_id, record.id
    path = memberships.segment_file(segments_folder(workspace, sandbox_id), segment_id)
    return [{"graphId": str(graph), "status": memberships.STATUSES[status]}
            for graph, status in memberships.first_members(path, limit)]  # fmt: skip
