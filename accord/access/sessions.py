"""Sign-in for people: sessions behind a cookie, their CSRF token, and the lock-out after wrong passwords.

A session is a random secret in an HttpOnly, SameSite=Strict cookie (Secure unless the operator says
otherwise); only its SHA-256 hash is stored. It ends when signed out, after `session_idle_minutes` without
a request, `session_hours` after sign-in, or when its user is disabled. A change made through a session
must carry the session's CSRF token (the `X-CSRF-Token` header or a form's `csrf_token` field): a form
posted from another site cannot, because it cannot read it.

After `LOCK_AFTER` wrong passwords in a row a user is locked out for `FIRST_LOCK`, doubled with every
further wrong one up to `LONGEST_LOCK`; while locked, no password is checked at all (a flood of guesses
costs no hashing)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from accord.access.principal import Principal
from accord.access.tokens import LAST_USED_PRECISION, grants_of
from accord.access.users import hash_password, password_matches
from accord.catalog import Catalog, SessionRecord, UserRecord, utcnow
from accord.errors import AccordError, AuthenticationError, PermissionDeniedError

SESSION_COOKIE = "accord_session"
CSRF_COOKIE = "accord_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
LOCK_AFTER = 5
FIRST_LOCK = timedelta(seconds=30)
LONGEST_LOCK = timedelta(hours=1)
_DUMMY = hash_password("not anybody's password")
"""Checked against for a name nobody has, so that an unknown name takes as long to refuse as a known one."""


class SignInError(AuthenticationError):
    code = "ACCESS-0441-401"

    def __init__(self) -> None:
        super().__init__("the user name or the password is wrong", scheme="Session")


class LockedOutError(AccordError):
    """Too many wrong passwords: no password is checked until the lock ends."""

    code = "ACCESS-0442-429"
    kind = "busy"

    def __init__(self, until: datetime) -> None:
        wait = max(1, int((until - utcnow()).total_seconds()) + 1)
        super().__init__(f"too many wrong passwords: signing in is locked for {wait} s", retryAfter=wait)


class CsrfError(PermissionDeniedError):
    code = "ACCESS-0443-403"

    def __init__(self) -> None:
        super().__init__("a change made through a session needs its CSRF token: send the `X-CSRF-Token` header "
                         "(or a form's `csrf_token` field) with the value sign-in gave")  # fmt: skip


@dataclass(frozen=True)
class SignedIn:
    user: str
    secret: str
    """The session cookie's value (shown once)."""
    csrf: str
    expires_at: datetime


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _lock(failures: int) -> timedelta:
    return min(LONGEST_LOCK, FIRST_LOCK * 2 ** max(0, failures - LOCK_AFTER))


def sign_in(catalog: Catalog, name: str, password: str, *, hours: int, origin: str = "") -> SignedIn:
    """A new session for a person whose password matches; `SignInError` else (the same for every reason but
    a lock-out), `LockedOutError` while locked out."""
    now = utcnow()
    refused: AccordError | None = None
    with catalog.session() as session:
        user = session.scalar(select(UserRecord).where(UserRecord.name == name[:64]))
        if user is None or user.password_hash is None:
            password_matches(password[:1024], _DUMMY)
            raise SignInError()
        if user.locked_until is not None and user.locked_until > now:
            raise LockedOutError(user.locked_until)
        if not password_matches(password[:1024], user.password_hash):
            user.failed_logins += 1
            if user.failed_logins >= LOCK_AFTER:
                user.locked_until = now + _lock(user.failed_logins)
            refused = SignInError()  # raised once the count is stored: the session's block commits it
        elif user.disabled_at is not None:
            refused = SignInError()
        else:
            user.failed_logins, user.locked_until = 0, None
            secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            expires = now + timedelta(hours=hours)
            session.add(SessionRecord(secret_hash=_hash(secret), csrf_hash=_hash(csrf), user_id=user.id,
                                      expires_at=expires, origin=origin[:256]))  # fmt: skip
            signed = SignedIn(user.name, secret, csrf, expires)
    if refused is not None:
        raise refused
    return signed


def session_principal(catalog: Catalog, secret: str, *, idle_minutes: int) -> Principal:
    """Who a session cookie is, with their grants; `AuthenticationError` when it is unknown, ended, expired,
    idle too long or its user disabled."""
    if not secret or len(secret) > 256:
        raise AuthenticationError("no valid session: sign in again", scheme="Session")
    now = utcnow()
    with catalog.session() as session:
        found = session.execute(
            select(SessionRecord, UserRecord)
            .join(UserRecord, UserRecord.id == SessionRecord.user_id)
            .where(SessionRecord.secret_hash == _hash(secret))
        ).first()
        if found is None:
            raise AuthenticationError("no valid session: sign in again", scheme="Session")
        record, user = found
        idle = record.last_seen_at + timedelta(minutes=idle_minutes)
        if record.ended_at is not None or record.expires_at <= now or idle <= now or user.disabled_at is not None:
            raise AuthenticationError("the session has ended: sign in again", scheme="Session")
        if now - record.last_seen_at >= LAST_USED_PRECISION:
            record.last_seen_at = now
        grants = grants_of(session, user.id, None)
        return Principal(f"session:{record.id}", "session", user.name, None, None, grants, csrf_hash=record.csrf_hash)


def check_csrf(principal: Principal, presented: str | None) -> None:
    """Refuse a change made through a session without its CSRF token (API tokens need none: no browser sends
    them by itself)."""
    if principal.csrf_hash is None:
        return
    if not presented or not hmac.compare_digest(_hash(presented[:256]), principal.csrf_hash):
        raise CsrfError()


def sign_out(catalog: Catalog, secret: str) -> None:
    with catalog.session() as session:
        record = session.scalar(select(SessionRecord).where(SessionRecord.secret_hash == _hash(secret[:256])))
        if record is not None and record.ended_at is None:
            record.ended_at = utcnow()
