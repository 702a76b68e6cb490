"""REST routes of access control: who is calling, users and service accounts, roles and grants, API tokens,
and the activity log."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accord import access
from accord.access.sessions import CSRF_COOKIE, SESSION_COOKIE, sign_out
from accord.api.deps import (
    PrincipalDep,
    SandboxDep,
    WorkspaceDep,
    principal,
    session_cookie,
    set_session_cookies,
    signed_in,
)
from accord.api.models import ERROR_RESPONSES
from accord.catalog import SessionReader
from accord.errors import InvalidInputError, validation_problems

router = APIRouter(dependencies=[Depends(principal)], responses=ERROR_RESPONSES, tags=["access"])


class Me(BaseModel):
    user: str
    token: str
    sandbox: str
    tokenSandbox: str | None
    tokenRole: str | None
    permissions: list[str]


class Grant(BaseModel):
    role: str
    sandbox: str = Field(description="A sandbox's name, or `*` for every sandbox.")


class UserOut(BaseModel):
    id: str
    name: str
    email: str | None
    kind: Literal["person", "service"]
    hasPassword: bool
    disabled: bool
    createdAt: str
    roles: list[Grant]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64)
    email: str | None = Field(default=None, max_length=256)
    kind: Literal["person", "service"] = "person"
    password: str | None = Field(default=None, max_length=1024, description="People only; 10 characters or more.")


class RoleOut(BaseModel):
    name: str
    description: str
    builtIn: bool
    permissions: list[str]


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64)
    description: str = Field(default="", max_length=512)
    permissions: list[str] = Field(max_length=100, examples=[["View Segments", "Manage Segments"]])


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(max_length=64)
    sandbox: str | None = Field(default=None, max_length=64, description="Default: every sandbox.")


class GrantOut(BaseModel):
    role: str
    user: str
    sandbox: str
    revoked: bool = False


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=128)
    user: str | None = Field(default=None, max_length=64, description="Default: the home's owner, `admin`.")
    role: str | None = Field(default=None, max_length=64, description="Narrow the token to this role.")
    sandbox: str | None = Field(default=None, max_length=64, description="Narrow the token to this sandbox.")
    expires: str | None = Field(default=None, max_length=40, examples=["30d", "2027-01-31"])


class TokenOut(BaseModel):
    id: str
    name: str
    user: str | None
    role: str | None
    sandbox: str | None
    createdAt: str
    expiresAt: str | None
    revoked: bool
    token: str | None = Field(default=None, description="The token itself: in the answer to its creation only.")


@router.get("/me", response_model=Me)
def get_me(caller: PrincipalDep, sandbox: SandboxDep) -> dict[str, Any]:
    """Who the token is, and what it may do in the sandbox of the request."""
    held = caller.permissions_in(sandbox)
    return {"user": caller.user, "token": caller.name, "sandbox": sandbox, "tokenSandbox": caller.sandbox,
            "tokenRole": caller.role, "permissions": [p.value for p in access.Permission if p in held]}  # fmt: skip


@router.get("/users", response_model=list[UserOut])
def get_users(ws: WorkspaceDep) -> list[dict[str, Any]]:
    return access.list_users(ws.catalog)


@router.post("/users", response_model=UserOut, status_code=201)
def post_user(ws: WorkspaceDep, body: UserIn) -> dict[str, Any]:
    """Create a person or a service account; it holds nothing until a role is granted to it."""
    return access.create_user(ws.catalog, body.name, email=body.email, service=body.kind == "service",
                              password=body.password)  # fmt: skip


@router.get("/users/{name}", response_model=UserOut)
def get_user(ws: WorkspaceDep, name: str) -> dict[str, Any]:
    return access.show_user(ws.catalog, name)


@router.post("/users/{name}/disable", response_model=UserOut)
def post_disable(ws: WorkspaceDep, name: str) -> dict[str, Any]:
    """Disable a user: their tokens are refused from the next request."""
    return access.set_disabled(ws.catalog, name, True)


@router.post("/users/{name}/enable", response_model=UserOut)
def post_enable(ws: WorkspaceDep, name: str) -> dict[str, Any]:
    return access.set_disabled(ws.catalog, name, False)


@router.get("/roles", response_model=list[RoleOut])
def get_roles(ws: WorkspaceDep) -> list[dict[str, Any]]:
    """The built-in roles, then the custom ones."""
    return access.list_roles(ws.catalog)


@router.post("/roles", response_model=RoleOut, status_code=201)
def post_role(ws: WorkspaceDep, body: RoleIn) -> dict[str, Any]:
    return access.create_role(ws.catalog, body.name, body.permissions, body.description)


@router.post("/roles/{name}/grants", response_model=GrantOut, status_code=201)
def post_grant(ws: WorkspaceDep, name: str, body: GrantIn) -> dict[str, Any]:
    """Grant the role to a user in a sandbox, or in every sandbox."""
    return access.grant_role(ws.catalog, name, body.user, body.sandbox)


@router.delete("/roles/{name}/grants", response_model=GrantOut)
def delete_grant(ws: WorkspaceDep, name: str, user: str, sandbox: str | None = None) -> dict[str, Any]:
    """Take the role away from a user in a sandbox (without `sandbox`: the grant in every sandbox)."""
    return access.revoke_role(ws.catalog, name, user, sandbox)


@router.get("/tokens", response_model=list[TokenOut])
def get_tokens(ws: WorkspaceDep) -> list[dict[str, Any]]:
    """Every API token, never its value."""
    with ws.catalog.session() as session:
        return access.read_tokens(SessionReader(session))


@router.post("/tokens", response_model=TokenOut, status_code=201)
def post_token(ws: WorkspaceDep, body: TokenIn) -> dict[str, Any]:
    """Create a token for a user; its value is in this answer only."""
    ends = access.parse_expiry(body.expires) if body.expires is not None else None
    record, plain = access.create_token(ws.catalog, body.name, body.role, body.sandbox, user=body.user, expires=ends)
    with ws.catalog.session() as session:
        [made] = access.read_tokens(SessionReader(session), record.id)
    return {**made, "token": plain}


@router.delete("/tokens/{token_id}", status_code=204)
def delete_token(ws: WorkspaceDep, token_id: str) -> None:
    access.revoke_token(ws.catalog, token_id)


class ActivityObject(BaseModel):
    type: str
    id: str | None


class ActivityOut(BaseModel):
    id: int
    at: str
    via: Literal["api", "cli"]
    user: str
    token: str | None
    sandbox: str | None = Field(description="None: a change of the whole home (users, roles, tokens, sandboxes).")
    action: str = Field(examples=["POST /datasets", "accord segment create"])
    object: ActivityObject
    outcome: Literal["success", "denied", "failed"]
    status: int = Field(description="The HTTP status of the answer, or the command's exit code.")
    changes: dict[str, Any] | None
    origin: str


class ActivityPage(BaseModel):
    items: list[ActivityOut]
    next: int | None = Field(description="Pass as `before` for the next (older) page; None: no more.")


def _activity_query(
    since: Annotated[
        str | None,
        Query(
            max_length=64,
            description="A span back from now (`24h`, `7d`) or an ISO 8601 time (without an offset: UTC).",
        ),
    ] = None,
    until: Annotated[str | None, Query(max_length=64, description="As `since`: entries before it.")] = None,
    user: str | None = None,
    object: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> access.ActivityQuery:
    """The filters of a listing, read as the CLI reads them; its sandbox is the request's (set by the route)."""
    return access.ActivityQuery("", access.parse_since(since, "since") if since else None,
                                access.parse_since(until, "until") if until else None, user, object, before,
                                limit)  # fmt: skip


ActivityFilters = Annotated[access.ActivityQuery, Depends(_activity_query)]


@router.get("/audit", response_model=ActivityPage)
def get_audit(ws: WorkspaceDep, caller: PrincipalDep, sandbox: SandboxDep, query: ActivityFilters) -> dict[str, Any]:
    """The activity log of the request's sandbox (and the home's own changes, for a caller of every sandbox),
    newest first. `object`: a type (`datasets`) or type/id (`datasets/crm`); `since`/`until`: ISO 8601 times."""
    items = access.list_activity(ws.catalog, caller, replace(query, sandbox=sandbox))
    return {"items": items, "next": items[-1]["id"] if len(items) == query.limit else None}


EACH_LINE = {"schema": {"$ref": "#/components/schemas/ActivityOut"}}
EXPORTED: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/x-ndjson": EACH_LINE}, "description": "One entry a line (each as `ActivityOut`)."}
}


@router.get("/audit/export", response_class=StreamingResponse, responses=EXPORTED)
def get_audit_export(ws: WorkspaceDep, caller: PrincipalDep, sandbox: SandboxDep, query: ActivityFilters) -> Any:
    """Every entry the filters select, as JSON lines, newest first (any size: read a page at a time)."""
    entries = access.export_activity(ws.catalog, caller, replace(query, sandbox=sandbox))
    return StreamingResponse((json.dumps(e) + "\n" for e in entries), media_type="application/x-ndjson",
                             headers={"Content-Disposition": 'attachment; filename="activity.jsonl"'})  # fmt: skip


# -- sign-in for people ---------------------------------------------------------------------------------

auth_router = APIRouter(responses=ERROR_RESPONSES, tags=["access"])
LOGIN_BYTES = 16384
"""The largest sign-in body: a name (64 characters) and a password (1,024 characters), each character up to 4
bytes in UTF-8 and 3 characters of a form's percent-encoding for each byte."""


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SignedInOut(BaseModel):
    user: str
    csrfToken: str = Field(description="Send it as `X-CSRF-Token` with every change made through the session.")
    expiresAt: str


SIGN_IN_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": SignIn.model_json_schema()},
    "application/x-www-form-urlencoded": {"schema": SignIn.model_json_schema()}}}}  # fmt: skip


@auth_router.post("/auth/login", response_model=SignedInOut, openapi_extra=SIGN_IN_BODY)
async def post_login(request: Request, ws: WorkspaceDep) -> JSONResponse:
    """Sign a person in (JSON or a form): sets the session cookie (HttpOnly, SameSite=Strict, Secure) and a
    readable CSRF cookie. Wrong passwords lock the user out for a while, growing with each; failures from one
    address are limited as the API's are."""
    address = request.client.host if request.client else "?"
    limiter = request.app.state.limiter
    limiter.check(address)  # before the body is read
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            document = await request.json()
        else:
            document = dict(await request.form())
        body = SignIn.model_validate(document)
    except (ValueError, ValidationError) as exc:
        problems = validation_problems(exc.errors()) if isinstance(exc, ValidationError) else []
        raise InvalidInputError(
            "sign in with `user` and `password`", code="ACCESS-0440-400", problems=problems
        ) from None
    signed = await signed_in(request, ws, body.user, body.password)
    answer = JSONResponse({"user": signed.user, "csrfToken": signed.csrf, "expiresAt": signed.expires_at.isoformat()})
    set_session_cookies(answer, signed, ws.settings)
    return answer


@router.post("/auth/logout", status_code=204)
def post_logout(ws: WorkspaceDep, session: Annotated[str | None, Depends(session_cookie)]) -> Response:
    """End the caller's session (an API token has none to end) and clear its cookies."""
    if session:
        sign_out(ws.catalog, session)
    answer = Response(status_code=204)
    answer.delete_cookie(SESSION_COOKIE)
    answer.delete_cookie(CSRF_COOKIE)
    return answer
