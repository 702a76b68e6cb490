"""REST routes of privacy jobs: a job asked for (access or delete), the jobs of a sandbox, one job's report, and
an access job's bundle to download."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from accord import access, governance
from accord.api.deps import PrincipalDep, SandboxDep, WorkspaceDep, principal
from accord.api.models import ERROR_RESPONSES

router = APIRouter(dependencies=[Depends(principal)], responses=ERROR_RESPONSES, tags=["privacy"])


class PrivacyJobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["access", "delete"] = Field(
        description="`access`: a bundle of everything held about the people; `delete`: remove them from every store"
    )
    identities: list[Any] = Field(
        description="1 to 1,000 identities, each `{namespace, value}` (or the text `NAMESPACE:VALUE`); each expands "
        "to every identity of the same person in the identity graph",
        examples=[[{"namespace": "Email", "value": "ann@example.com"}]],
    )


class StoreReportOut(BaseModel):
    store: str
    reached: bool = Field(description="Whether the job reached this store (see `whyNot` when it did not)")
    found: int = Field(description="Records found (access), or found and removed (delete)")
    removed: int
    details: dict[str, Any]
    errors: list[dict[str, str]]
    whyNot: str | None = None
    seconds: float = Field(description="Time the job spent in this store")


class PrivacyJobOut(BaseModel):
    id: str
    kind: str
    status: str = Field(description="queued, processing, complete or error")
    identities: list[dict[str, str]] = Field(
        description="As asked, normalised; a delete job that ended keeps `{namespace, digest}` only"
    )
    summary: dict[str, Any] = Field(description="People (graphs) found, their identities, records found and removed")
    report: list[StoreReportOut]
    error: str | None
    requestedBy: str
    createdAt: str | None
    startedAt: str | None
    completedAt: str | None
    seconds: float | None
    bundleReady: bool = Field(description="An access job's bundle can be downloaded")


@router.post("/privacy/jobs", response_model=PrivacyJobOut, status_code=201)
async def post_privacy_job(ws: WorkspaceDep, sandbox: SandboxDep, caller: PrincipalDep,
                           body: PrivacyJobIn) -> dict[str, Any]:  # fmt: skip
    """Run a privacy job to its end; the job with its report per store. Identities are checked whole first: a
    request with a problem records nothing (400, every problem with its place). A request for identities that
    exist nowhere is a complete job that found nothing."""
    return await run_in_threadpool(
        governance.run_privacy_job,
        ws,
        sandbox,
        body.kind,
        body.identities,
        requested_by=caller.described,
        campaign_withheld=access.campaign_withheld(caller, changes=body.kind == "delete"),
    )


@router.get("/privacy/jobs", response_model=list[PrivacyJobOut])
def get_privacy_jobs(ws: WorkspaceDep, sandbox: SandboxDep,
                     limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> list[dict[str, Any]]:  # fmt: skip
    """The sandbox's privacy jobs, newest first."""
    return governance.list_privacy_jobs(ws, sandbox, limit)


@router.get("/privacy/jobs/{job_id}", response_model=PrivacyJobOut)
def get_privacy_job(ws: WorkspaceDep, sandbox: SandboxDep, job_id: str) -> dict[str, Any]:
    return governance.get_privacy_job(ws, sandbox, job_id)


BUNDLE = {
    "type": "object",
    "description": "One section per store, named as the job's report names them (`lake`: "
    "rows by dataset, `identityGraph`, `profileStore`, ...), with `job`, `requested` and `people`",
}


@router.get(
    "/privacy/jobs/{job_id}/bundle",
    response_class=FileResponse,
    responses={200: {"content": {"application/json": {"schema": BUNDLE}}, "description": "The bundle"}},
)
def get_privacy_bundle(ws: WorkspaceDep, sandbox: SandboxDep, job_id: str) -> FileResponse:  # fmt: skip
    """An access job's bundle: everything held about the people asked for, one section per store."""
    path = governance.privacy_bundle(ws, sandbox, job_id)
    return FileResponse(path, media_type="application/json", filename=f"privacy-{job_id}.json")
