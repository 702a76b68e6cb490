"""Dataset and batch services: create, read (preview, count, statistics), delete a batch."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import BatchRecord, DatasetRecord, SessionReader, aware, resolve_sandbox, utcnow
from accord.errors import ConflictError, InvalidInputError, NotFoundError, did_you_mean
from accord.jobs import holder
from accord.lake.housekeeping import batch_lock, sandbox_job
from accord.lake.listing import read_datasets
from accord.schema import check_union, get_schema, resolve_schema_by_id

if TYPE_CHECKING:
    from accord.workspace import Workspace

DATASET_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


def find_dataset(session: Session, sandbox_id: str, name: str) -> DatasetRecord:
    record = session.scalar(
        select(DatasetRecord).where(DatasetRecord.sandbox_id == sandbox_id, DatasetRecord.name == name)
    )
    if record is None:
        record = session.scalar(
            select(DatasetRecord).where(DatasetRecord.sandbox_id == sandbox_id, DatasetRecord.id == name)
        )
    if record is None:
        names = list(session.scalars(select(DatasetRecord.name).where(DatasetRecord.sandbox_id == sandbox_id)))
        raise NotFoundError(
            f"no dataset named {name!r}" + did_you_mean(name, names),
            code="DATASET-0404-404",
            dataset=name,
            available=names,
        )
    return record


def dataset_document(session: Session, record: DatasetRecord) -> dict[str, Any]:
    return read_datasets(SessionReader(session), record.sandbox_id, record.id)[0]


def create_dataset(
    session: Session, sandbox: str, name: str, schema: str, profile_enabled: bool = False,
    schema_contract: str = "discard_row",
) -> DatasetRecord:  # fmt: skip
    import re

    from accord.lake.contracts import checked_contract

    if not re.match(DATASET_NAME, name):
        raise InvalidInputError(
            f"dataset name {name!r} must be letters, digits, '_', '.', '-' (at most 128)", code="DATASET-0400-400"
        )
    sandbox_row = resolve_sandbox(session, sandbox)
    resolved = get_schema(session, sandbox, schema)
    exists = session.scalar(
        select(DatasetRecord.id).where(DatasetRecord.sandbox_id == sandbox_row.id, DatasetRecord.name == name)
    )
    if exists:
        raise ConflictError(f"a dataset named {name!r} already exists", code="DATASET-0409-409")
    record = DatasetRecord(sandbox_id=sandbox_row.id, name=name, schema_id=resolved.id, profile_enabled=profile_enabled,
                           schema_contract=checked_contract(schema_contract))  # fmt: skip
    session.add(record)
    session.flush()
    if profile_enabled:
        check_union(session, sandbox_row.id, resolved.class_name)
    return record


def set_profile_enabled(session: Session, sandbox: str, name: str, enabled: bool) -> DatasetRecord:
    sandbox_row = resolve_sandbox(session, sandbox)
    record = find_dataset(session, sandbox_row.id, name)
    record.profile_enabled = enabled
    session.flush()
    if enabled:
        check_union(session, sandbox_row.id, resolve_schema_by_id(session, record.schema_id).class_name)
    return record


def list_datasets(session: Session, sandbox: str) -> list[dict[str, Any]]:
    return read_datasets(SessionReader(session), resolve_sandbox(session, sandbox).id)


def get_dataset(session: Session, sandbox: str, name: str) -> dict[str, Any]:
    return dataset_document(session, find_dataset(session, resolve_sandbox(session, sandbox).id, name))


# -- batches ----------------------------------------------------------------------------------------


def batch_document(record: BatchRecord, dataset_name: str | None = None) -> dict[str, Any]:
    duration = None
    if record.completed_at and record.created_at:
        duration = round((aware(record.completed_at) - aware(record.created_at)).total_seconds(), 3)
    return {
        "id": record.id,
        "dataset": dataset_name,
        "datasetId": record.dataset_id,
        "status": record.status,
        "source": record.source_name,
        "format": record.file_format,
        "sizeBytes": record.size_bytes,
        "inputRecordCount": record.input_record_count,
        "outputRecordCount": record.output_record_count,
        "failedRecordCount": record.failed_record_count,
        "errorThreshold": record.error_threshold,
        "schemaVersion": record.schema_version,
        "errors": [record.error] if record.error else [],
        "created": record.created_at.isoformat(),
        "completed": record.completed_at.isoformat() if record.completed_at else None,
        "durationSeconds": duration,
        # how the file was read; the warnings kept with them are shown once, on their own
        "options": {key: value for key, value in record.options.items() if key != "warnings"},
        "contentHash": record.content_hash,
        "warnings": record.options.get("warnings", []),
    }


def _find_batch(session: Session, sandbox_id: str, batch_id: str) -> BatchRecord:
    record = session.get(BatchRecord, batch_id)
    if record is None or record.sandbox_id != sandbox_id:
        raise NotFoundError(f"no batch with id {batch_id!r} in this sandbox", code="BATCH-0404-404", batch=batch_id)
    return record


def get_batch(session: Session, sandbox: str, batch_id: str) -> dict[str, Any]:
    record = _find_batch(session, resolve_sandbox(session, sandbox).id, batch_id)
    dataset = session.get(DatasetRecord, record.dataset_id)
    return batch_document(record, dataset.name if dataset else None)


def list_batches(session: Session, sandbox: str, dataset: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    query = select(BatchRecord, DatasetRecord.name).join(DatasetRecord).where(BatchRecord.sandbox_id == sandbox_id)
    if dataset is not None:
        query = query.where(BatchRecord.dataset_id == find_dataset(session, sandbox_id, dataset).id)
    rows = session.execute(query.order_by(BatchRecord.created_at.desc()).limit(max(1, min(limit, 1000))))
    return [batch_document(record, name) for record, name in rows]


def newest_batch(session: Session, sandbox: str, dataset: str) -> str:
    """The id of the dataset's newest batch, whatever its status (for `accord batch errors --dataset`)."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    record = find_dataset(session, sandbox_id, dataset)
    newest = session.scalar(
        select(BatchRecord.id).where(BatchRecord.dataset_id == record.id).order_by(BatchRecord.created_at.desc())
    )
    if newest is None:
        raise NotFoundError(f"dataset {record.name!r} has no batch yet", code="BATCH-0404-404", dataset=record.name)
    return newest


def delete_batch(workspace: Workspace, sandbox: str, batch_id: str) -> dict[str, Any]:
    """Remove a batch's rows, and whatever its ingestion left, from the lake; the record stays, marked `deleted`.

    Any batch but one still being ingested can be deleted: a failed one, or one whose ingestion
    stopped (a killed process: it is closed as failed when this job starts). Deleting again removes
    what a deletion killed halfway left."""
    with sandbox_job(workspace, sandbox, f"deletion of batch {batch_id}"):
        with workspace.catalog.session() as session:
            sandbox_id = resolve_sandbox(session, sandbox).id
            record = _find_batch(session, sandbox_id, batch_id)
            if record.status == "loading":
                running = holder(session, batch_lock(batch_id))
                who = f" by pid {running.owner.pid} since {running.since:%Y-%m-%d %H:%M:%S} UTC" if running else ""
                raise ConflictError(f"batch {batch_id} is still being ingested{who}; delete it once it has finished",
                                    code="BATCH-0409-409", batch=batch_id)  # fmt: skip
            record.status = "deleted"
            record.completed_at = record.completed_at or utcnow()
            dataset_id = record.dataset_id
        workspace.lake.remove_batch(sandbox_id, dataset_id, batch_id)
        workspace.lake.discard_label(batch_id)
    with workspace.catalog.session() as session:
        return get_batch(session, sandbox, batch_id)


def batch_errors(
    workspace: Workspace, sandbox: str, batch_id: str, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    """The batch's row diagnostics, in line order: line, row, original record and its errors."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        _find_batch(session, sandbox_id, batch_id)
    path = workspace.lake.diagnostics_file(sandbox_id, batch_id)
    if not path.exists():
        return
    import pyarrow.parquet as pq  # here, not at the top: catalog-only commands stay fast

    produced = 0
    # read no more than asked: a page shows the first few rows of a file that may hold millions
    for batch in pq.ParquetFile(path).iter_batches(batch_size=min(limit or 10_000, 10_000)):
        for row in batch.to_pylist():
            record = row["record"]
            # a row with no number is raw text the reader could not take (at its line), unless streaming left it
            # out: no line either, and the record as sent, a JSON object
            parsed = row["rowNumber"] is not None
            if parsed or row["lineNumber"] is None:
                with contextlib.suppress(TypeError, ValueError):
                    loaded = json.loads(record)
                    if parsed or isinstance(loaded, dict):
                        record, parsed = loaded, True
            yield {
                "file": row.get("file"),
                "lineNumber": row["lineNumber"],
                "rowNumber": row["rowNumber"],
                "_corrupt_record": None if parsed else record,
                "record": record if parsed else None,
                "_errors": row["errors"],
            }
            produced += 1
            if limit is not None and produced >= limit:
                return
