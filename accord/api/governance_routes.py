"""REST routes of data usage governance: labels on datasets and fields, marketing actions, policies, and the
policy evaluation of an activation flow."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from accord import destinations, governance
from accord.api.deps import SandboxDep, WorkspaceDep, principal
from accord.api.models import ERROR_RESPONSES

router = APIRouter(dependencies=[Depends(principal)], responses=ERROR_RESPONSES, tags=["governance"])


class LabelOut(BaseModel):
    name: str
    category: Literal["contract", "identity", "sensitive", "custom"]
    description: str


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64, examples=["PSPD"])
    description: str = Field(default="", max_length=1024)


class DatasetLabels(BaseModel):
    dataset: str
    labels: list[str] = Field(description="Labels of the whole dataset: every field of it carries them.")
    fields: dict[str, list[str]] = Field(description="Labels of single fields, by dotted path.")


class LabelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: list[str] = Field(min_length=1, max_length=100, examples=[["C2", "I1"]])
    field: str = Field(default="", max_length=512, description="A field's dotted path; empty: the whole dataset.")


class ActionOut(BaseModel):
    name: str
    title: str
    description: str
    core: bool


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64, examples=["smsTargeting"])
    title: str = Field(default="", max_length=256)
    description: str = Field(default="", max_length=1024)


class PolicyOut(BaseModel):
    name: str
    description: str
    marketingAction: str
    expression: str
    enabled: bool
    core: bool
    updatedAt: str


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=128)
    marketingAction: str = Field(max_length=64, examples=["exportToThirdParty"])
    expression: str = Field(max_length=4000, examples=["C2 OR (C5 AND I1)"])
    description: str = Field(default="", max_length=1024)
    enabled: bool = False


class ViolationOut(BaseModel):
    policy: str
    marketingAction: str
    expression: str
    labels: list[str]
    lineage: list[list[str]] = Field(description="Each path: field, dataset, segments, activation, destination.")


class Evaluation(BaseModel):
    activation: str
    destination: str
    marketingActions: list[str]
    allowed: bool
    violations: list[ViolationOut]


@router.get("/labels", response_model=list[LabelOut])
def get_labels(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    """The core labels (C1-C12, I1-I2, S1-S3) and the sandbox's custom ones."""
    with ws.catalog.session() as session:
        return governance.list_labels(session, sandbox)


@router.post("/labels", response_model=LabelOut, status_code=201)
def post_label(ws: WorkspaceDep, sandbox: SandboxDep, body: LabelIn) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return governance.create_label(session, sandbox, body.name, body.description)


@router.get("/datasets/{name}/labels", response_model=DatasetLabels)
def get_dataset_labels(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return governance.dataset_labels(session, sandbox, name)


@router.post("/datasets/{name}/labels", response_model=DatasetLabels)
def post_dataset_labels(ws: WorkspaceDep, sandbox: SandboxDep, name: str, body: LabelsIn) -> dict[str, Any]:
    """Label the dataset, or one field of it (every label checked; the field must be one of its schema's)."""
    with ws.catalog.session() as session:
        return governance.add_labels(session, sandbox, name, body.labels, body.field)


@router.delete("/datasets/{name}/labels", response_model=DatasetLabels)
def delete_dataset_labels(
    ws: WorkspaceDep, sandbox: SandboxDep, name: str, label: list[str] = Query(min_length=1), field: str = ""
) -> dict[str, Any]:
    """Remove labels (`?label=C2&label=I1`) from the dataset, or from one field (`&field=...`)."""
    with ws.catalog.session() as session:
        return governance.remove_labels(session, sandbox, name, label, field)


@router.get("/marketing-actions", response_model=list[ActionOut])
def get_actions(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return governance.list_actions(session, sandbox)


@router.post("/marketing-actions", response_model=ActionOut, status_code=201)
def post_action(ws: WorkspaceDep, sandbox: SandboxDep, body: ActionIn) -> dict[str, Any]:
    with ws.catalog.session() as session:
        made = governance.create_action(session, sandbox, body.name, body.title, body.description)
    return {**made, "core": False}


@router.get("/policies", response_model=list[PolicyOut])
def get_policies(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    """The core policies (shipped disabled) and the sandbox's own."""
    with ws.catalog.session() as session:
        return governance.list_policies(session, sandbox)


@router.post("/policies", response_model=PolicyOut, status_code=201)
def post_policy(ws: WorkspaceDep, sandbox: SandboxDep, body: PolicyIn) -> dict[str, Any]:
    """A policy: the marketing action it forbids for data whose labels match the expression."""
    with ws.catalog.session() as session:
        return governance.create_policy(session, sandbox, body.name, body.marketingAction, body.expression,
                                        description=body.description, enabled=body.enabled)  # fmt: skip


@router.post("/policies/{name}/enable", response_model=PolicyOut)
def post_enable_policy(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return governance.set_policy_enabled(session, sandbox, name, True)


@router.post("/policies/{name}/disable", response_model=PolicyOut)
def post_disable_policy(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return governance.set_policy_enabled(session, sandbox, name, False)


@router.get("/activations/{name}/policies", response_model=Evaluation)
def get_flow_evaluation(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    """What the enabled policies say of an activation flow now, without running it: each violation with its
    policy, the labels that matched and their lineage."""
    with ws.catalog.session() as session:
        return destinations.evaluate_flow(session, sandbox, name)
