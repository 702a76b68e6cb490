"""Sandboxes: every object in the catalog belongs to exactly one."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog.models import Sandbox
from accord.errors import ConflictError, InvalidInputError, NotFoundError, did_you_mean

SANDBOX_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
DEFAULT_SANDBOX = "prod"


def resolve_sandbox(session: Session, name: str) -> Sandbox:
    sandbox = session.scalar(select(Sandbox).where(Sandbox.name == name))
    if sandbox is None:
        names = list(session.scalars(select(Sandbox.name)))
        raise NotFoundError(
            f"no sandbox named {name!r}" + did_you_mean(name, names),
            code="SANDBOX-0404-404",
            sandbox=name,
            available=names,
        )
    return sandbox


RESERVED = {"campaign": "landing/campaign holds the home's campaign instances' folders, which a sandbox's own "
                        "folder of the landing root would open to it"}  # fmt: skip
"""Names no sandbox may take, and why."""


def create_sandbox(session: Session, name: str, title: str = "") -> Sandbox:
    if not SANDBOX_NAME.match(name):
        raise InvalidInputError(
            f"sandbox name {name!r} must be lower-case letters, digits and dashes, starting with a letter",
            code="SANDBOX-0400-400",
        )
    if name in RESERVED:
        raise InvalidInputError(f"sandbox name {name!r} is reserved: {RESERVED[name]}", code="SANDBOX-0401-400")
    if session.scalar(select(Sandbox).where(Sandbox.name == name)) is not None:
        raise ConflictError(f"sandbox {name!r} already exists", code="SANDBOX-0409-409")
    sandbox = Sandbox(name=name, title=title or name)
    session.add(sandbox)
    session.flush()
    return sandbox


def list_sandboxes(session: Session) -> list[Sandbox]:
    return list(session.scalars(select(Sandbox).order_by(Sandbox.name)))


def sandbox_document(sandbox: Sandbox) -> dict[str, object]:
    return {"id": sandbox.id, "name": sandbox.name, "title": sandbox.title, "createdAt": sandbox.created_at.isoformat()}
