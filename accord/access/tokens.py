"""API tokens: shown once when created, stored only as a SHA-256 hash.

A token has a role and a scope. `admin` tokens use every sandbox and alone manage sandboxes and
tokens; `member` tokens use every sandbox, or the one sandbox they were made for, and are refused
anywhere else. Roles with finer permissions will come; the scope is the boundary until then."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from accord.catalog import ApiToken, Catalog, Sandbox, resolve_sandbox, utcnow
from accord.errors import AuthenticationError, InvalidInputError, NotFoundError, PermissionDeniedError

TOKEN_PREFIX = "acc_"
ROLES = ("admin", "member")
"""`admin`: every sandbox, and sandboxes and tokens themselves; `member`: the data of its sandbox(es)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, name, role, and the one sandbox it may use (None: every sandbox)."""

    token_id: str
    name: str
    role: str
    sandbox: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_use(self, sandbox: str) -> bool:
        return self.sandbox is None or self.sandbox == sandbox


class SandboxForbiddenError(PermissionDeniedError):
    code = "ACCESS-0403-403"

    def __init__(self, principal: Principal, sandbox: str) -> None:
        super().__init__(
            f"this API token ({principal.name}) is for sandbox {principal.sandbox!r} only, not {sandbox!r}; "
            f"send `x-sandbox-name: {principal.sandbox}` or use a token of that sandbox",
            sandbox=sandbox,
            allowedSandbox=principal.sandbox,
        )


class AdminOnlyError(PermissionDeniedError):
    code = "ACCESS-0401-403"

    def __init__(self, principal: Principal, what: str) -> None:
        super().__init__(
            f"only admin tokens may {what}; this token ({principal.name}) is a {principal.role} token",
            role=principal.role,
        )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    catalog: Catalog, name: str, role: str | None = None, sandbox: str | None = None
) -> tuple[ApiToken, str]:
    """A new token; the plain text is returned once and never stored.

    A token made for one sandbox is a `member` of it (the role when none is given), and one made for
    no sandbox an `admin` (an admin token holds every sandbox)."""
    role = role or ("member" if sandbox is not None else "admin")
    if role not in ROLES:
        raise InvalidInputError(f"role {role!r} is not one of {', '.join(ROLES)}", code="ACCESS-0400-400")
    if role == "admin" and sandbox is not None:
        raise InvalidInputError(
            "an admin token holds every sandbox: give no sandbox, or make a member token of that sandbox",
            code="ACCESS-0402-400",
        )
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id if sandbox is not None else None
        record = ApiToken(name=name, token_hash=_hash(plain), role=role, sandbox_id=sandbox_id)
        session.add(record)
    return record, plain


LAST_USED_PRECISION = timedelta(minutes=1)
"""A token's `last_used_at` is kept to this precision."""


def authenticate(catalog: Catalog, token: str | None) -> Principal:
    """The principal behind a bearer token, or `AuthenticationError`."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 256:
        raise AuthenticationError("a valid API token is required: send `Authorization: Bearer <token>`")
    digest = _hash(token)
    with catalog.session() as session:
        found = session.execute(
            select(ApiToken, Sandbox.name)
            .outerjoin(Sandbox, Sandbox.id == ApiToken.sandbox_id)
            .where(ApiToken.token_hash == digest)
        ).first()
        if found is None:
            raise AuthenticationError("the API token is unknown or revoked")
        record, sandbox = found
        if record.revoked_at is not None or not hmac.compare_digest(record.token_hash, digest):
            raise AuthenticationError("the API token is unknown or revoked")
        now = utcnow()
        # to the minute: a write of the catalog for every request would serialise a busy API (streaming inlets)
        if record.last_used_at is None or now - record.last_used_at >= LAST_USED_PRECISION:
            record.last_used_at = now
        return Principal(record.id, record.name, record.role, sandbox)


def authorize_sandbox(principal: Principal, requested: str | None, default: str) -> str:
    """The sandbox a request works in: the one it names, else the token's own, else `default`.

    A token scoped to one sandbox is refused anywhere else (`SandboxForbiddenError`), whether or
    not that sandbox exists."""
    name = requested or principal.sandbox or default
    if not principal.may_use(name):
        raise SandboxForbiddenError(principal, name)
    return name


def require_admin(principal: Principal, what: str) -> None:
    """Refuse a caller that is not an admin (`AdminOnlyError`), saying what it tried to do."""
    if not principal.is_admin:
        raise AdminOnlyError(principal, what)


def revoke_token(catalog: Catalog, token_id: str) -> None:
    with catalog.session() as session:
        record = session.get(ApiToken, token_id)
        if record is None:
            raise NotFoundError(f"no API token with id {token_id!r}", code="ACCESS-0404-404")
        record.revoked_at = utcnow()
