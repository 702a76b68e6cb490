"""REST routes of the streaming context: inlets (managed with a token), their collection URLs, and stats.

The collection URLs authenticate in the service, not in the router's dependency: a public inlet takes
messages without a token, every other inlet needs one of its sandbox."""

from __future__ import annotations

import time
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from accord.api.deps import SandboxDep, WorkspaceDep, bearer, principal
from accord.api.models import ERROR_RESPONSES, ErrorBody
from accord.streaming import inlets
from accord.streaming.collection import (
    MAX_BATCH_BYTES,
    MAX_BATCH_MESSAGES,
    MAX_MESSAGE_BYTES,
    read_body,
)
from accord.streaming.segment_inlets import create_segment_inlet
from accord.streaming.service import StreamingService

router = APIRouter(dependencies=[Depends(principal)], responses=ERROR_RESPONSES, tags=["streaming"])
collection = APIRouter(responses=ERROR_RESPONSES, tags=["streaming"])


class InletIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    kind: Literal["xdm", "segment"] = Field(default="xdm", description="`xdm`: the reference product's messages "
                                            "at /collection; `segment`: the Segment spec's calls at /v1")  # fmt: skip
    dataset: str | None = Field(default=None, min_length=1, max_length=128,
                                description="The dataset its messages go to (an `xdm` inlet)")  # fmt: skip
    public: bool = Field(default=False, description="Take messages without a token (only into its own dataset)")
    profileDataset: str | None = Field(default=None, description="A `segment` inlet's dataset of profile records "
                                       "(identify, group, alias)")  # fmt: skip
    eventDataset: str | None = Field(default=None, description="A `segment` inlet's dataset of experience events "
                                     "(track, page, screen)")  # fmt: skip
    mapping: dict[str, Any] | None = Field(default=None, description="A `segment` inlet's mapping (docs/streaming"
                                           ".md, \"Segment-spec API\"); the default when left out")  # fmt: skip

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> InletIn:
        if self.kind == "segment":
            if self.dataset is not None or self.public or not (self.profileDataset and self.eventDataset):
                raise ValueError("a segment inlet takes `profileDataset` and `eventDataset` (not `dataset` or "
                                 "`public`: its write key lets clients in)")  # fmt: skip
        elif self.dataset is None or self.profileDataset or self.eventDataset or self.mapping is not None:
            raise ValueError("an xdm inlet takes `dataset` (`profileDataset`, `eventDataset` and `mapping` are for a "
                             "segment inlet)")  # fmt: skip
        return self


class InletOut(BaseModel):
    id: str = Field(description="The id in its collection URLs")
    name: str
    kind: str
    dataset: str | None
    public: bool
    collectionUrl: str
    batchCollectionUrl: str
    created: str
    profileDataset: str | None = None
    eventDataset: str | None = None
    mapping: dict[str, Any] | None = None
    writeKey: str | None = Field(default=None, description="A `segment` inlet's write key: shown once, when made")


class CollectedOut(BaseModel):
    inletId: str
    status: int
    xactionId: str | None = None
    messageId: str | None = None
    receivedTimeMs: int | None = None
    duplicate: bool | None = Field(default=None, description="true: a message with this id was taken already")
    message: str | None = Field(default=None, description="Why a message of a batch was refused")


class RowError(BaseModel):
    code: str
    path: str
    message: str


class MessageAnswer(BaseModel):
    status: int = Field(description="200 taken; 400, 403 or 413 refused (`message` says why)")
    errors: list[RowError] | None = Field(default=None, description="With syncValidation: what does not fit")
    xactionId: str | None = None
    messageId: str | None = None
    receivedTimeMs: int | None = None
    duplicate: bool | None = None
    message: str | None = None


class BatchCollectedOut(BaseModel):
    inletId: str
    responses: list[MessageAnswer] = Field(description="One answer per message, in their order")


class StreamingStatsOut(BaseModel):
    accepted: int = Field(description="Messages this server took since it started")
    refused: int = Field(description="Messages of batches refused, and requests refused whole (one each)")
    logged: int = Field(description="Position of the newest message of the event log")
    processedPosition: int
    lagMessages: int
    lagSeconds: float = Field(description="How long the oldest message not yet processed has waited (0: none)")
    processorRunning: bool
    processed: int
    deduplicated: int
    invalid: int = Field(description="Records left out of the lake (validation, or the schema contract)")
    batches: int
    profilesChanged: int
    membershipChanges: int
    evolvedFields: int = Field(description="Fields the schema contract `evolve` added to datasets' schemas")
    discardedValues: int = Field(description="Records taken without values that did not fit (`discard_value`)")
    ackMilliseconds: dict[str, float | None] = Field(
        description="p50 and p99 of the time from a request's arrival to its answer, for the newest requests"
    )
    endToEndSeconds: dict[str, float | None] = Field(
        description="p50 and p99 of the time from a message's acceptance to its processing, for the newest"
    )
    processes: int = Field(description="Processes of the home whose figures these are (`accord serve`, workers)")


SYNC = "Validate against the dataset's schema before answering (400 with the batch pipeline's row errors)"


def service(request: Request) -> StreamingService:
    return request.app.state.streaming  # type: ignore[no-any-return]


@router.post("/streaming/inlets", response_model=InletOut, status_code=201, response_model_exclude_none=True)
def post_inlet(ws: WorkspaceDep, sandbox: SandboxDep, body: InletIn) -> dict[str, Any]:
    """Make a streaming inlet bound to a dataset; its id is the one in its collection URLs."""
    with ws.catalog.session() as session:
        if body.kind == "segment":
            assert body.profileDataset and body.eventDataset  # the model's check
            return create_segment_inlet(session, sandbox, body.name, body.profileDataset, body.eventDataset,
                                        body.mapping)  # fmt: skip
        assert body.dataset is not None
        return inlets.create_inlet(session, sandbox, body.name, body.dataset, public=body.public)


@router.get("/streaming/inlets", response_model=list[InletOut])
def get_inlets(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    """The sandbox's streaming inlets."""
    with ws.catalog.session() as session:
        return inlets.list_inlets(session, sandbox)


@router.get("/streaming/inlets/{name}", response_model=InletOut)
def get_inlet(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    """One inlet, by name or id."""
    with ws.catalog.session() as session:
        return inlets.get_inlet(session, sandbox, name)


@router.delete("/streaming/inlets/{name}", status_code=204)
def delete_inlet(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> None:
    """Delete an inlet: its URLs answer 404 within 2 seconds (what it took already is processed)."""
    with ws.catalog.session() as session:
        inlets.delete_inlet(session, sandbox, name)


@router.get("/streaming/stats", response_model=StreamingStatsOut)
def get_stats(request: Request, _sandbox: SandboxDep) -> dict[str, Any]:
    """What the streaming path took in and processed, and how far the processor lags behind the log."""
    return service(request).stats()


def _json(answer: dict[str, Any], status: int) -> Response:
    """The service's answer written as it is (orjson): no model validates it again, on the hot path."""
    return Response(orjson.dumps(answer), status_code=status, media_type="application/json")


async def _collect(request: Request, inlet_id: str, batch: bool) -> Any:
    started = time.perf_counter()
    streaming = service(request)
    credentials = await bearer(request)
    token = credentials.credentials if credentials else None
    sync_validation = _flag(request.query_params.get("syncValidation"))
    # measured, and unzipped, once who posts is known (`StreamingService.prepare`)
    raw = await read_body(request.body, streaming.workspace.settings.streaming_body_seconds)
    sandbox, content_type = request.headers.get("x-sandbox-name"), request.headers.get("content-type")
    # in the inlet's turn (`turns.py`): other requests go on meanwhile
    async with streaming.turns.turn(inlet_id):
        answer = await streaming.take(inlet_id, token, sandbox, raw, batch, sync_validation, content_type,
                                      encoding=request.headers.get("content-encoding"))  # fmt: skip
    streaming.acks.append(time.perf_counter() - started)
    return answer


_BOOLEAN = TypeAdapter(bool)


def _flag(value: str | None) -> bool:
    """`syncValidation` read as FastAPI reads a boolean query parameter (pydantic's), refused as it would be."""
    if value is None:
        return False
    try:
        return _BOOLEAN.validate_python(value)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("query", "syncValidation")} for e in exc.errors()]) from None


# The collection URLs read their token, header and query parameter themselves: FastAPI's dependency solving took
# as long as the rest of a single message's handling. The OpenAPI document says the same as declared ones would.
_MESSAGE_SCHEMA = {
    "type": "object",
    "required": ["body"],
    "properties": {
        "header": {
            "type": "object",
            "description": "`msgId` (else `xdmEntity._id`), `datasetId`, `schemaRef`; `imsOrgId` is ignored",
        },
        "body": {
            "type": "object",
            "required": ["xdmEntity"],
            "properties": {
                "xdmMeta": {"type": "object"},
                "xdmEntity": {"type": "object", "description": "The record or event, in its dataset's schema"},
            },
        },
    },
}


def _openapi(body: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "security": [{"HTTPBearer": []}, {}],
        "parameters": [
            {"name": "syncValidation", "in": "query", "required": False, "schema": {"type": "boolean"},
             "description": SYNC},
            {"name": "x-sandbox-name", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "The sandbox (the token's own by default)"},
        ],
        "requestBody": {"required": True, "description": description,
                        "content": {"application/json": {"schema": body}}},
    }  # fmt: skip


_COLLECTION_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "Invalid input: what is wrong and where; a message that synchronous validation refuses lists its "
        "problems in `details.errors` (`code`, `path`, `message`)",
        408: "The body did not all come within `streaming_body_seconds`",
        415: "Not JSON (`Content-Type`)",
        429: "The processor lags past its bound, or the inlet's queue is full: send again after `Retry-After`",
        503: "The event log does not answer (`STREAM-0504-503`): send again, with the same ids",
    }.items()
}


@collection.post("/collection/{inlet_id}", response_model=CollectedOut, response_model_exclude_none=True,
                 responses=_COLLECTION_ERRORS,
                 openapi_extra=_openapi(_MESSAGE_SCHEMA, f"One message, up to {MAX_MESSAGE_BYTES:,} bytes (gzip "
                                        "taken)"))  # fmt: skip
async def post_message(request: Request, inlet_id: str) -> Any:
    """One message in the reference product's format (`header`, `body.xdmEntity`); taken once it is in the
    event log. A token of the inlet's sandbox is needed unless the inlet is public."""
    return _json(await _collect(request, inlet_id, batch=False), 200)


@collection.post("/collection/batch/{inlet_id}", response_model=BatchCollectedOut, status_code=207,
                 responses=_COLLECTION_ERRORS,
                 openapi_extra=_openapi({"type": "object", "required": ["messages"], "properties": {
                     "messages": {"type": "array", "items": _MESSAGE_SCHEMA, "maxItems": MAX_BATCH_MESSAGES}}},
                     f"Up to {MAX_BATCH_MESSAGES:,} messages, {MAX_BATCH_BYTES:,} bytes (gzip taken)"))  # fmt: skip
async def post_batch(request: Request, inlet_id: str) -> Any:
    """`{"messages": [...]}`: each message is taken or refused on its own (207, an answer per message)."""
    return _json(await _collect(request, inlet_id, batch=True), 207)
