"""Streaming inlets: where messages come in, each bound to a dataset of its sandbox.

An inlet's id is the one in its URL (`POST /collection/{id}`): 64 hexadecimal digits, as the reference
product's inlet ids are, never guessed. An inlet needs an API token of its sandbox, unless it was made
public on purpose: then anyone may post to it, and only its own dataset can be written.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import DatasetRecord, resolve_sandbox
from accord.catalog.inlets import InletRecord
from accord.errors import ConflictError, InvalidInputError, NotFoundError
from accord.streaming.exceptions import UnknownInletError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
INLET_ID = re.compile(r"[0-9a-f]{64}")


def create_inlet(session: Session, sandbox: str, name: str, dataset: str, *, public: bool = False) -> dict[str, Any]:
    """Make an inlet bound to `dataset` (by name); its document, with the URL paths it answers on."""
    if not NAME.fullmatch(name):
        raise InvalidInputError(f"inlet name {name!r} must be letters, digits, '_', '.', '-' (at most 128)",
                                code="STREAM-0401-400", field="name")  # fmt: skip
    sandbox_id = resolve_sandbox(session, sandbox).id
    if session.scalar(select(InletRecord.id).where(InletRecord.sandbox_id == sandbox_id, InletRecord.name == name)):
        raise ConflictError(f"an inlet named {name!r} already exists", code="STREAM-0409-409", name=name)
    found = session.scalar(select(DatasetRecord).where(DatasetRecord.sandbox_id == sandbox_id,
                                                       DatasetRecord.name == dataset))  # fmt: skip
    if found is None:
        names = list(session.scalars(select(DatasetRecord.name).where(DatasetRecord.sandbox_id == sandbox_id)))
        raise NotFoundError(f"no dataset {dataset!r} for the inlet; datasets: {', '.join(sorted(names)) or 'none'}",
                            code="STREAM-0411-404", dataset=dataset)  # fmt: skip
    record = InletRecord(id=secrets.token_hex(32), sandbox_id=sandbox_id, name=name, kind="xdm",
                         dataset_id=found.id, public=public, write_key_hash="", options={})  # fmt: skip
    session.add(record)
    session.flush()
    return inlet_document(record, found.name)


def list_inlets(session: Session, sandbox: str) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    rows = session.execute(
        select(InletRecord, DatasetRecord.name)
        .outerjoin(DatasetRecord, DatasetRecord.id == InletRecord.dataset_id)
        .where(InletRecord.sandbox_id == sandbox_id)
        .order_by(InletRecord.name)
    )
    return [inlet_document(record, dataset) for record, dataset in rows]


def get_inlet(session: Session, sandbox: str, name: str) -> dict[str, Any]:
    record = find_inlet(session, resolve_sandbox(session, sandbox).id, name)
    return inlet_document(record, _dataset_name(session, record))


def delete_inlet(session: Session, sandbox: str, name: str) -> None:
    """Delete an inlet: its URL answers 404 from now on (messages it took already are processed all the same)."""
    session.delete(find_inlet(session, resolve_sandbox(session, sandbox).id, name))


def find_inlet(session: Session, sandbox_id: str, name: str) -> InletRecord:
    """An inlet of a sandbox by name, or by id."""
    record = session.scalar(select(InletRecord).where(InletRecord.sandbox_id == sandbox_id, InletRecord.name == name))
    if record is None and INLET_ID.fullmatch(name):
        record = session.scalar(select(InletRecord).where(InletRecord.sandbox_id == sandbox_id, InletRecord.id == name))
    if record is None:
        raise UnknownInletError(name)
    return record


def inlet_by_id(session: Session, inlet_id: str) -> InletRecord:
    """The inlet a collection URL names, whatever its sandbox (the caller checks who may post to it)."""
    record = session.get(InletRecord, inlet_id) if INLET_ID.fullmatch(inlet_id) else None
    if record is None:
        raise UnknownInletError(inlet_id[:80])
    return record


def inlet_document(record: InletRecord, dataset: str | None) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "kind": record.kind,
        "dataset": dataset,
        "public": record.public,
        "collectionUrl": f"/collection/{record.id}",
        "batchCollectionUrl": f"/collection/batch/{record.id}",
        "created": record.created_at.isoformat(),
    }


def _dataset_name(session: Session, record: InletRecord) -> str | None:
    found = session.get(DatasetRecord, record.dataset_id) if record.dataset_id else None
    return found.name if found else None
