"""The activity log's adapter: each request that reached a route is recorded as its answer starts.

What to record is decided by `accord.access.route_activity` (reads and the events the collection URLs take
in are not changes); this only collects what the request carried and how it was answered."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.access.activity import MAX_BODY, NOT_LOGGED, record, route_activity
from accord.workspace import Workspace

log = logging.getLogger(__name__)


class ActivityRecorder:
    def __init__(self, app: ASGIApp, workspace: Workspace) -> None:
        self.app, self.workspace = app, workspace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS") or \
                scope["path"].startswith(NOT_LOGGED):  # fmt: skip
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        kept, size = bytearray(), 0

        async def receiving() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                size += len(chunk)
                if len(kept) <= MAX_BODY and not content_type.startswith("multipart/"):
                    kept.extend(chunk[: MAX_BODY + 1 - len(kept)])
            return message

        recorded = False

        async def sending(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start" and not recorded:
                # before the answer leaves: a caller that reads the log next finds its change there
                recorded = True
                await self._record(scope, headers, bytes(kept), size, content_type, message["status"])
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        finally:
            if not recorded:  # the route failed without an answer
                await self._record(scope, headers, bytes(kept), size, content_type, 500)

    async def _record(self, scope: Scope, headers: dict[bytes, bytes], body: bytes, size: int, content_type: str,
                      status: int) -> None:  # fmt: skip
        state = scope.get("state") or {}
        caller, route = state.get("caller"), scope.get("route")
        path = getattr(route, "path_format", None)
        if caller is None or path is None:  # refused before a route knew who called: nothing to say who
            return
        if state.get("unchanged"):  # a workspace form's step that changed nothing (a wizard's Next)
            return
        sandbox = state.get("sandbox") or headers.get(b"x-sandbox-name", b"").decode("latin-1")[:64] or None
        client = scope.get("client")
        agent = headers.get(b"user-agent", b"").decode("latin-1")[:120]
        origin = f"{client[0] if client else '?'} {agent}".strip()
        entry = route_activity(scope["method"], path, dict(scope.get("path_params") or {}), body, size, content_type,
                               status, caller, sandbox, origin, refused=bool(state.get("refused")))  # fmt: skip
        if entry is None:
            return
        try:
            await run_in_threadpool(record, self.workspace.catalog, entry)
        except Exception as exc:  # the change is done: its failure to be logged is said, and the answer still sent
            log.error("the activity log could not record %s %s: %r", scope["method"], path, exc)
