"""API tokens: shown once when created, stored only as a SHA-256 hash.

A token acts for a user (a person or a service account) and holds at most what that user holds: it may be
narrowed to one role, to one sandbox, and given an end. A disabled user's tokens are refused, as are
revoked and expired ones."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.access.permissions import BUILT_IN_ROLES, Permission
from accord.access.principal import EVERY_SANDBOX, Principal
from accord.access.roles import role_permissions
from accord.access.users import OWNER, find_user
from accord.catalog import ApiToken, Catalog, RoleGrantRecord, RoleRecord, Sandbox, UserRecord, resolve_sandbox, utcnow
from accord.errors import AuthenticationError, InvalidInputError, NotFoundError

TOKEN_PREFIX = "acc_"


EXPIRY = re.compile(r"^(\d{1,5})([hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_expiry(text: str) -> datetime:
    """When a token made now ends: after a span (`12h`, `30d`, `8w`), or at a date or time (`2027-01-31`,
    ISO 8601; without an offset, UTC)."""
    found = EXPIRY.match(text.strip())
    if found:
        return utcnow() + int(found[1]) * _UNITS[found[2]]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(f"--expires {text[:40]!r} is neither a span (12h, 30d, 8w) nor a date (2027-01-31)",
                                code="ACCESS-0402-400", field="expires") from None  # fmt: skip
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    catalog: Catalog,
    name: str,
    role: str | None = None,
    sandbox: str | None = None,
    *,
    user: str | None = None,
    expires: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token of `user` (default: the home's owner, `admin`); the plain text is returned once, never stored.

    `role` narrows it to that role's permissions, `sandbox` to that sandbox, `expires` ends it."""
    if not name or len(name) > 128:
        raise InvalidInputError("a token's name has 1 to 128 characters", code="ACCESS-0400-400", field="name")
    if expires is not None and expires <= utcnow():
        raise InvalidInputError(f"the token would expire in the past ({expires.isoformat()})",
                                code="ACCESS-0402-400", field="expires")  # fmt: skip
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with catalog.session() as session:
        owner = find_user(session, user or OWNER)
        if role is not None:
            role_permissions(session, role)  # NotFoundError naming the roles there are
        sandbox_id = resolve_sandbox(session, sandbox).id if sandbox is not None else None
        record = ApiToken(name=name, token_hash=_hash(plain), user_id=owner.id, role=role, sandbox_id=sandbox_id,
                          expires_at=expires)  # fmt: skip
        session.add(record)
    return record, plain


LAST_USED_PRECISION = timedelta(minutes=1)
"""A token's `last_used_at` is kept to this precision."""


def authenticate(catalog: Catalog, token: str | None) -> Principal:
    """The principal behind a bearer token, with what it holds in each sandbox, or `AuthenticationError`."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 256:
        raise AuthenticationError("a valid API token is required: send `Authorization: Bearer <token>`")
    digest = _hash(token)
    with catalog.session() as session:
        found = session.execute(
            select(ApiToken, Sandbox.name, UserRecord.name, UserRecord.disabled_at)
            .outerjoin(Sandbox, Sandbox.id == ApiToken.sandbox_id)
            .outerjoin(UserRecord, UserRecord.id == ApiToken.user_id)
            .where(ApiToken.token_hash == digest)
        ).first()
        if found is None:
            raise AuthenticationError("the API token is unknown or revoked")
        record, sandbox, user, disabled_at = found
        if record.revoked_at is not None or user is None or not hmac.compare_digest(record.token_hash, digest):
            raise AuthenticationError("the API token is unknown or revoked")
        now = utcnow()
        if record.expires_at is not None and record.expires_at <= now:
            raise AuthenticationError(f"the API token {record.name} expired at {record.expires_at.isoformat()}")
        if disabled_at is not None:
            raise AuthenticationError(f"user {user} is disabled: their API tokens are refused")
        # to the minute: a write of the catalog for every request would serialise a busy API (streaming inlets)
        if record.last_used_at is None or now - record.last_used_at >= LAST_USED_PRECISION:
            record.last_used_at = now
        grants = grants_of(session, record.user_id, record.role)  # type: ignore[arg-type]
        return Principal(record.id, record.name, user, sandbox, record.role, grants)


def grants_of(session: Session, user_id: str, narrowed_to: str | None) -> dict[str, frozenset[Permission]]:
    """What a user holds, by sandbox name (`EVERY_SANDBOX`: in all), narrowed to one role's permissions."""
    rows = session.execute(
        select(RoleGrantRecord.role, Sandbox.name, RoleRecord.permissions)
        .outerjoin(Sandbox, Sandbox.id == RoleGrantRecord.sandbox_id)
        .outerjoin(RoleRecord, RoleRecord.name == RoleGrantRecord.role)
        .where(RoleGrantRecord.user_id == user_id)
    ).all()
    found: dict[str, set[Permission]] = {}
    for role, sandbox, custom in rows:
        held = BUILT_IN_ROLES[role][1] if role in BUILT_IN_ROLES else _known(custom or [])
        found.setdefault(sandbox or EVERY_SANDBOX, set()).update(held)
    limit = role_permissions(session, narrowed_to) if narrowed_to is not None else None
    return {where: frozenset(held & limit if limit is not None else held) for where, held in found.items()}


def _known(names: list[Any]) -> frozenset[Permission]:
    return frozenset(Permission(n) for n in names if n in Permission._value2member_map_)


def revoke_token(catalog: Catalog, token_id: str) -> None:
    with catalog.session() as session:
        record = session.get(ApiToken, token_id)
        if record is None:
            raise NotFoundError(f"no API token with id {token_id!r}", code="ACCESS-0404-404")
        record.revoked_at = utcnow()
