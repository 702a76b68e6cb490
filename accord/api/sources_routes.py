"""REST routes of the sources context: connectors, connections, dataflows, runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from accord import sources
from accord.access import AllowedRoots
from accord.api.deps import PrincipalDep, SandboxDep, WorkspaceDep, principal
from accord.api.models import ERROR_RESPONSES
from accord.sources import SecretBox

router = APIRouter(dependencies=[Depends(principal)], responses=ERROR_RESPONSES, tags=["sources"])


class ConnectorOut(BaseModel):
    id: str
    name: str
    category: str
    description: str
    config: dict[str, Any] = Field(description="Configuration as JSON Schema; secret fields carry `secret: true`")
    source: dict[str, Any] = Field(description="What a dataflow chooses within a connection, as JSON Schema")
    secretFields: list[str]
    capabilities: dict[str, bool]


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    connector: str
    config: dict[str, Any]


class ConnectionOut(BaseModel):
    id: str
    name: str
    connector: str
    config: dict[str, Any] = Field(description="Settings without their secrets")
    secretFields: list[str] = Field(description="Secret settings that are stored (encrypted), never their values")
    createdAt: str


class CheckStepOut(BaseModel):
    step: str
    ok: bool
    message: str
    hint: str | None = None


class ConnectionCheck(BaseModel):
    connection: str
    ok: bool
    steps: list[CheckStepOut]


class DataflowOut(BaseModel):
    id: str
    name: str
    connection: str | None
    dataset: str | None
    source: dict[str, Any]
    mapping: dict[str, Any] | None
    readOptions: dict[str, Any]
    schedule: dict[str, Any]
    backfill: bool
    enabled: bool
    errorThreshold: float | None
    state: dict[str, Any]
    running: str | None
    createdAt: str


class DataflowPatch(BaseModel):
    """Any of these; the connection and dataset of a dataflow cannot change."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    source: dict[str, Any] | None = None
    mapping: dict[str, Any] | None = None
    readOptions: dict[str, Any] | None = None
    schedule: dict[str, Any] | None = None
    backfill: bool | None = None
    errorThreshold: float | None = None


class RunOut(BaseModel):
    id: str
    dataflow: str | None
    status: str = Field(description="queued, running, success, partial or failed")
    trigger: str
    recordsReceived: int
    recordsIngested: int
    recordsFailed: int
    files: int
    bytes: int
    durationSeconds: float | None
    ingestionRate: float | None = Field(description="Records ingested per second")
    batches: list[str]
    errors: list[dict[str, Any]]
    startedAt: str | None
    completedAt: str | None


DataflowBody = Annotated[
    dict[str, Any],
    Body(
        examples=[
            {
                "name": "crm-files",
                "connection": "landing",
                "dataset": "crm",
                "source": {"path": "crm", "glob": "*.csv.gz"},
                "mapping": {"mappings": [{"source": "email", "destination": "personalEmail.address"}]},
                "schedule": {"frequency": "hour", "interval": 1},
                "backfill": True,
            }
        ]
    ),
]


@router.get("/connectors", response_model=list[ConnectorOut])
def get_connectors() -> list[dict[str, Any]]:
    return [spec.to_document() for spec in sources.list_connectors()]


@router.get("/connectors/{connector}", response_model=ConnectorOut)
def get_connector(connector: str) -> dict[str, Any]:
    return sources.connector_spec(connector).to_document()


@router.get("/connections", response_model=list[ConnectionOut])
def get_connections(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return sources.list_connections(session, sandbox)


@router.post("/connections", response_model=ConnectionOut, status_code=201)
def post_connection(ws: WorkspaceDep, sandbox: SandboxDep, caller: PrincipalDep, body: ConnectionIn) -> dict[str, Any]:
    """Create a connection; its secret fields are encrypted and never returned. Local folders and files it
    names must lie inside the folders the operator allows (403 otherwise), and for a token of one sandbox
    inside the folder of that sandbox's name in them."""
    with ws.catalog.session() as session:
        record = sources.create_connection(
            session,
            SecretBox(ws.settings.home),
            sandbox,
            body.name,
            body.connector,
            body.config,
            AllowedRoots.for_caller(ws.settings, caller),
        )
        return sources.connection_document(record)


@router.get("/connections/{name}", response_model=ConnectionOut)
def get_connection(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    """A connection's settings, and the names (never the values) of the secrets it holds."""
    with ws.catalog.session() as session:
        return sources.get_connection(session, sandbox, name)


@router.post("/connections/{name}/test", response_model=ConnectionCheck)
def post_connection_test(ws: WorkspaceDep, sandbox: SandboxDep, caller: PrincipalDep, name: str) -> dict[str, Any]:
    """Test a connection step by step; a failed step says what to do."""
    with ws.catalog.session() as session:
        return sources.test_connection(
            session, SecretBox(ws.settings.home), sandbox, name, AllowedRoots.for_caller(ws.settings, caller)
        )


@router.delete("/connections/{name}", status_code=204)
def delete_connection(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> None:
    with ws.catalog.session() as session:
        sources.delete_connection(session, sandbox, name)


@router.get("/dataflows", response_model=list[DataflowOut])
def get_dataflows(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return sources.list_dataflows(session, sandbox)


@router.post("/dataflows", response_model=DataflowOut, status_code=201)
def post_dataflow(ws: WorkspaceDep, sandbox: SandboxDep, body: DataflowBody) -> dict[str, Any]:
    with ws.catalog.session() as session:
        record = sources.create_dataflow(session, sandbox, body)
        return sources.dataflow_document(session, record)


@router.get("/dataflows/{name}", response_model=DataflowOut)
def get_dataflow(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    from accord.catalog import resolve_sandbox

    with ws.catalog.session() as session:
        return sources.dataflow_document(
            session, sources.find_dataflow(session, resolve_sandbox(session, sandbox).id, name)
        )


@router.patch("/dataflows/{name}", response_model=DataflowOut)
def patch_dataflow(ws: WorkspaceDep, sandbox: SandboxDep, name: str, body: DataflowPatch) -> dict[str, Any]:
    """Change a dataflow: enable or disable it, or change its source choice, mapping, schedule..."""
    with ws.catalog.session() as session:
        return sources.update_dataflow(session, sandbox, name, body.model_dump(exclude_none=True))


@router.delete("/dataflows/{name}", status_code=204)
def delete_dataflow(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> None:
    """Delete a dataflow; the data it ingested stays in its dataset."""
    with ws.catalog.session() as session:
        sources.delete_dataflow(session, sandbox, name)


@router.post("/dataflows/{name}/runs", response_model=RunOut, status_code=201)
async def post_run(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    """Run a dataflow now and return its run record (409 if a run is under way)."""
    return await run_in_threadpool(sources.run_dataflow, ws, sandbox, name)


@router.get("/runs", response_model=list[RunOut])
def get_runs(
    ws: WorkspaceDep, sandbox: SandboxDep, dataflow: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return sources.list_runs(session, sandbox, dataflow, limit)


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(ws: WorkspaceDep, sandbox: SandboxDep, run_id: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return sources.get_run(session, sandbox, run_id)


class SubscriptionOut(BaseModel):
    id: str
    event: str = Field(
        description="run.start|success|failure|delay for dataflows, "
        "activation.start|success|failure|delay|skipped for activation flows"
    )
    dataflow: str | None
    activation: str | None
    webhook: str | None = Field(description="Host of the webhook (the URL itself is not returned)")
    delayMinutes: int | None
    skipRatePercent: float | None = Field(description="activation.skipped: raised above this share left out")
    enabled: bool
    createdAt: str


class AlertOut(BaseModel):
    id: str
    event: str
    dataflow: str | None
    activation: str | None
    runId: str | None
    message: str
    delivery: str = Field(description="none, pending, delivered or failed")
    attempts: int
    lastError: str | None
    createdAt: str


SubscriptionBody = Annotated[
    dict[str, Any],
    Body(
        examples=[
            {"event": "run.failure", "dataflow": "crm-files", "webhookUrl": "https://hooks.example.com/accord"},
            {"event": "run.delay", "delayMinutes": 150},
            {"event": "activation.skipped", "activation": "buyers-out", "skipRatePercent": 5},
        ]
    ),
]


@router.post("/alerts/subscriptions", response_model=SubscriptionOut, status_code=201)
def post_subscription(ws: WorkspaceDep, sandbox: SandboxDep, body: SubscriptionBody) -> dict[str, Any]:
    """Subscribe to run start, success, failure, delay (no success for `delayMinutes`) of dataflows (`run.*`) or
    activation flows (`activation.*`), or to activation runs that left out more than `skipRatePercent` (1)."""
    from accord.sources.alerts import subscribe

    with ws.catalog.session() as session:
        return subscribe(session, sandbox, body)


@router.get("/alerts/subscriptions", response_model=list[SubscriptionOut])
def get_subscriptions(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    from accord.sources.alerts import list_subscriptions

    with ws.catalog.session() as session:
        return list_subscriptions(session, sandbox)


@router.get("/alerts", response_model=list[AlertOut])
def get_alerts(
    ws: WorkspaceDep, sandbox: SandboxDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """Alerts raised, newest first, with their delivery status."""
    from accord.sources.alerts import list_alerts

    with ws.catalog.session() as session:
        return list_alerts(session, sandbox, limit)
