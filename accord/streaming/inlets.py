"""Streaming inlets: where messages come in, each bound to a dataset of its sandbox.

An inlet's id is the one in its URL (`POST /collection/{id}`): 64 hexadecimal digits, as the reference
product's inlet ids are, never guessed. An inlet needs an API token of its sandbox, unless it was made
public on purpose: then anyone may post to it, and only its own dataset can be written.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
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
    sandbox_id = new_inlet_sandbox(session, sandbox, name)
    found = find_dataset(session, sandbox_id, dataset)
    record = InletRecord(id=secrets.token_hex(32), sandbox_id=sandbox_id, name=name, kind="xdm",
                         dataset_id=found.id, public=public, write_key_hash="", options={})  # fmt: skip
    session.add(record)
    session.flush()
    return inlet_document(record, found.name)


def new_inlet_sandbox(session: Session, sandbox: str, name: str) -> str:
    """The id of the sandbox a new inlet named `name` goes in, once the name is found good and free."""
    if not NAME.fullmatch(name):
        raise InvalidInputError(f"inlet name {name!r} must be letters, digits, '_', '.', '-' (at most 128)",
                                code="STREAM-0401-400", field="name")  # fmt: skip
    sandbox_id = resolve_sandbox(session, sandbox).id
    if session.scalar(select(InletRecord.id).where(InletRecord.sandbox_id == sandbox_id, InletRecord.name == name)):
        raise ConflictError(f"an inlet named {name!r} already exists", code="STREAM-0409-409", name=name)
    return sandbox_id


def find_dataset(session: Session, sandbox_id: str, dataset: str) -> DatasetRecord:
    """A dataset of the sandbox by name, for an inlet; an unknown one is refused with the sandbox's names."""
    found = session.scalar(select(DatasetRecord).where(DatasetRecord.sandbox_id == sandbox_id,
                                                       DatasetRecord.name == dataset))  # fmt: skip
    if found is None:
        names = list(session.scalars(select(DatasetRecord.name).where(DatasetRecord.sandbox_id == sandbox_id)))
        raise NotFoundError(f"no dataset {dataset!r} for the inlet; datasets: {', '.join(sorted(names)) or 'none'}",
                            code="STREAM-0411-404", dataset=dataset)  # fmt: skip
    return found


def list_inlets(session: Session, sandbox: str) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    rows = session.execute(
        select(InletRecord, DatasetRecord.name)
        .outerjoin(DatasetRecord, DatasetRecord.id == InletRecord.dataset_id)
        .where(InletRecord.sandbox_id == sandbox_id)
        .order_by(InletRecord.name)
    )
    return [inlet_document(record, dataset, _segment_datasets(session, record)) for record, dataset in rows]


def get_inlet(session: Session, sandbox: str, name: str) -> dict[str, Any]:
    record = find_inlet(session, resolve_sandbox(session, sandbox).id, name)
    return inlet_document(record, _dataset_name(session, record), _segment_datasets(session, record))


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


def inlet_document(record: InletRecord, dataset: str | None,
                   segment: Mapping[str, str | None] | None = None) -> dict[str, Any]:  # fmt: skip
    """An inlet as the API and the CLI show it; a Segment inlet's URLs are Segment's (`/v1/...`)."""
    document = {"id": record.id, "name": record.name, "kind": record.kind, "dataset": dataset,
                "public": record.public, "collectionUrl": f"/collection/{record.id}",
                "batchCollectionUrl": f"/collection/batch/{record.id}",
                "created": record.created_at.isoformat()}  # fmt: skip
    if record.kind == "segment":
        document.update(collectionUrl="/v1/{identify,track,page,screen,group,alias}", batchCollectionUrl="/v1/batch",
                        **(segment or {}), mapping=record.options.get("mapping"))  # fmt: skip
    return document


def _segment_datasets(session: Session, record: InletRecord) -> dict[str, str | None] | None:
    if record.kind != "segment":
        return None
    names = {}
    for role in ("profileDataset", "eventDataset"):
        found = session.get(DatasetRecord, record.options.get(role, ""))
        names[role] = found.name if found else None
    return names


def _dataset_name(session: Session, record: InletRecord) -> str | None:
    found = session.get(DatasetRecord, record.dataset_id) if record.dataset_id else None
    return found.name if found else None
