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

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, aliased

from accord.access.permissions import Permission, role_permissions_of
from accord.access.principal import EVERY_SANDBOX, Principal
from accord.access.roles import role_permissions
from accord.access.users import OWNER, find_user
from accord.catalog import ApiToken, Catalog, RoleGrantRecord, RoleRecord, Sandbox, UserRecord, resolve_sandbox, utcnow
from accord.errors import AuthenticationError, InvalidInputError, NotFoundError

TOKEN_PREFIX = "acc_"


EXPIRY = re.compile(r"^(\d{1,5})([hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
LONGEST = timedelta(days=3653)


def parse_expiry(text: str) -> datetime:
    """When a token made now ends: after a span (`12h`, `30d`, `8w`), or at a date or time (`2027-01-31`,
    ISO 8601; without an offset, UTC)."""
    found = EXPIRY.match(text.strip())
    if found:
        if int(found[1]) * _UNITS[found[2]] > LONGEST:
            raise InvalidInputError(f"--expires {text[:40]!r} is too far: a token lasts at most 10 years",
                                    code="ACCESS-0402-400", field="expires")  # fmt: skip
        return utcnow() + int(found[1]) * _UNITS[found[2]]
    try:
        when = datetime.fromisoformat(text.strip())
        when = when.astimezone(UTC) if when.tzinfo is not None else when.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidInputError(f"--expires {text[:40]!r} is neither a span (12h, 30d, 8w) nor a date (2027-01-31)",
                                code="ACCESS-0402-400", field="expires") from None  # fmt: skip
    if when - utcnow() > LONGEST:
        raise InvalidInputError(f"--expires {text[:40]!r} is too far: a token lasts at most 10 years",
                                code="ACCESS-0402-400", field="expires")  # fmt: skip
    return when


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
    """The principal behind a bearer token, with what it holds in each sandbox, or `AuthenticationError`.

    One statement reads the token, its user and the user's grants (`token_rows`): a request pays one round trip
    to the catalog for who it is and what it may do."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 256:
        raise AuthenticationError("a valid API token is required: send `Authorization: Bearer <token>`")
    digest = _hash(token)
    with catalog.session() as session:
        rows = token_rows(session, digest)
        if not rows:
            raise AuthenticationError("the API token is unknown or revoked")
        record, sandbox, user, disabled_at = rows[0][:4]
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
        grants = _held([(role, where, custom) for *_, role, where, custom, _narrow in rows if role is not None])
        if record.role is not None:
            limit = role_permissions_of(record.role, rows[0][-1])
            grants = {where: held & limit for where, held in grants.items()}
        return Principal(record.id, record.name, user, sandbox, record.role, grants)


_GRANTED_IN, _NARROWED_TO = aliased(Sandbox), aliased(RoleRecord)
_TOKEN_ROWS = (
    select(ApiToken, Sandbox.name, UserRecord.name, UserRecord.disabled_at, RoleGrantRecord.role, _GRANTED_IN.name,
           RoleRecord.permissions, _NARROWED_TO.permissions)
    .outerjoin(Sandbox, Sandbox.id == ApiToken.sandbox_id)
    .outerjoin(UserRecord, UserRecord.id == ApiToken.user_id)
    .outerjoin(RoleGrantRecord, RoleGrantRecord.user_id == ApiToken.user_id)
    .outerjoin(_GRANTED_IN, _GRANTED_IN.id == RoleGrantRecord.sandbox_id)
    .outerjoin(RoleRecord, RoleRecord.name == RoleGrantRecord.role)
    .outerjoin(_NARROWED_TO, _NARROWED_TO.name == ApiToken.role)
    .where(ApiToken.token_hash == bindparam("digest"))
)  # fmt: skip
"""Built once: a request's statement is the cached compiled one."""


def token_rows(session: Session, digest: str) -> list[Any]:
    """The token of this hash, its sandbox's name, its user's name and disabled time, then one row per grant of
    the user (its role, its sandbox's name or None, a custom role's permissions) and the permissions of the
    custom role the token is narrowed to."""
    return list(session.execute(_TOKEN_ROWS, {"digest": digest}).all())


def grants_of(session: Session, user_id: str) -> dict[str, frozenset[Permission]]:
    """What a user holds, by sandbox name (`EVERY_SANDBOX`: in all)."""
    rows = session.execute(
        select(RoleGrantRecord.role, Sandbox.name, RoleRecord.permissions)
        .outerjoin(Sandbox, Sandbox.id == RoleGrantRecord.sandbox_id)
        .outerjoin(RoleRecord, RoleRecord.name == RoleGrantRecord.role)
        .where(RoleGrantRecord.user_id == user_id)
    ).all()
    return _held([tuple(row) for row in rows])


def _held(grants: list[tuple[str, str | None, Any]]) -> dict[str, frozenset[Permission]]:
    """(role, sandbox name or None, a custom role's permissions) -> permissions by sandbox (`EVERY_SANDBOX`)."""
    found: dict[str, set[Permission]] = {}
    for role, sandbox, custom in grants:
        held = role_permissions_of(role, custom)
        found.setdefault(sandbox or EVERY_SANDBOX, set()).update(held)
    return {where: frozenset(held) for where, held in found.items()}


def revoke_token(catalog: Catalog, token_id: str) -> None:
    with catalog.session() as session:
        record = session.get(ApiToken, token_id)
        if record is None:
            raise NotFoundError(f"no API token with id {token_id!r}", code="ACCESS-0404-404")
        record.revoked_at = utcnow()
