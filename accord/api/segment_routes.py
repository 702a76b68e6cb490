"""REST routes of the segment context: definitions, validation, estimates, jobs, members, events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from accord import destinations, segment
from accord.api.deps import SandboxDep, WorkspaceDep, principal
from accord.api.models import ERROR_RESPONSES
from accord.segment.definitions import Expression, SegmentDocument
from accord.segment.schedules import ScheduleIn, ScheduleOut

router = APIRouter(dependencies=[Depends(principal)], responses=ERROR_RESPONSES, tags=["segments"])


class ExpressionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expression: Expression


class SegmentOut(BaseModel):
    id: str
    name: str
    description: str
    expression: dict[str, str] = Field(description='{type: "PQL", format: "pql/text", value}')
    composition: dict[str, Any] | None = None
    evaluationInfo: dict[str, Any]
    streamingEligible: bool
    streamingReason: str
    created: str
    updated: str


class ValidationOut(BaseModel):
    valid: bool
    streamingEligible: bool
    streamingReason: str


class EstimateOut(BaseModel):
    estimate: int = Field(description="Profiles that qualify now")
    profiles: int
    ratio: float
    sample: list[str] = Field(description="Graph ids of some qualifying profiles")
    streamingEligible: bool
    streamingReason: str
    seconds: float


class JobProgressOut(BaseModel):
    step: str | None = Field(description="What the job does now (or did last)")
    done: int = Field(description="Items of the step done (segments whose memberships are written)")
    total: int
    fraction: float = Field(description="How far the whole job is, 0 to 1")


class JobOut(BaseModel):
    id: str
    status: str = Field(
        description="queued, running, success, partial (some segments could not be evaluated: see error), "
        "failed or cancelled"
    )
    trigger: str = Field(description="manual or schedule")
    segments: int = Field(description="How many segments were evaluated (asked for, while queued; 0: all)")
    counts: dict[str, dict[str, int]] = Field(description="Per segment: realized, existing, exited, qualified")
    error: str | None = Field(description="Why the job failed, or which segments it left out and why")
    seconds: float | None
    progress: JobProgressOut
    cancelRequested: bool
    started: str
    finished: str | None


class MemberOut(BaseModel):
    graphId: str
    status: str
    lastQualificationTime: str


class MembersOut(BaseModel):
    segment: str
    total: int
    items: list[MemberOut]


class MembershipEventOut(BaseModel):
    id: int
    graphId: str
    segmentId: str
    status: str
    at: str


class MembershipEventsOut(BaseModel):
    items: list[MembershipEventOut]
    next: int = Field(description="Pass as `after` to get the next events")


class StreamingOut(BaseModel):
    graphId: str
    evaluated: list[str]
    changes: list[dict[str, Any]]


class JobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    segments: list[str] = Field(default_factory=list, description="Names or ids; empty for every segment")
    background: bool = Field(
        default=False,
        strict=True,
        description="Answer 202 with the queued job at once (poll `GET /segment/jobs/{id}`, its `Location`); "
        "else the finished job, 201",
    )


@router.get("/segment/definitions", response_model=list[SegmentOut])
def get_definitions(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return segment.list_segments(session, sandbox)


@router.post("/segment/definitions", response_model=SegmentOut, status_code=201)
def post_definition(ws: WorkspaceDep, sandbox: SandboxDep, body: SegmentDocument) -> dict[str, Any]:
    """Create a segment definition: `expression {type: "PQL", value}` or a `composition`, with
    `evaluationInfo {batch, streaming}`. Refused whole, with every problem and where, if it does not check."""
    with ws.catalog.session() as session:
        return segment.create_segment(session, sandbox, body.model_dump(by_alias=True, exclude_none=True))


@router.get("/segment/definitions/{name}", response_model=SegmentOut)
def get_definition(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return segment.segment_document(segment.find_segment(session, sandbox, name))


@router.put("/segment/definitions/{name}", response_model=SegmentOut)
def put_definition(ws: WorkspaceDep, sandbox: SandboxDep, name: str, body: SegmentDocument) -> dict[str, Any]:
    """Replace a segment's definition (refused, with the segments' names, if its references would close a
    cycle; refused while others refer to it by a name it would give up; refused, with the violation, when an
    activation flow that sends it would then break a data usage policy)."""
    with ws.catalog.session() as session:
        return destinations.update_segment_checked(session, sandbox, name,
                                                   body.model_dump(by_alias=True, exclude_none=True))  # fmt: skip


@router.delete("/segment/definitions/{name}", response_model=SegmentOut)
def delete_definition(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return segment.delete_segment(session, sandbox, name)


@router.post("/segment/validate", response_model=ValidationOut)
def post_validate(ws: WorkspaceDep, sandbox: SandboxDep, body: ExpressionIn) -> dict[str, Any]:
    """Check a PQL expression without saving it: 400 with every problem (line, column, caret), or whether it
    can stream and why."""
    with ws.catalog.session() as session:
        _, checked = segment.validate_pql(session, sandbox, body.expression.value)
    return {"valid": True, "streamingEligible": checked.streaming, "streamingReason": checked.streaming_reason}


@router.post("/segment/estimate", response_model=EstimateOut)
async def post_estimate(ws: WorkspaceDep, sandbox: SandboxDep, body: ExpressionIn) -> dict[str, Any]:
    """How many profiles an expression selects now, with a sample, without saving it."""
    return await run_in_threadpool(segment.estimate, ws, sandbox, body.expression.value)


def _job_workers(request: Request) -> segment.JobWorkers:
    """The server's threads for background segment jobs (`create_app` makes them, its stop closes them)."""
    workers: segment.JobWorkers = request.app.state.segment_jobs
    return workers


@router.post("/segment/jobs", response_model=JobOut, status_code=201,
             responses={202: {"model": JobOut, "description": "The job, queued (with `background`)"}})  # fmt: skip
def post_job(ws: WorkspaceDep, sandbox: SandboxDep, body: JobIn, response: Response,
             workers: Annotated[segment.JobWorkers, Depends(_job_workers)]) -> dict[str, Any]:  # fmt: skip
    """Run a batch segment job over every profile; returns the finished job with counts per segment.
    Segments that cannot be evaluated (a missing reference, a cycle) are left out and named in `error`
    (status `partial`). With `background`, answers 202 with the queued job at once (refused, 409, while a
    job of the sandbox is queued or running, or another job holds the sandbox's lock, naming it); the server
    runs it, and `GET /segment/jobs/{id}` follows its status and progress."""
    if not body.background:
        return segment.run_job(ws, sandbox, body.segments or None)
    queued = segment.start_background_job(ws, sandbox, body.segments or None, workers.run)
    response.status_code = 202
    response.headers["Location"] = f"/segment/jobs/{queued['id']}"
    return queued


@router.get("/segment/jobs", response_model=list[JobOut])
def get_jobs(ws: WorkspaceDep, sandbox: SandboxDep, limit: Annotated[int, Query(ge=1, le=1000)] = 50
             ) -> list[dict[str, Any]]:  # fmt: skip
    """The sandbox's latest segment jobs, newest first."""
    return segment.list_jobs(ws, sandbox, limit)


@router.get("/segment/jobs/{job_id}", response_model=JobOut)
def get_job(ws: WorkspaceDep, sandbox: SandboxDep, job_id: str) -> dict[str, Any]:
    """A segment job: its status, its progress while under way, its counts once done."""
    return segment.job_document(ws, sandbox, job_id)


@router.delete("/segment/jobs/{job_id}", response_model=JobOut)
def delete_job(ws: WorkspaceDep, sandbox: SandboxDep, job_id: str) -> dict[str, Any]:
    """Cancel a segment job: a queued one at once, a running one at its next step (`cancelRequested`; it ends
    `cancelled`, memberships left as they were; one already writing memberships finishes). 409 for a job
    that has ended otherwise."""
    return segment.cancel_job(ws, sandbox, job_id)


@router.get("/segment/schedule", response_model=ScheduleOut)
def get_schedule(ws: WorkspaceDep, sandbox: SandboxDep) -> dict[str, Any]:
    """The sandbox's segment schedule (404 before one is set)."""
    with ws.catalog.session() as session:
        return segment.get_schedule(session, sandbox)


# The service checks the body, as it does the CLI's: a bad one is refused with the same code (SEGMENT-0431-400),
# where FastAPI's check would give the generic one. The document still shows the body's schema.
SCHEDULE_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": ScheduleIn.model_json_schema()}}}}  # fmt: skip


@router.put("/segment/schedule", response_model=ScheduleOut, openapi_extra=SCHEDULE_BODY)
def put_schedule(ws: WorkspaceDep, sandbox: SandboxDep, body: Annotated[Any, Body()]) -> dict[str, Any]:
    """Evaluate every segment of the sandbox every `everyHours` hours (1 to 168), on a grid aligned on `at`
    (`HH:MM` UTC): the slots are `at` plus or minus whole periods, and the first job is the first slot after
    the schedule is set (every 5 hours at 22:00, set at 07:06: 12:00, 17:00, 22:00, 03:00...). The profiles
    are rebuilt first with `rebuildProfiles`; `accord serve` runs the jobs. A slot that finds another job
    holding the sandbox's lock, or a background job queued, is skipped and waits for the next. A bad body:
    400 SEGMENT-0431-400, each problem named by its field, as `accord segment schedule set` says it."""
    with ws.catalog.session() as session:
        return segment.set_schedule(session, sandbox, body)


@router.delete("/segment/schedule", response_model=ScheduleOut)
def delete_schedule(ws: WorkspaceDep, sandbox: SandboxDep) -> dict[str, Any]:
    """Disable the sandbox's segment schedule (kept, shown disabled, until set again); jobs under way finish."""
    with ws.catalog.session() as session:
        return segment.disable_schedule(session, sandbox)


@router.get("/segment/definitions/{name}/members", response_model=MembersOut)
def get_members(
    ws: WorkspaceDep, sandbox: SandboxDep, name: str, limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:  # fmt: skip
    """The profiles in a segment now (realized or existing), paged."""
    return segment.members(ws, sandbox, name, limit, offset)


class ChangedProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    namespace: str = Field(min_length=1, max_length=64)
    id: str = Field(min_length=1, max_length=1024)


@router.post("/segment/streaming/evaluate", response_model=StreamingOut)
def post_streaming_evaluate(ws: WorkspaceDep, sandbox: SandboxDep, body: ChangedProfile) -> dict[str, Any]:
    """A profile changed: evaluate the streaming segments on it now; returns the membership changes."""
    return segment.evaluate_changed_profile(ws, sandbox, body.namespace, body.id)


@router.get("/segment/history", response_model=dict[str, Any])
def get_history(
    ws: WorkspaceDep, sandbox: SandboxDep, namespace: Annotated[str, Query(min_length=1, max_length=64)],
    id: Annotated[str, Query(min_length=1, max_length=1024)],
) -> dict[str, Any]:  # fmt: skip
    """A person's audience membership transitions (realized, exited), by any of their identities."""
    return segment.profile_history(ws, sandbox, namespace, id)


@router.get("/segment/events", response_model=MembershipEventsOut)
def get_membership_events(
    ws: WorkspaceDep, sandbox: SandboxDep, after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:  # fmt: skip
    """Membership changes emitted by streaming evaluation, after an event id (for destinations)."""
    return segment.membership_events(ws, sandbox, after, limit)
