"""REST routes of the campaign engine's e-mail deliveries (create, check, proof, send, the send log) and of
subscriptions to its double opt-in lists, under /campaign. The service functions do the checking."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from accord import campaign
from accord.api.campaign_routes import EngineDep
from accord.api.deps import principal
from accord.api.models import ERROR_RESPONSES

router = APIRouter(prefix="/campaign", dependencies=[Depends(principal)], responses=ERROR_RESPONSES,
                   tags=["campaign"])  # fmt: skip


class DeliveryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="Unique in the instance; the routes name a delivery by it")
    label: str = ""
    campaignId: str = Field(default="", description="The campaign it belongs to, carried into the delivery logs")
    campaignName: str = ""
    sender: str = Field(description="The From address, e.g. `Shop <news@shop.example>`")
    subject: str = Field(description="A template, like html and text (sandboxed Jinja2; `{{ firstName }}`...)")
    html: str = ""
    text: str = ""
    target: dict[str, Any] = Field(description='{"list": name}, {"audience": id or name} or {"query": filter}')


class DeliveryOut(BaseModel):
    id: int
    name: str
    label: str
    campaignId: str
    campaignName: str
    sender: str
    subject: str
    html: str
    text: str
    target: dict[str, Any]
    state: str = Field(description="draft, proofed, sending, sent or failed")
    error: str | None
    counts: dict[str, Any] = Field(description="The last send's counts (and the proof's check report)")
    createdAt: str
    updatedAt: str


class CheckOut(BaseModel):
    delivery: int
    fields: list[str] = Field(description="The recipient fields the templates use")
    required: list[str] = Field(description="Those without a default: a recipient lacking one is not sent to")
    recipients: int = Field(description="Recipients the delivery would go to")
    excluded: dict[str, int] = Field(description="Recipients left out, by reason")
    missing: dict[str, dict[str, Any]] = Field(description="By field: how many recipients lack it, and examples")


class ProofIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    addresses: list[str] | None = Field(default=None, description="Instead of the instance's test addresses")


class MessageOutcome(BaseModel):
    to: str
    status: str = Field(description="sent, bounced (a 5xx answer) or failed")
    reason: str
    messageId: str | None


class ProofOut(BaseModel):
    delivery: str
    subject: str
    sent: int
    messages: list[MessageOutcome]


class SendOut(BaseModel):
    delivery: str
    targeted: int
    excluded: dict[str, int]
    atRisk: int = Field(description="Messages a killed run left in flight: sent again, they may arrive twice")
    sent: int
    failed: int
    bounced: int
    pending: int
    sentNow: int
    retried: int
    seeds: int
    seconds: float


class LogRow(BaseModel):
    id: int
    externalId: str
    email: str
    status: str
    reason: str
    attempts: int
    messageId: str | None
    at: str


class LogPage(BaseModel):
    delivery: str
    state: str
    counts: dict[str, int] = Field(description="Rows at each status")
    total: int = Field(description="Rows of the status asked for (all rows if none)")
    rows: list[LogRow]


class SubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str
    fields: dict[str, Any] = Field(default_factory=dict, description="firstName, lastName, phone, externalId, custom")


class SubscribeOut(BaseModel):
    list: str
    email: str
    status: str = Field(description="pending: a member once the confirmation link is followed")
    confirmation: MessageOutcome


@router.get("/deliveries", response_model=list[DeliveryOut])
def get_deliveries(eng: EngineDep) -> list[dict[str, Any]]:
    return campaign.list_deliveries(eng)


@router.post("/deliveries", response_model=DeliveryOut, status_code=201)
def post_delivery(eng: EngineDep, body: DeliveryIn) -> dict[str, Any]:
    """A draft delivery; its templates' syntax and its target's shape are checked now."""
    return campaign.create_delivery(eng, body.name, sender=body.sender, subject=body.subject, target=body.target,
                                    html=body.html, text=body.text, label=body.label, campaign_id=body.campaignId,
                                    campaign_name=body.campaignName)  # fmt: skip


@router.get("/deliveries/{name}", response_model=DeliveryOut)
def get_delivery(eng: EngineDep, name: str) -> dict[str, Any]:
    return campaign.get_delivery(eng, name)


@router.post("/deliveries/{name}/check", response_model=CheckOut)
def post_check(eng: EngineDep, name: str) -> dict[str, Any]:
    """Check the templates against the target's recipients: every problem, or what would be sent."""
    return campaign.check_delivery(eng, name)


@router.post("/deliveries/{name}/proof", response_model=ProofOut)
def post_proof(eng: EngineDep, name: str, body: ProofIn | None = None) -> dict[str, Any]:
    """Send proofs (subject prefixed `[PROOF]`) to the test addresses, or to the addresses given."""
    from accord.campaign.mailer import send_proof

    return send_proof(eng, name, body.addresses if body is not None else None)


@router.post("/deliveries/{name}/send", response_model=SendOut)
def post_send(eng: EngineDep, name: str) -> dict[str, Any]:
    """Send the delivery to its target; sending again mails only those not yet sent to."""
    found = campaign.get_delivery(eng, name)
    return {"delivery": found["name"], **campaign.send_delivery(eng, found["id"])}


@router.get("/deliveries/{name}/log", response_model=LogPage)
def get_delivery_log(
    eng: EngineDep, name: str, status: Literal["pending", "sending", "sent", "failed", "bounced"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:  # fmt: skip
    """The delivery's send log (broadLog): rows by status, and a page of rows."""
    from accord.campaign.broadlog import delivery_log

    return delivery_log(eng, name, status=status, limit=limit, offset=offset)


@router.post("/lists/{name}/subscribe", response_model=SubscribeOut)
def post_subscribe(eng: EngineDep, name: str, body: SubscribeIn) -> dict[str, Any]:
    """Subscribe an address to a double opt-in list: it is pending until it follows the link of the
    confirmation message sent now."""
    from accord.campaign.mailer import subscribe_and_confirm

    return subscribe_and_confirm(eng, name, body.email, body.fields)
