"""Request dependencies: the workspace, the caller (by API token) and the sandbox it works in.

Every router depends on `principal`, which also settles the sandbox: a request names it in
`x-sandbox-name` (default: the token's own sandbox, else `prod`), and a token scoped to another
sandbox is refused with 403 before any route runs. No route can skip that check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from accord.access import Principal, authenticate, authorize_sandbox, require_admin
from accord.workspace import Workspace

bearer = HTTPBearer(auto_error=False, description="An API token from `accord init` or `accord token create`.")


def workspace(request: Request) -> Workspace:
    return request.app.state.workspace  # type: ignore[no-any-return]


def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_sandbox_name: Annotated[
        str | None, Header(description="Sandbox to work in; default: the token's sandbox, else prod.")
    ] = None,
) -> Principal:
    caller = authenticate(workspace(request).catalog, credentials.credentials if credentials else None)
    request.state.sandbox = authorize_sandbox(caller, x_sandbox_name, workspace(request).settings.sandbox)
    return caller


def sandbox(request: Request, _caller: Annotated[Principal, Depends(principal)]) -> str:
    """The sandbox the request works in, once the caller's token has been checked against it."""
    return request.state.sandbox  # type: ignore[no-any-return]


def admin(caller: Annotated[Principal, Depends(principal)]) -> Principal:
    """The caller, if it holds an admin token (sandboxes and tokens are an admin's to manage)."""
    require_admin(caller, "manage sandboxes")
    return caller


WorkspaceDep = Annotated[Workspace, Depends(workspace)]
PrincipalDep = Annotated[Principal, Depends(principal)]
SandboxDep = Annotated[str, Depends(sandbox)]
AdminDep = Annotated[Principal, Depends(admin)]
