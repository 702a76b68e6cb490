"""Dataflows: a connection into a dataset, with a mapping, read options and a schedule.

A dataflow document is checked whole before it is stored: its source choice against the
connector's model, its read options and its mapping. Running dataflows is `runs.py`'s business."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import (
    DataflowRecord,
    aware,
    resolve_sandbox,
    utcnow,
)
from accord.errors import ConflictError, DocumentError, NotFoundError, did_you_mean, validation_problems
from accord.ingest import ReadOptions, parse_mapping
from accord.lake import find_dataset
from accord.sources.connections import find_connection
from accord.sources.exceptions import DataflowRunningError
from accord.sources.registry import connector_spec


class Schedule(BaseModel):
    """When a dataflow runs: once, or every `interval` minutes, hours, days or weeks from `startTime`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    frequency: Literal["once", "minute", "hour", "day", "week"] = "once"
    interval: int = Field(default=1, ge=1, le=10_000)
    start_time: datetime | None = Field(default=None, alias="startTime")


class DataflowDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
    connection: str
    dataset: str
    source: dict[str, Any] = Field(default_factory=dict)
    mapping: dict[str, Any] | list[Any] | None = None
    read_options: dict[str, Any] = Field(default_factory=dict, alias="readOptions")
    schedule: Schedule = Field(default_factory=Schedule)
    backfill: bool = True
    enabled: bool = True
    error_threshold: float | None = Field(default=None, ge=0, le=100, alias="errorThreshold")


def dataflow_lock(dataflow_id: str) -> str:
    """The lock a run of the dataflow holds (see `accord.jobs`)."""
    return f"dataflow:{dataflow_id}"


def _problems(exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    return validation_problems(exc.errors(), prefix)


def dataflow_document(session: Session, record: DataflowRecord) -> dict[str, Any]:
    from accord.catalog import ConnectionRecord, DatasetRecord

    connection = session.get(ConnectionRecord, record.connection_id)
    dataset = session.get(DatasetRecord, record.dataset_id)
    return {
        "id": record.id,
        "name": record.name,
        "connection": connection.name if connection else None,
        "dataset": dataset.name if dataset else None,
        "source": record.source,
        "mapping": record.mapping,
        "readOptions": record.read_options,
        "schedule": record.schedule,
        "backfill": record.backfill,
        "enabled": record.enabled,
        "errorThreshold": record.error_threshold,
        "state": record.state,
        "running": record.running_run_id,
        "createdAt": aware(record.created_at).isoformat(),
    }


def _validated(session: Session, sandbox_id: str, document: Any) -> dict[str, Any]:
    """A dataflow document checked whole: its source choice, mapping and read options included."""
    try:
        parsed = DataflowDocument.model_validate(document)
    except ValidationError as exc:
        raise DocumentError("the dataflow", _problems(exc), code="SOURCE-0420-400") from None
    connection = find_connection(session, sandbox_id, parsed.connection)
    dataset = find_dataset(session, sandbox_id, parsed.dataset)
    spec = connector_spec(connection.connector)
    problems: list[dict[str, Any]] = []
    try:
        source = spec.source.model_validate(parsed.source).model_dump(by_alias=True, exclude_none=True)
    except ValidationError as exc:
        problems.extend(_problems(exc, "source."))
        source = {}
    try:
        ReadOptions.model_validate(parsed.read_options)
    except ValidationError as exc:
        problems.extend(_problems(exc, "readOptions."))
    mapping = None
    if parsed.mapping is not None:
        try:
            mapping = parse_mapping(parsed.mapping).model_dump(by_alias=True, exclude_none=True)
        except DocumentError as exc:
            problems.extend({**p, "path": f"mapping.{p['path']}"} for p in exc.problems)
    if problems:
        raise DocumentError("the dataflow", problems, code="SOURCE-0420-400")
    return {"name": parsed.name, "connection_id": connection.id, "dataset_id": dataset.id, "source": source,
            "mapping": mapping, "read_options": parsed.read_options,
            "schedule": parsed.schedule.model_dump(mode="json", by_alias=True), "backfill": parsed.backfill,
            "enabled": parsed.enabled, "error_threshold": parsed.error_threshold}  # fmt: skip


def create_dataflow(session: Session, sandbox: str, document: Any) -> DataflowRecord:
    """Create a dataflow; its source choice, mapping and read options are checked whole first."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    checked = _validated(session, sandbox_id, document)
    if session.scalar(select(DataflowRecord.id).where(DataflowRecord.sandbox_id == sandbox_id,
                                                      DataflowRecord.name == checked["name"])):  # fmt: skip
        raise ConflictError(f"a dataflow named {checked['name']!r} already exists", code="SOURCE-0421-409")
    record = DataflowRecord(sandbox_id=sandbox_id, state={}, **checked)
    session.add(record)
    session.flush()
    return record


def find_dataflow(session: Session, sandbox_id: str, name: str) -> DataflowRecord:
    record = session.scalar(
        select(DataflowRecord).where(DataflowRecord.sandbox_id == sandbox_id, DataflowRecord.name == name)
    )
    if record is None:
        names = list(session.scalars(select(DataflowRecord.name).where(DataflowRecord.sandbox_id == sandbox_id)))
        raise NotFoundError(
            f"no dataflow named {name!r}{did_you_mean(name, names)}",
            code="SOURCE-0422-404",
            dataflow=name,
            available=names,
        )
    return record


def list_dataflows(session: Session, sandbox: str) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    records = session.scalars(
        select(DataflowRecord).where(DataflowRecord.sandbox_id == sandbox_id).order_by(DataflowRecord.name)
    )
    return [dataflow_document(session, r) for r in records]


EDITABLE = {"source", "mapping", "readOptions", "schedule", "backfill", "errorThreshold", "enabled"}


def update_dataflow(session: Session, sandbox: str, name: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change a dataflow's source choice, mapping, read options, schedule, backfill, threshold or state.

    The connection and the dataset cannot change: the state kept between runs belongs to them
    (create another dataflow instead). The whole result is checked as on creation."""
    record = find_dataflow(session, resolve_sandbox(session, sandbox).id, name)
    fixed = sorted(set(changes) - EDITABLE)
    if fixed:
        raise DocumentError("the dataflow change", [{"path": key, "message": "cannot be changed; editable: "
                            + ", ".join(sorted(EDITABLE))} for key in fixed], code="SOURCE-0427-400")  # fmt: skip
    if record.running_run_id:
        raise DataflowRunningError(name, record.running_run_id)
    current = dataflow_document(session, record)
    merged = {k: current[k] for k in ("name", "connection", "dataset", "source", "mapping", "readOptions", "schedule",
                                      "backfill", "enabled", "errorThreshold")} | changes  # fmt: skip
    checked = _validated(session, record.sandbox_id, merged)
    record.source, record.mapping, record.read_options = checked["source"], checked["mapping"], checked["read_options"]
    record.schedule, record.backfill = checked["schedule"], checked["backfill"]
    record.enabled, record.error_threshold = checked["enabled"], checked["error_threshold"]
    record.updated_at = utcnow()
    session.flush()
    return dataflow_document(session, record)


def set_enabled(session: Session, sandbox: str, name: str, enabled: bool) -> dict[str, Any]:
    record = find_dataflow(session, resolve_sandbox(session, sandbox).id, name)
    record.enabled = enabled
    record.updated_at = utcnow()
    return dataflow_document(session, record)


def delete_dataflow(session: Session, sandbox: str, name: str) -> None:
    """Delete a dataflow and its run history; the data it ingested stays in its dataset."""
    record = find_dataflow(session, resolve_sandbox(session, sandbox).id, name)
    if record.running_run_id:
        raise DataflowRunningError(name, record.running_run_id)
    session.delete(record)
