"""REST routes of the campaign engine's workflows and their runs, the audience import and its audit, and the
bounce mailbox, under /campaign. The service functions do the checking."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from accord.api.campaign_routes import EngineDep
from accord.api.deps import principal
from accord.api.models import ERROR_RESPONSES
from accord.campaign import workflows

router = APIRouter(prefix="/campaign", dependencies=[Depends(principal)], responses=ERROR_RESPONSES,
                   tags=["campaign"])  # fmt: skip

WorkflowBody = Annotated[dict[str, Any], Body(description="A workflow document: name, label, schedule, activities "
                                                          "(see docs/campaign.md)")]  # fmt: skip


class WorkflowOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    name: str
    label: str = ""
    schedule: dict[str, Any] | None = None
    activities: list[dict[str, Any]]
    enabled: bool
    createdAt: str
    updatedAt: str


class ActivityRunOut(BaseModel):
    id: int
    activity: str
    type: str
    status: str
    counts: dict[str, Any]
    error: str | None
    startedAt: str | None
    endedAt: str | None


class RunOut(BaseModel):
    id: int
    workflow: str
    status: str = Field(description="running, success, failed, waiting or interrupted")
    trigger: str
    pid: int | None
    host: str | None
    error: str | None
    startedAt: str | None
    endedAt: str | None
    waitUntil: str | None
    activities: list[ActivityRunOut] | None = Field(default=None, description="Each activity's counts and error "
                                                                              "(a run read alone)")  # fmt: skip


class LoadOut(BaseModel):
    id: int
    run: int | None
    file: str
    loaded: int
    inserted: int
    updated: int
    rejected: int
    removed: int
    rejects: list[Any] = Field(description="Rejected rows: row, key, reason")
    error: str | None = Field(description="Why the whole file was refused, if it was")
    createdAt: str
    list: str | None  # the audience's list; no default here: a class attribute `list` would shadow the type


class BouncesOut(BaseModel):
    read: int
    hard: int
    soft: int
    ignored: int
    unmatched: int
    unreadable: int


@router.get("/workflows", response_model=list[WorkflowOut])
def get_workflows(eng: EngineDep) -> list[dict[str, Any]]:
    return workflows.list_workflows(eng)


@router.post("/workflows", response_model=WorkflowOut, status_code=201)
def post_workflow(eng: EngineDep, body: WorkflowBody) -> dict[str, Any]:
    """Keep a new workflow; the whole document is checked first, every problem said with its path."""
    return workflows.create_workflow(eng, body)


@router.get("/workflows/runs/{run_id}", response_model=RunOut)
def get_workflow_run(eng: EngineDep, run_id: int) -> dict[str, Any]:
    """A run with its activities' counts and errors."""
    return workflows.get_run(eng, run_id)


@router.post("/workflows/runs/{run_id}/resume", response_model=RunOut)
def post_resume(eng: EngineDep, run_id: int) -> dict[str, Any]:
    """Take a failed or waiting run on from where it stopped: what succeeded is not run again."""
    return workflows.resume_workflow(eng, run_id)


@router.get("/workflows/{name}", response_model=WorkflowOut)
def get_workflow(eng: EngineDep, name: str) -> dict[str, Any]:
    return workflows.get_workflow(eng, name)


@router.put("/workflows/{name}", response_model=WorkflowOut)
def put_workflow(eng: EngineDep, name: str, body: WorkflowBody, enabled: bool | None = None) -> dict[str, Any]:
    """Replace a workflow's document (its name stays); `enabled=false` stops its schedule."""
    return workflows.update_workflow(eng, name, body, enabled=enabled)


@router.delete("/workflows/{name}", status_code=204)
def delete_workflow(eng: EngineDep, name: str) -> None:
    """Delete a workflow and its runs' records."""
    workflows.delete_workflow(eng, name)


@router.post("/workflows/{name}/runs", response_model=RunOut)
def post_workflow_run(eng: EngineDep, name: str) -> dict[str, Any]:
    """Run a workflow now, as far as it goes (its end, a failure, or a wait)."""
    return workflows.run_workflow(eng, name)


@router.get("/workflows/{name}/runs", response_model=list[RunOut])
def get_workflow_runs(eng: EngineDep, name: str, limit: Annotated[int, Query(ge=1, le=500)] = 50
                      ) -> list[dict[str, Any]]:  # fmt: skip
    """A workflow's runs, newest first."""
    return workflows.list_runs(eng, name, limit=limit)


@router.post("/import", response_model=RunOut)
def post_import(eng: EngineDep) -> dict[str, Any]:
    """Run the audience import workflow now: the audience files in the landing folder into recipients and lists."""
    from accord.campaign.imports import import_audiences

    return import_audiences(eng)


@router.get("/loads", response_model=list[LoadOut])
def get_loads(eng: EngineDep, run: int | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
              ) -> list[dict[str, Any]]:  # fmt: skip
    """The audit of audience files, newest first (of one import run, when given)."""
    from accord.campaign.imports import audience_loads

    return audience_loads(eng, run_id=run, limit=limit)


@router.post("/bounces/process", response_model=BouncesOut)
def post_bounces(eng: EngineDep) -> dict[str, Any]:
    """Read the new bounce messages of the bounce mailbox now and mark their send-log rows bounced."""
    from accord import campaign

    return campaign.process_bounces(eng)
