"""Request dependencies: the workspace, the caller (by API token, or a person's session cookie), the sandbox it
works in, and the check of what the route needs.

Every router depends on `principal`, which settles the sandbox (a request names it in `x-sandbox-name`;
default: the token's own sandbox, else the one its user holds roles in, else `prod`) and then checks the
permission that `accord.access.ROUTES` declares for the route. A route the table does not declare is
refused to everyone: no route can skip the check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from accord.access import Principal, authenticate, authorize_sandbox, require, route_requirement
from accord.access.limits import FailureLimiter
from accord.access.sessions import CSRF_COOKIE, SESSION_COOKIE, SignedIn, check_csrf, session_principal, sign_in
from accord.errors import AuthenticationError, PermissionDeniedError
from accord.settings import Settings
from accord.workspace import Workspace

bearer = HTTPBearer(auto_error=False, description="An API token from `accord init` or `accord token create`.")
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="A person's session, from `POST /auth/login` (changes need `X-CSRF-Token`).",
)


def workspace(request: Request) -> Workspace:
    return request.app.state.workspace  # type: ignore[no-any-return]


def identify(ws: Workspace, limiter: FailureLimiter, token: str | None, session: str | None, address: str) -> Principal:
    """Who calls: by API token, else by a person's session cookie. A wrong one counts against the caller's
    address, which is answered 429 instead of 401 once it failed too often in the last minute; a valid one
    always passes, and a request with neither is not counted."""
    try:
        if token or not session:
            return authenticate(ws.catalog, token)
        return session_principal(ws.catalog, session, idle_minutes=ws.settings.session_idle_minutes)
    except AuthenticationError:
        if token or session:
            limiter.failed(address)
        raise


def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: Annotated[str | None, Depends(session_cookie)],
    x_sandbox_name: Annotated[
        str | None, Header(description="Sandbox to work in; default: the token's sandbox, else prod.")
    ] = None,
    x_csrf_token: Annotated[
        str | None, Header(description="A session's CSRF token: needed by changes made through a session cookie.")
    ] = None,
) -> Principal:
    caller: Principal | None = getattr(request.state, "caller", None)  # a change: the gate identified it
    if caller is None:
        address = request.client.host if request.client else "?"
        caller = identify(workspace(request), request.app.state.limiter,
                          credentials.credentials if credentials else None, session, address)  # fmt: skip
        request.state.caller = caller  # the activity log names who called, refused or not
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        check_csrf(caller, x_csrf_token)
    request.state.sandbox = authorize_sandbox(caller, x_sandbox_name, workspace(request).settings.sandbox)
    route = request.scope.get("route")
    path = getattr(route, "path_format", None)
    needed = route_requirement(request.method, path) if path is not None else None
    if needed is None:
        raise PermissionDeniedError(f"{request.method} {path} declares no permission in accord/access/requirements.py:"
                                    " refused to everyone", code="ACCESS-0406-403")  # fmt: skip
    require(caller, needed, request.state.sandbox)
    return caller


def sandbox(request: Request, _caller: Annotated[Principal, Depends(principal)]) -> str:
    """The sandbox the request works in, once the caller's token has been checked against it."""
    return request.state.sandbox  # type: ignore[no-any-return]


async def signed_in(request: Request, ws: Workspace, user: str, password: str) -> SignedIn:
    """A person signed in (`accord.access.sign_in`, in a worker thread: bcrypt is slow), the attempt counted
    against the caller's address as it begins and forgiven when it succeeds (attempts sent together are bounded
    too); the address's bound is checked by the caller before it reads the form or body."""
    address = request.client.host if request.client else "?"
    limiter = request.app.state.limiter
    agent = request.headers.get("user-agent", "")[:120]
    limiter.failed(address)
    signed = await run_in_threadpool(sign_in, ws.catalog, user, password, hours=ws.settings.session_hours,
                                     origin=f"{address} {agent}")  # fmt: skip
    limiter.forgive(address)
    return signed


def set_session_cookies(answer: Response, signed: SignedIn, settings: Settings) -> None:
    """The session cookie (HttpOnly) and the CSRF cookie (readable by the page, which sends it back)."""
    secure, age = settings.session_cookie_secure, settings.session_hours * 3600
    answer.set_cookie(SESSION_COOKIE, signed.secret, max_age=age, httponly=True, secure=secure, samesite="strict")
    answer.set_cookie(CSRF_COOKIE, signed.csrf, max_age=age, httponly=False, secure=secure, samesite="strict")


WorkspaceDep = Annotated[Workspace, Depends(workspace)]
PrincipalDep = Annotated[Principal, Depends(principal)]
SandboxDep = Annotated[str, Depends(sandbox)]
