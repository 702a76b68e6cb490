"""Roles and their grants: a role is a set of permissions; a grant gives it to a user in a sandbox or in all.

The built-in roles (`BUILT_IN_ROLES`) live in code, so that a new Accord's permissions reach them; custom
roles live in the catalog. A grant names its role, so a custom role's grants go with it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from accord.access.permissions import BUILT_IN_ROLES, Permission, parse_permissions, role_permissions_of
from accord.access.principal import EVERY_SANDBOX
from accord.access.users import find_user, keep_a_manager
from accord.catalog import Catalog, RoleGrantRecord, RoleRecord, resolve_sandbox
from accord.errors import ConflictError, InvalidInputError, NotFoundError, did_you_mean

ROLE_NAME = re.compile(r"^[a-z][a-z0-9 _-]{0,63}$")


def role_permissions(session: Session, name: str) -> frozenset[Permission]:
    """The permissions of a built-in or custom role; `NotFoundError` naming those there are."""
    if name in BUILT_IN_ROLES:
        return BUILT_IN_ROLES[name][1]
    record = session.scalar(select(RoleRecord).where(RoleRecord.name == name))
    if record is None:
        names = [*BUILT_IN_ROLES, *session.scalars(select(RoleRecord.name))]
        raise NotFoundError(f"no role named {name!r}" + did_you_mean(name, names), code="ACCESS-0420-404",
                            role=name, available=names)  # fmt: skip
    return role_permissions_of(name, record.permissions)


def create_role(catalog: Catalog, name: str, permissions: Iterable[str], description: str = "") -> dict[str, Any]:
    """A custom role; every permission is checked, and all unknown ones are named at once."""
    names = list(permissions)
    held, unknown = parse_permissions(names)
    problems = []
    if not ROLE_NAME.match(name):
        problems.append({"path": "name", "message": "1 to 64 lower-case letters, digits, spaces, _ and -, "
                                                    "starting with a letter"})  # fmt: skip
    problems += [{"path": f"permissions[{names.index(u)}]", "message": f"no permission named {u[:80]!r}"
                  + did_you_mean(u, [p.value for p in Permission])} for u in unknown]  # fmt: skip
    if not names:
        problems.append({"path": "permissions", "message": "a role needs at least one permission"})
    if len(description) > 512:
        problems.append({"path": "description", "message": "at most 512 characters"})
    if problems:
        raise InvalidInputError(f"role {name[:64]!r} is not valid: " + "; ".join(f"{p['path']}: {p['message']}"
                                for p in problems), code="ACCESS-0421-400", problems=problems)  # fmt: skip
    with catalog.session() as session:
        if name in BUILT_IN_ROLES or session.scalar(select(RoleRecord.id).where(RoleRecord.name == name)):
            raise ConflictError(f"role {name!r} already exists", code="ACCESS-0422-409", role=name)
        record = RoleRecord(name=name, description=description, permissions=[p.value for p in Permission if p in held])
        session.add(record)
        session.flush()
        return _document(name, description, held, built_in=False)


def list_roles(catalog: Catalog) -> list[dict[str, Any]]:
    """The built-in roles, then the custom ones, with their permissions."""
    found = [_document(name, text, held, built_in=True) for name, (text, held) in BUILT_IN_ROLES.items()]
    with catalog.session() as session:
        for record in session.scalars(select(RoleRecord).order_by(RoleRecord.name)):
            found.append(
                _document(record.name, record.description, role_permissions_of(record.name, record.permissions), False)
            )
    return found


def grant_role(catalog: Catalog, role: str, user: str, sandbox: str | None) -> dict[str, Any]:
    """Give `role` to `user` in `sandbox` (None: every sandbox). Granting it again changes nothing."""
    with catalog.session() as session:
        role_permissions(session, role)
        record = find_user(session, user)
        sandbox_id = resolve_sandbox(session, sandbox).id if sandbox is not None else None
        if _grant(session, record.id, role, sandbox_id) is None:
            session.add(RoleGrantRecord(user_id=record.id, role=role, sandbox_id=sandbox_id))
        return {"role": role, "user": user, "sandbox": sandbox or EVERY_SANDBOX}


def revoke_role(catalog: Catalog, role: str, user: str, sandbox: str | None) -> dict[str, Any]:
    """Take `role` in `sandbox` (None: the grant in every sandbox) away from `user`."""
    with catalog.session() as session:
        record = find_user(session, user)
        sandbox_id = resolve_sandbox(session, sandbox).id if sandbox is not None else None
        grant = _grant(session, record.id, role, sandbox_id)
        if grant is None:
            where = f"sandbox {sandbox!r}" if sandbox else "every sandbox"
            raise NotFoundError(f"user {user} holds no grant of role {role!r} in {where}", code="ACCESS-0423-404",
                                role=role, user=user, sandbox=sandbox)  # fmt: skip
        session.execute(delete(RoleGrantRecord).where(RoleGrantRecord.id == grant))
        keep_a_manager(session, f"revoking {role!r} from {user}")
        return {"role": role, "user": user, "sandbox": sandbox or EVERY_SANDBOX, "revoked": True}


def _grant(session: Session, user_id: str, role: str, sandbox_id: str | None) -> str | None:
    where = RoleGrantRecord.sandbox_id.is_(None) if sandbox_id is None else RoleGrantRecord.sandbox_id == sandbox_id
    return session.scalar(
        select(RoleGrantRecord.id).where(RoleGrantRecord.user_id == user_id, RoleGrantRecord.role == role, where)
    )


def _document(name: str, description: str, held: frozenset[Permission], built_in: bool) -> dict[str, Any]:
    return {"name": name, "description": description, "builtIn": built_in,
            "permissions": [p.value for p in Permission if p in held]}  # fmt: skip
