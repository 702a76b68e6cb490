"""REST routes of the campaign engine, under /campaign: the instance, recipients, lists, seed and test
addresses, the suppression list, the log export, and `connect` (which sets up a CDP sandbox for it)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from accord import campaign
from accord.api.deps import SandboxDep, WorkspaceDep, principal
from accord.api.models import ERROR_RESPONSES

router = APIRouter(prefix="/campaign", dependencies=[Depends(principal)], responses=ERROR_RESPONSES,
                   tags=["campaign"])  # fmt: skip


def engine(request: Request) -> campaign.CampaignEngine:
    return request.app.state.campaign  # type: ignore[no-any-return]


EngineDep = Annotated[campaign.CampaignEngine, Depends(engine)]


class InstanceOut(BaseModel):
    instance: str
    landing: str = Field(description="Where audience files land for the import workflow")
    logs: str = Field(description="Where the log export writes delivery and tracking logs")
    targetMappings: list[str]
    limits: dict[str, int]


class RecipientOut(BaseModel):
    id: int
    externalId: str
    email: str | None
    firstName: str | None
    lastName: str | None
    phone: str | None
    custom: dict[str, Any]
    blackListEmail: bool
    blackListMobile: bool
    blackList: bool
    createdAt: str
    updatedAt: str


class RecipientPage(BaseModel):
    total: int
    recipients: list[RecipientOut]


class OptOutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Literal["email", "sms", "all"]
    optedOut: bool = True


class ListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    label: str = ""
    doubleOptIn: bool = Field(default=False, description="A subscription list: members confirm by e-mail first")


class ListOut(BaseModel):
    id: int
    name: str
    label: str
    origin: str = Field(description="audience, workflow, manual or subscription")
    audienceId: str | None
    doubleOptIn: bool
    members: int
    updatedAt: str


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str
    kind: Literal["test", "seed"] = Field(default="test", description="test: receives proofs; seed: a copy of all")
    label: str = ""


class AddressOut(BaseModel):
    id: int
    email: str
    kind: str
    label: str


class SuppressionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str
    reason: Literal["unsubscribed", "hard-bounce", "complained", "manual"] = "manual"
    detail: str = ""


class SuppressionOut(BaseModel):
    email: str
    reason: str
    detail: str
    createdAt: str


class LogExportOut(BaseModel):
    instance: str
    until: str = Field(description="Rows up to this time went out; the next export starts there")
    deliveryLogs: int
    trackingLogs: int
    consents: int
    files: list[dict[str, Any]]


class ConnectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    namespace: str = Field(default="CRMID", description="The identity namespace of the recipients' external ids")


class ConnectOut(BaseModel):
    instance: str
    sandbox: str
    namespace: str
    created: list[str]
    kept: list[str] = Field(description="What existed already and was left as it was")
    destinationAccount: str
    dataflows: list[str]


@router.get("/instance", response_model=InstanceOut)
def get_instance(eng: EngineDep) -> dict[str, Any]:
    """This campaign instance: its name, folders and limits (what a CDP's `connect` reads)."""
    from accord.campaign.connect import instance_document

    return instance_document(eng)


@router.get("/recipients", response_model=RecipientPage)
def get_recipients(
    eng: EngineDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    search: Annotated[str | None, Query(max_length=320, description="Only the recipients whose e-mail address or "
                                       "external id starts with this (as given, or in lower case)")] = None,
) -> dict[str, Any]:  # fmt: skip
    """A page of recipients in the order they came, and how many there are (of the search, when given)."""
    return campaign.list_recipients(eng, limit=limit, offset=offset, search=search)


@router.get("/recipients/{external_id}", response_model=RecipientOut)
def get_recipient(eng: EngineDep, external_id: str) -> dict[str, Any]:
    return campaign.get_recipient(eng, external_id)


@router.post("/recipients/{external_id}/opt-out", response_model=RecipientOut)
def post_opt_out(eng: EngineDep, external_id: str, body: OptOutIn) -> dict[str, Any]:
    """Opt a recipient out of a channel (or back in, with `optedOut: false`)."""
    return campaign.set_opt_out(eng, external_id, body.channel, body.optedOut)


@router.get("/lists", response_model=list[ListOut])
def get_lists(eng: EngineDep) -> list[dict[str, Any]]:
    return campaign.list_lists(eng)


@router.post("/lists", response_model=ListOut, status_code=201)
def post_list(eng: EngineDep, body: ListIn) -> dict[str, Any]:
    return campaign.create_list(eng, body.name, label=body.label, double_opt_in=body.doubleOptIn)


@router.get("/lists/{name}/members", response_model=list[str])
def get_list_members(eng: EngineDep, name: str) -> list[str]:
    """The external ids of a list's members."""
    return campaign.list_member_ids(eng, name)


@router.get("/addresses", response_model=list[AddressOut])
def get_addresses(eng: EngineDep, kind: Literal["test", "seed"] | None = None) -> list[dict[str, Any]]:
    return campaign.seed_addresses(eng, kind)


@router.post("/addresses", response_model=AddressOut, status_code=201)
def post_address(eng: EngineDep, body: AddressIn) -> dict[str, Any]:
    return campaign.add_seed_address(eng, body.email, kind=body.kind, label=body.label)


@router.get("/suppressions", response_model=list[SuppressionOut])
def get_suppressions(eng: EngineDep) -> list[dict[str, Any]]:
    return campaign.suppressions(eng)


@router.post("/suppressions", response_model=SuppressionOut, status_code=201)
def post_suppression(eng: EngineDep, body: SuppressionIn) -> dict[str, Any]:
    return campaign.suppress(eng, body.email, body.reason, body.detail)


@router.delete("/suppressions/{email}", status_code=204)
def delete_suppression(eng: EngineDep, email: str) -> None:
    campaign.unsuppress(eng, email)


@router.post("/logs/export", response_model=LogExportOut)
async def post_log_export(eng: EngineDep) -> dict[str, Any]:
    """Write the delivery and tracking logs since the last export, for the CDP's source to ingest."""
    from accord.campaign.logs import export_logs

    return await run_in_threadpool(export_logs, eng)


@router.post("/connect", response_model=ConnectOut)
async def post_connect(ws: WorkspaceDep, sandbox: SandboxDep, eng: EngineDep, body: ConnectIn) -> dict[str, Any]:
    """Set up this sandbox and this server's campaign instance for both directions: the destination that sends it
    audiences, and the dataflows that bring its delivery logs, tracking logs and consents back. Says what it
    created. (An instance on another machine is connected from the command line, `accord campaign connect
    --url`: the server fetches no address an API caller names.)"""
    from accord.campaign.connect import Instance, connect

    instance = Instance(name=eng.name, landing=str(eng.landing), logs=str(eng.logs))
    return await run_in_threadpool(connect, ws, sandbox, instance, namespace=body.namespace)
