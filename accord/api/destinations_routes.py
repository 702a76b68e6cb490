"""REST routes of the destinations context: the destination catalog, accounts, activation flows and runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from accord import destinations
from accord.access import AllowedRoots, require_for_account
from accord.api.deps import PrincipalDep, SandboxDep, WorkspaceDep, principal
from accord.api.models import ERROR_RESPONSES
from accord.api.sources_routes import CheckStepOut
from accord.errors import InvalidInputError
from accord.sources import SecretBox

router = APIRouter(dependencies=[Depends(principal)], responses=ERROR_RESPONSES, tags=["destinations"])


class DestinationOut(BaseModel):
    id: str
    name: str
    category: str
    description: str
    exportType: str = Field(description="`profile` (members with attributes) or `segment` (identities and statuses)")
    delivery: str = Field(description="`batch` (files) or `streaming` (requests)")
    config: dict[str, Any] = Field(description="Configuration as JSON Schema; secret fields carry `secret: true`")
    secretFields: list[str]
    schedules: list[str]
    namespaces: list[str] | None = Field(description="Identity namespaces it accepts; null: any")
    files: dict[str, Any] | None
    limits: dict[str, Any]
    consentChannel: str | None


ACTIONS_DESCRIPTION = ("Marketing actions every flow through the account performs, besides its destination's own "
                       "(data usage policies forbid actions for labelled data): core ones (`exportToThirdParty`...) or "
                       "the sandbox's own.")  # fmt: skip


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    destination: str
    config: dict[str, Any]
    marketingActions: list[str] = Field(default_factory=list, max_length=50, description=ACTIONS_DESCRIPTION)


class AccountActionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    marketingActions: list[str] = Field(max_length=50, description=ACTIONS_DESCRIPTION)


class AccountOut(BaseModel):
    id: str
    name: str
    destination: str
    config: dict[str, Any] = Field(description="Settings without their secrets")
    secretFields: list[str] = Field(description="Secret settings that are stored (encrypted), never their values")
    marketingActions: list[str] = Field(description=ACTIONS_DESCRIPTION)
    createdAt: str


class AccountCheck(BaseModel):
    account: str
    ok: bool
    steps: list[CheckStepOut]


class FlowOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    name: str
    account: str
    destination: str
    state: str = Field(description="enabled, disabled, or error (`error` says why)")
    error: str | None
    audiences: list[dict[str, Any]]
    mapping: list[dict[str, Any]]
    exportMode: str
    createdAt: str
    updatedAt: str


class RunOut(BaseModel):
    id: str
    flow: str
    status: str = Field(description="running, success, partial (some profiles not delivered) or failed")
    trigger: str = Field(
        description="manual, schedule, or events (a flow to a streaming destination following membership changes)"
    )
    dryRun: bool
    full: bool = Field(description="Every member went out, not only the changes since the last run")
    profilesReceived: int
    identitiesActivated: int
    profilesFailed: int
    excluded: dict[str, int] = Field(description="Profiles left out, by reason")
    audiences: list[dict[str, Any]] = Field(description="Per audience: rows, changes (added, changed, removed)")
    files: list[dict[str, Any]] = Field(description="Files delivered: name, sinkPath, rows, size")
    requests: int
    retries: int
    errors: list[dict[str, Any]]
    startedAt: str | None
    completedAt: str | None
    durationSeconds: float | None


FlowBody = Annotated[
    dict[str, Any],
    Body(
        examples=[
            {
                "name": "crm-to-folder",
                "account": "outbox",
                "audiences": [{"segment": "buyers", "schedule": {"frequency": "daily", "time": "06:00"}}],
                "mapping": [
                    {"source": "person.name.firstName", "target": "first_name"},
                    {"source": "identityMap.Email", "target": "email"},
                ],
                "mandatory": ["email"],
                "dedupKey": ["email"],
                "exportMode": "incremental",
                "file": {"format": "csv", "compression": "gzip", "manifest": True},
            }
        ]
    ),
]


@router.get("/destinations", response_model=list[DestinationOut])
def get_destinations() -> list[dict[str, Any]]:
    """The destinations that can be used here."""
    return [spec.to_document() for spec in destinations.list_destinations()]


@router.get("/destinations/accounts", response_model=list[AccountOut])
def get_accounts(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return destinations.list_accounts(session, sandbox)


@router.post("/destinations/accounts", response_model=AccountOut, status_code=201)
def post_account(ws: WorkspaceDep, sandbox: SandboxDep, caller: PrincipalDep, body: AccountIn) -> dict[str, Any]:
    """Create a destination account; its secret fields are encrypted and never returned. Local folders it
    names must lie inside the folders the operator allows (403 otherwise). An account of the campaign engine's
    destination needs Manage Campaign too (in every sandbox): it links the sandbox to the home's instance."""
    require_for_account(caller, body.destination, sandbox)
    with ws.catalog.session() as session:
        roots = AllowedRoots.for_caller(ws.settings, caller)
        record = destinations.create_account(session, SecretBox(ws.settings.home), sandbox, body.name,
                                             body.destination, body.config, roots, body.marketingActions)  # fmt: skip
        return destinations.account_document(record)


@router.get("/destinations/accounts/{name}", response_model=AccountOut)
def get_account(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return destinations.get_account(session, sandbox, name)


@router.post("/destinations/accounts/{name}/test", response_model=AccountCheck)
def post_account_test(ws: WorkspaceDep, sandbox: SandboxDep, caller: PrincipalDep, name: str) -> dict[str, Any]:
    """Test a destination account step by step; a failed step says what to do."""
    with ws.catalog.session() as session:
        return destinations.test_account(session, SecretBox(ws.settings.home), sandbox, name,
                                         AllowedRoots.for_caller(ws.settings, caller))  # fmt: skip


@router.put("/destinations/accounts/{name}/marketing-actions", response_model=AccountOut)
def put_account_actions(ws: WorkspaceDep, sandbox: SandboxDep, name: str, body: AccountActionsIn) -> dict[str, Any]:
    """Set the marketing actions of an account (replacing those it had); refused with the violations (403
    `GOVERNANCE-0450-403`, nothing changed) when a flow through it would then break an enabled policy."""
    with ws.catalog.session() as session:
        return destinations.set_account_actions(session, sandbox, name, body.marketingActions)


@router.delete("/destinations/accounts/{name}", status_code=204)
def delete_account(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> None:
    """Delete an account that no activation flow uses (409 otherwise)."""
    with ws.catalog.session() as session:
        destinations.delete_account(session, sandbox, name)


@router.get("/destinations/{destination}", response_model=DestinationOut)
def get_destination(destination: str) -> dict[str, Any]:
    return destinations.destination_spec(destination).to_document()


@router.get("/activations", response_model=list[FlowOut])
def get_flows(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return destinations.list_flows(session, sandbox)


@router.post("/activations", response_model=FlowOut, status_code=201)
def post_flow(ws: WorkspaceDep, sandbox: SandboxDep, body: FlowBody) -> dict[str, Any]:
    """Create an activation flow: `name`, `account`, and its definition (audiences, mapping, files...), checked
    whole: every problem is reported at once with its path."""
    document = dict(body)
    name, account = document.pop("name", None), document.pop("account", None)
    if not isinstance(name, str) or not isinstance(account, str):
        raise InvalidInputError("an activation flow needs `name` and `account` (strings)", code="ACTIVATION-0402-400")
    with ws.catalog.session() as session:
        record = destinations.create_flow(session, sandbox, name, account, document)
        return destinations.get_flow(session, sandbox, record.name)


@router.get("/activations/runs/{run_id}", response_model=RunOut)
def get_run(ws: WorkspaceDep, sandbox: SandboxDep, run_id: str) -> dict[str, Any]:
    return destinations.get_run(ws, sandbox, run_id)


@router.get("/activations/{name}", response_model=FlowOut)
def get_flow(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return destinations.get_flow(session, sandbox, name)


@router.delete("/activations/{name}", status_code=204)
def delete_flow(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> None:
    """Delete a flow with its runs (files already delivered stay where they landed)."""
    destinations.delete_flow(ws, sandbox, name)


@router.post("/activations/{name}/enable", response_model=FlowOut)
def post_enable(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        destinations.set_state(session, sandbox, name, "enabled")
        return destinations.get_flow(session, sandbox, name)


@router.post("/activations/{name}/disable", response_model=FlowOut)
def post_disable(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        destinations.set_state(session, sandbox, name, "disabled")
        return destinations.get_flow(session, sandbox, name)


@router.post("/activations/{name}/runs", response_model=RunOut, status_code=201)
async def post_run(
    ws: WorkspaceDep,
    sandbox: SandboxDep,
    name: str,
    dry_run: Annotated[bool, Query(alias="dryRun", description="Count what would go out, send nothing")] = False,
) -> dict[str, Any]:
    """Run a flow now and answer when it ends (409 while another run of it is under way)."""
    return await run_in_threadpool(destinations.run_activation, ws, sandbox, name, dry_run=dry_run)


@router.get("/activations/{name}/runs", response_model=list[RunOut])
def get_runs(
    ws: WorkspaceDep, sandbox: SandboxDep, name: str, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    """A flow's runs, newest first."""
    return destinations.list_runs(ws, sandbox, name, limit)


class DeadLetterOut(BaseModel):
    id: str
    flowId: str
    runId: str | None
    request: dict[str, Any] = Field(description="Method, URL, headers without credentials, body, profile ids")
    profiles: int
    answer: dict[str, Any] | None = Field(description="The last answer (status, start of its body) or the error")
    attempts: int
    createdAt: str
    replayedAt: str | None
    replayStatus: str | None = Field(description="`delivered` or `failed` once replayed")


class ReplayOut(BaseModel):
    flow: str
    replayed: int
    delivered: int
    failed: int
    letters: list[dict[str, Any]]


@router.get("/activations/{name}/deadletters", response_model=list[DeadLetterOut])
def get_dead_letters(
    ws: WorkspaceDep, sandbox: SandboxDep, name: str, pending: Annotated[bool, Query()] = False
) -> list[dict[str, Any]]:
    """Requests a streaming destination never accepted, oldest first (`pending`: not yet replayed with success)."""
    with ws.catalog.session() as session:
        return destinations.list_dead_letters(session, sandbox, name, pending=pending)


@router.post("/activations/{name}/deadletters/replay", response_model=ReplayOut)
async def post_replay(
    ws: WorkspaceDep,
    sandbox: SandboxDep,
    caller: PrincipalDep,
    name: str,
    letter: Annotated[str | None, Query(description="One dead letter; default: every pending one")] = None,
) -> dict[str, Any]:
    """Send a flow's dead letters again, oldest first; each is marked delivered or failed."""

    def replay() -> dict[str, Any]:
        with ws.catalog.session() as session:
            return destinations.replay_dead_letters(session, SecretBox(ws.settings.home), sandbox, name, letter,
                                                    AllowedRoots.for_caller(ws.settings, caller))  # fmt: skip

    return await run_in_threadpool(replay)
