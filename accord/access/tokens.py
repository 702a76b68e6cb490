"""API tokens: shown once when created, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from accord.catalog import ApiToken, Catalog, utcnow
from accord.errors import AuthenticationError, NotFoundError

TOKEN_PREFIX = "acc_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, name and role."""

    token_id: str
    name: str
    role: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(catalog: Catalog, name: str, role: str = "admin") -> tuple[ApiToken, str]:
    """A new token; the plain text is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with catalog.session() as session:
        record = ApiToken(name=name, token_hash=_hash(plain), role=role)
        session.add(record)
    return record, plain


def authenticate(catalog: Catalog, token: str | None) -> Principal:
    """The principal behind a bearer token, or `AuthenticationError`."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 256:
        raise AuthenticationError("a valid API token is required: send `Authorization: Bearer <token>`")
    digest = _hash(token)
    with catalog.session() as session:
        record = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
        if record is None or record.revoked_at is not None or not hmac.compare_digest(record.token_hash, digest):
            raise AuthenticationError("the API token is unknown or revoked")
        record.last_used_at = utcnow()
        return Principal(record.id, record.name, record.role)


def list_tokens(catalog: Catalog) -> list[dict[str, object]]:
    with catalog.session() as session:
        return [
            {
                "id": t.id,
                "name": t.name,
                "role": t.role,
                "createdAt": t.created_at.isoformat(),
                "revoked": t.revoked_at is not None,
            }
            for t in session.scalars(select(ApiToken).order_by(ApiToken.created_at))
        ]


def revoke_token(catalog: Catalog, token_id: str) -> None:
    with catalog.session() as session:
        record = session.get(ApiToken, token_id)
        if record is None:
            raise NotFoundError(f"no API token with id {token_id!r}", code="ACCESS-0404-404")
        record.revoked_at = utcnow()
