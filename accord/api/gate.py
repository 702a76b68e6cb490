"""The gate in front of every request that carries a body: its token is checked, and its size bounded,
before a byte of the body is read.

FastAPI reads (and Starlette spools to disk) a request's body before any route dependency runs, so
that a caller without a token could otherwise send gigabytes before being told 401, and an upload
past `max_upload_bytes` would be received whole before 413. Here a body is refused on its declared
length, and one that grows past its limit without declaring it is cut off as it arrives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.access.limits import FailureLimiter
from accord.access.sessions import SESSION_COOKIE
from accord.api.deps import identify
from accord.api.errors import STATUS
from accord.errors import AccordError, TooLargeError
from accord.workspace import Workspace

MULTIPART_ALLOWANCE = 2**20
"""What an upload may carry beside its file: the form's other fields (a mapping) and its boundaries."""


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"code": "ACCORD-0413-413", "message": f"request body is larger than {limit:,} bytes",
                         "details": {"limit": limit}}, status_code=413)  # fmt: skip


class RequestGate:
    """Authenticate, then bound the body, of every request that has one (no public route takes one)."""

    def __init__(self, app: ASGIApp, workspace: Workspace, limiter: FailureLimiter, document_limit: int,
                 upload_limit: int,
                 hide: Callable[[Any], Any], public_posts: dict[str, int] | None = None,
                 self_authenticated: tuple[str, ...] = (), self_authenticated_limit: int = 0,
                 pages: tuple[str, Callable[[AccordError], Response]] | None = None) -> None:  # fmt: skip
        self.app, self.workspace, self.limiter, self.hide = app, workspace, limiter, hide
        self.document_limit, self.upload_limit = document_limit, upload_limit + MULTIPART_ALLOWANCE
        # POSTs under these paths authenticate by the signature in their path (the campaign engine's one-click
        # unsubscribe, which a mailbox provider sends without a token); their bodies are small
        self.public_posts = public_posts or {}  # each prefix with the largest body its POSTs may carry
        # POSTs under these paths are authenticated by their route before it reads the body (a streaming
        # inlet may be public on purpose); the body is bounded here all the same
        self.self_authenticated, self.self_authenticated_limit = self_authenticated, self_authenticated_limit
        # paths under this prefix are a person's pages: a refusal is answered as a page (or the sign-in form)
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        post = scope["method"] == "POST"
        public_limit = next((n for prefix, n in self.public_posts.items() if scope["path"].startswith(prefix)), None)
        public = post and public_limit is not None
        own = post and bool(self.self_authenticated) and scope["path"].startswith(self.self_authenticated)
        scheme, _, credentials = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        try:
            if not (public or own):
                session = cookie_parser(headers.get(b"cookie", b"").decode("latin-1")).get(SESSION_COOKIE)
                client = scope.get("client")
                caller = await run_in_threadpool(identify, self.workspace, self.limiter,
                                                 credentials.strip() if scheme.lower() == "bearer" else None, session,
                                                 client[0] if client else "?")  # fmt: skip
                scope.setdefault("state", {})["caller"] = caller  # the route's check takes it: identified once
        except AccordError as exc:
            if self._answered_as_page(scope, exc):
                await self.pages[1](exc)(scope, receive, send)  # type: ignore[index]
                return
            status = STATUS.get(exc.kind, 401)
            extra = {"Retry-After": str(exc.details["retryAfter"])} if "retryAfter" in exc.details else \
                {"WWW-Authenticate": exc.details.get("scheme", "Bearer")}  # fmt: skip
            response = JSONResponse(self.hide(exc.to_dict()), status_code=status, headers=extra)
            await response(scope, receive, send)
            return
        if public and public_limit is not None:
            limit = public_limit
        elif own:
            limit = self.self_authenticated_limit
        elif headers.get(b"content-type", b"").startswith(b"multipart/"):
            limit = self.upload_limit
        else:
            limit = self.document_limit
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, limit)(scope, receive, send)
            return
        received, answered = 0, False

        async def bounded() -> Message:
            nonlocal received, answered
            message = await receive()
            if message["type"] == "http.request" and not answered:
                received += len(message.get("body", b""))
                if received > limit:  # sent without a length, or longer than it said: cut off here
                    answered = True
                    await self._too_large(scope, limit)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def unless_answered(message: Message) -> None:
            if not answered:  # what the route says after the body was cut off is not sent
                await send(message)

        await self.app(scope, bounded, unless_answered)

    def _answered_as_page(self, scope: Scope, exc: AccordError) -> bool:
        return self.pages is not None and scope["path"].startswith(self.pages[0])

    def _too_large(self, scope: Scope, limit: int) -> Response:
        exc = TooLargeError(f"what was sent is larger than {limit:,} bytes", limit=limit)
        if self._answered_as_page(scope, exc):
            return self.pages[1](exc)  # type: ignore[index]
        return _too_large(limit)
