"""The Segment spec's tracking API over Segment inlets, so that Segment's and RudderStack's client libraries
send to Accord unchanged: `POST /v1/identify`, `/v1/track`, `/v1/page`, `/v1/screen`, `/v1/group`,
`/v1/alias`, `/v1/batch` and `/v1/import`, the inlet's write key as the basic-auth user name.

These routes authenticate by that key in the service, not by an API token (the request gate lets
them through, bounding their bodies)."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from accord.api.models import ERROR_RESPONSES
from accord.streaming.collection import read_body
from accord.streaming.segment_spec import CALL_TYPES
from accord.streaming.service import StreamingService

PREFIX = "/v1/"
router = APIRouter(responses=ERROR_RESPONSES, tags=["streaming"])


class SegmentAnswer(BaseModel):
    success: bool = Field(description="true: every call of the request is in the event log")


def write_key(request: Request) -> str | None:
    """The basic-auth user name of the request (its password, empty for Segment's clients, is not read)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, _password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user or None


async def _collect(request: Request, kind: str | None) -> dict[str, Any]:
    service: StreamingService = request.app.state.streaming
    raw = await read_body(request.body, service.workspace.settings.streaming_body_seconds)
    key = write_key(request)
    # the checks and the wait for the log's commit run off the event loop, in the write key's turn
    # (`turns.py`): other requests go on meanwhile
    async with service.turns.turn(f"key:{key}"):
        return await asyncio.to_thread(service.collect_calls, key, kind, raw, request.headers.get("content-encoding"),
                                       request.headers.get("content-type"))  # fmt: skip


def _one_call(kind: str) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    async def post_call(request: Request) -> dict[str, Any]:
        return await _collect(request, kind)

    post_call.__name__ = f"post_segment_{kind}"
    post_call.__doc__ = (f"One Segment `{kind}` call (the body is the call; its `type` is `{kind}`); taken once "
                         "it is in the event log. The write key is the basic-auth user name.")  # fmt: skip
    return post_call


for _kind in CALL_TYPES:
    router.add_api_route(f"{PREFIX}{_kind}", _one_call(_kind), methods=["POST"], response_model=SegmentAnswer,
                         summary=f"Segment {_kind} call")  # fmt: skip


@router.post(f"{PREFIX}batch", response_model=SegmentAnswer)
async def post_segment_batch(request: Request) -> dict[str, Any]:
    """`{"batch": [...calls], "sentAt", "context"}`, at most 500 KB: taken whole, or refused whole (400) naming
    each bad call's place (`batch[3]`) and field. The write key is the basic-auth user name."""
    return await _collect(request, None)


@router.post(f"{PREFIX}import", response_model=SegmentAnswer)
async def post_segment_import(request: Request) -> dict[str, Any]:
    """Historical calls, as `/v1/batch` takes them (Segment's import endpoint)."""
    return await _collect(request, None)
