"""Users: people, who may sign in with a password, and service accounts, which only hold API tokens.

Passwords are kept as bcrypt hashes of their SHA-256 digest (bcrypt reads 72 bytes at most: the digest
lets a long passphrase count whole). Users are disabled, never deleted: the activity log keeps naming
them."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import bcrypt
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from accord.access.permissions import Permission, role_permissions_of
from accord.catalog import Catalog, RoleGrantRecord, RoleRecord, Sandbox, UserRecord, utcnow
from accord.errors import ConflictError, InvalidInputError, NotFoundError, did_you_mean

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s.]{1,63}$")
MIN_PASSWORD, MAX_PASSWORD = 10, 1024
KINDS = ("person", "service")
OWNER = "admin"
"""The user `accord init` makes: holds the admin role in every sandbox, and the tokens made for nobody else."""


def _digest(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode()).digest())


def hash_password(password: str) -> str:
    return bcrypt.hashpw(_digest(password), bcrypt.gensalt()).decode()


def password_matches(password: str, hashed: str | None) -> bool:
    return hashed is not None and bcrypt.checkpw(_digest(password), hashed.encode())


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInputError(f"a password must have {MIN_PASSWORD} to {MAX_PASSWORD:,} characters, not "
                                f"{len(password):,}", code="ACCESS-0411-400", field="password")  # fmt: skip


def find_user(session: Session, name: str) -> UserRecord:
    user = session.scalar(select(UserRecord).where(UserRecord.name == name))
    if user is None:
        names = list(session.scalars(select(UserRecord.name)))
        raise NotFoundError(f"no user named {name!r}" + did_you_mean(name, names), code="ACCESS-0410-404",
                            user=name)  # fmt: skip
    return user


def create_user(
    catalog: Catalog, name: str, *, email: str | None = None, service: bool = False, password: str | None = None
) -> dict[str, Any]:
    """A new person or service account; it holds nothing until a role is granted to it."""
    problems = []
    if not USER_NAME.match(name):
        problems.append({"path": "name", "message": "1 to 64 letters, digits and . _ @ + -, starting with a letter "
                                                    "or digit"})  # fmt: skip
    if email is not None and not EMAIL.match(email):
        problems.append({"path": "email", "message": f"{email[:80]!r} is not an e-mail address"})
    if service and password is not None:
        problems.append({"path": "password", "message": "a service account signs in by API token only"})
    if password is not None and not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        problems.append({"path": "password", "message": f"{MIN_PASSWORD} to {MAX_PASSWORD:,} characters"})
    if problems:
        raise InvalidInputError(f"user {name[:64]!r} is not valid: " + "; ".join(f"{p['path']}: {p['message']}"
                                for p in problems), code="ACCESS-0412-400", problems=problems)  # fmt: skip
    with catalog.session() as session:
        if session.scalar(select(UserRecord.id).where(UserRecord.name == name)) is not None:
            raise ConflictError(f"user {name!r} already exists", code="ACCESS-0409-409", user=name)
        user = UserRecord(name=name, email=email, kind="service" if service else "person",
                          password_hash=hash_password(password) if password else None)  # fmt: skip
        session.add(user)
        session.flush()
        return user_document(session, user)


def set_disabled(catalog: Catalog, name: str, disabled: bool) -> dict[str, Any]:
    """Disable a user (every token of theirs is refused from the next request) or enable them again."""
    with catalog.session() as session:
        user = find_user(session, name)
        if disabled and user.disabled_at is None:
            user.disabled_at = utcnow()
            session.flush()
            keep_a_manager(session, f"disabling {name}")
        elif not disabled:
            user.disabled_at = None
        return user_document(session, user)


def set_password(catalog: Catalog, name: str, password: str) -> None:
    check_password(password)
    with catalog.session() as session:
        user = find_user(session, name)
        if user.kind == "service":
            raise InvalidInputError(f"{name} is a service account: it signs in by API token only",
                                    code="ACCESS-0412-400")  # fmt: skip
        user.password_hash = hash_password(password)


def list_users(catalog: Catalog) -> list[dict[str, Any]]:
    with catalog.session() as session:
        return [user_document(session, u) for u in session.scalars(select(UserRecord).order_by(UserRecord.name))]


def show_user(catalog: Catalog, name: str) -> dict[str, Any]:
    with catalog.session() as session:
        return user_document(session, find_user(session, name))


def user_document(session: Session, user: UserRecord) -> dict[str, Any]:
    """A user as lists show them: never the password's hash, only whether one is set."""
    grants = session.execute(
        select(RoleGrantRecord.role, Sandbox.name)
        .outerjoin(Sandbox, Sandbox.id == RoleGrantRecord.sandbox_id)
        .where(RoleGrantRecord.user_id == user.id)
        .order_by(RoleGrantRecord.role, Sandbox.name)
    ).all()
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "kind": user.kind,
        "hasPassword": user.password_hash is not None,
        "disabled": user.disabled_at is not None,
        "createdAt": user.created_at.isoformat(),
        "roles": [{"role": role, "sandbox": sandbox or "*"} for role, sandbox in grants],
    }


MANAGERS_LOCK = 13_0424
"""PostgreSQL's advisory lock (by number) under which changes that may take the last manager away check it."""


def keep_a_manager(session: Session, change: str) -> None:
    """Refuse a change (raised in its session, which rolls it back) that would leave no enabled user holding
    Manage Users and Roles in every sandbox: nobody but the home's owner at the CLI could grant it again.

    Such changes check one at a time: two taking away one manager each would each see the other's left. On
    SQLite the change's own write already holds the catalog until it commits; PostgreSQL takes a lock for the
    rest of the transaction, after which the check sees every change committed before it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MANAGERS_LOCK})
    rows = session.execute(
        select(RoleGrantRecord.role, RoleRecord.permissions)
        .join(UserRecord, UserRecord.id == RoleGrantRecord.user_id)
        .outerjoin(RoleRecord, RoleRecord.name == RoleGrantRecord.role)
        .where(RoleGrantRecord.sandbox_id.is_(None), UserRecord.disabled_at.is_(None))
    ).all()
    if not any(Permission.MANAGE_USERS_AND_ROLES in role_permissions_of(role, custom) for role, custom in rows):
        raise ConflictError(f"{change} would leave no enabled user holding 'Manage Users and Roles' in every "
                            "sandbox: grant it to another user first", code="ACCESS-0424-409")  # fmt: skip
