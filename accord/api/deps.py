"""Request dependencies: the workspace, the caller (by API token) and the sandbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from accord.access import Principal, authenticate
from accord.workspace import Workspace

bearer = HTTPBearer(auto_error=False, description="An API token from `accord init` or `accord token create`.")


def workspace(request: Request) -> Workspace:
    return request.app.state.workspace  # type: ignore[no-any-return]


def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    return authenticate(workspace(request).catalog, credentials.credentials if credentials else None)


def sandbox(
    request: Request,
    x_sandbox_name: Annotated[str | None, Header(description="Sandbox to work in; default prod.")] = None,
) -> str:
    return x_sandbox_name or workspace(request).settings.sandbox


WorkspaceDep = Annotated[Workspace, Depends(workspace)]
PrincipalDep = Annotated[Principal, Depends(principal)]
SandboxDep = Annotated[str, Depends(sandbox)]
