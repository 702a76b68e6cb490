"""Sign-in for people: sessions behind a cookie, their CSRF token, and the lock-out after wrong passwords.

A session is a random secret in an HttpOnly, SameSite=Strict cookie (Secure unless the operator says
otherwise); only its SHA-256 hash is stored. It ends when signed out, after `session_idle_minutes` without
a request, `session_hours` after sign-in, or when its user is disabled. A change made through a session
must carry the session's CSRF token in the `X-CSRF-Token` header: a form posted from another site cannot,
because it cannot read it.

After `LOCK_AFTER` wrong passwords in a row a user is locked out for `FIRST_LOCK`, doubled with every
further wrong one up to `LONGEST_LOCK`; while locked, no password is checked at all (a flood of guesses
costs no hashing). One process checks one user's passwords one at a time, so that guesses sent together
cannot all be checked before the first of them is counted."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from accord.access.principal import Principal
from accord.access.tokens import LAST_USED_PRECISION, grants_of
from accord.access.users import hash_password, password_matches
from accord.catalog import Catalog, SessionRecord, UserRecord, utcnow
from accord.errors import AccordError, AuthenticationError, PermissionDeniedError

SESSION_COOKIE = "accord_session"
CSRF_COOKIE = "accord_csrf"
CSRF_HEADER = "x-csrf-token"
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
                         "with the value sign-in gave")  # fmt: skip


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


_CHECKING: dict[str, threading.Lock] = {}
_CHECKING_LOCK = threading.Lock()


def _checking(name: str) -> threading.Lock:
    """The lock under which this process checks `name`'s passwords (kept for the names tried lately)."""
    with _CHECKING_LOCK:
        if len(_CHECKING) >= 10_000 and name not in _CHECKING:
            _CHECKING.clear()  # a flood of names: forget the idle locks rather than grow without bound
        return _CHECKING.setdefault(name, threading.Lock())


def sign_in(catalog: Catalog, name: str, password: str, *, hours: int, origin: str = "") -> SignedIn:
    """A new session for a person whose password matches; `SignInError` else (the same for every reason but
    a lock-out), `LockedOutError` while locked out."""
    with _checking(name[:64]):
        return _sign_in(catalog, name[:64], password, hours=hours, origin=origin)


def _sign_in(catalog: Catalog, name: str, password: str, *, hours: int, origin: str) -> SignedIn:
    now = utcnow()
    refused: AccordError | None = None
    with catalog.session() as session:
        user = session.scalar(select(UserRecord).where(UserRecord.name == name))
        if user is None or user.password_hash is None:
            password_matches(password[:1024], _DUMMY)
            raise SignInError()
        if user.locked_until is not None and user.locked_until > now:
            raise LockedOutError(user.locked_until)
        if not password_matches(password[:1024], user.password_hash):
            failures = session.execute(  # counted in the database: another process may count as well
                update(UserRecord).where(UserRecord.id == user.id)
                .values(failed_logins=UserRecord.failed_logins + 1).returning(UserRecord.failed_logins)
            ).scalar_one()  # fmt: skip
            if failures >= LOCK_AFTER:
                session.execute(update(UserRecord).where(UserRecord.id == user.id)
                                .values(locked_until=now + _lock(failures)))  # fmt: skip
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
        grants = grants_of(session, user.id)
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
