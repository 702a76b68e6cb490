"""The batch ingestion pipeline: read -> map -> validate -> write, as one recorded batch.

One pass of the engine reads the file, computes every mapped and calculated field and every
check, and writes the rows that pass and the rows that fail to two Parquet partitions; the failing
rows carry their errors, their original record and, where the reader numbers records (Parquet,
JSON arrays), their number. Failing rows of line-oriented files (delimited text, JSON lines) are
found again by their text, in parallel over byte ranges of the file (see `locate`). The batch
becomes visible in one rename when it commits; a failed batch leaves nothing in the dataset."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import pyarrow.parquet as pq
from sqlalchemy import delete, insert

from accord.catalog import BatchRecord, BatchSourceRecord, DatasetRecord, new_id, resolve_sandbox, utcnow
from accord.engine import connect, copy_to_parquet
from accord.errors import AccordError, InvalidInputError, known_failure
from accord.ingest import exceptions as codes
from accord.ingest.diagnostics import append_left_out, corrupt_rows, write_diagnostics
from accord.ingest.duplicates import ContentHasher, duplicate_warning, earlier_batch
from accord.ingest.exceptions import engine_message
from accord.ingest.formats import prepare, sniff_format
from accord.ingest.mapping.compiler import compile_mapping, default_mapping
from accord.ingest.mapping.model import MappingSet
from accord.ingest.readers import ReadOptions, open_source
from accord.ingest.validation import (
    ERROR_TYPE,
    RECORD_LIMITS,
    IdentityCheck,
    any_failed,
    conform,
    row_errors,
    size_check,
)
from accord.jobs import ensure_held, hold
from accord.lake import batch_document, batch_lock, find_dataset, reap_abandoned
from accord.schema import ResolvedSchema, resolve_schema_by_id
from accord.workspace import Workspace

Progress = Callable[[str, float | None], None]
"""Told the stage of the work and, where known, the fraction done (0..1)."""


def _silent(_stage: str, _fraction: float | None = None) -> None:
    return None


@dataclass
class IngestRequest:
    """What to ingest, where to, and how."""

    dataset: str
    path: Path
    mapping: MappingSet | None = None
    error_threshold: float | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    source_name: str | None = None
    source_key: str | None = None
    """Which dataflow item this is (shown on the batch; used to close batches of an abandoned run)."""
    source_keys: tuple[str, ...] = ()
    """The source items this batch ingests; recorded when it commits, so none is ingested twice."""
    more_paths: tuple[Path, ...] = ()
    """Further files ingested in the same batch (they must share format and columns)."""
    more_names: tuple[str, ...] = ()
    skip_duplicate_files: bool = False
    """Skip the file, ingesting nothing, when a committed batch of the dataset ingested the same content."""
    content_hash: str | None = None
    """SHA-256 of the input, when the caller has it already (an upload hashed as it arrived)."""
    left_out: tuple[LeftOut, ...] = ()
    """What the caller left out of the input (streaming's schema contracts), for the batch's diagnostics: rows
    left out count as failed rows; values left out of a row that is in the input are noted. With rows left
    out, the input may be an empty file."""


@dataclass(frozen=True)
class LeftOut:
    """A record, or values of it, that the caller kept out of a batch's input, and why (code, path, message)."""

    record: str
    errors: tuple[dict[str, str], ...]
    row: bool = True
    """The whole row was left out (else only the values the errors name)."""


@dataclass
class _Outcome:
    total: int = 0
    good: int = 0
    failed_rows: int = 0
    corrupt: int = 0
    notes: list[str] = field(default_factory=list)


def ingest_file(
    workspace: Workspace, sandbox: str, request: IngestRequest, progress: Progress | None = None
) -> dict[str, Any]:
    """Ingest one file (or archive) into a dataset as one batch; returns the batch record.

    Problems with the file as a whole or with the mapping raise before any row is read (the batch
    is recorded as failed). Row problems go to the batch's diagnostics; past the error threshold
    the batch fails and none of its rows become visible. While the batch is `loading` its ingestion
    holds the batch's lock; a batch whose ingestion was killed is closed as failed by the next job.
    """
    reap_abandoned(workspace)
    batch_id = new_id()
    settings = workspace.settings
    with hold(workspace.catalog, batch_lock(batch_id), f"ingestion of batch {batch_id}", wait_seconds=0,
              stale_seconds=settings.stale_run_seconds):  # fmt: skip
        return _hashing(workspace, sandbox, request, progress, batch_id)


def _hashing(
    workspace: Workspace, sandbox: str, request: IngestRequest, progress: Progress | None, batch_id: str
) -> dict[str, Any]:
    """The ingestion with its threshold checked, the input's content hash computed beside it."""
    say: Progress = progress or _silent
    threshold = workspace.settings.error_threshold if request.error_threshold is None else request.error_threshold
    if not 0 <= threshold <= 100:
        raise InvalidInputError(f"error threshold must be between 0 and 100, not {threshold}", code="INGEST-1004-400")
    for path in (request.path, *request.more_paths):  # nothing to read: no batch to record
        if not path.is_file():
            why = "it is a folder" if path.is_dir() else "No such file or directory"
            raise codes.UnreadableFileError(request.source_name or path.name, f"cannot open the file ({why})")
    hasher = None if request.content_hash else ContentHasher([request.path, *request.more_paths])
    try:
        return _ingest(workspace, sandbox, request, threshold, hasher, say, batch_id)
    finally:
        if hasher is not None:
            hasher.stop()


def _ingest(
    workspace: Workspace,
    sandbox: str,
    request: IngestRequest,
    threshold: float,
    hasher: ContentHasher | None,
    say: Progress,
    batch_id: str,
) -> dict[str, Any]:
    def content_hash() -> str | None:
        return request.content_hash or (hasher.result() if hasher else None)

    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        dataset = find_dataset(session, sandbox_id, request.dataset)
        schema = resolve_schema_by_id(session, dataset.schema_id)
        if request.skip_duplicate_files and (digest := content_hash()):
            earlier = earlier_batch(session, dataset.id, digest)
            if earlier is not None:  # nothing is recorded: the earlier batch is the answer
                return {**batch_document(earlier, dataset.name), "skipped": True,
                        "warnings": [duplicate_warning(earlier, dataset.name, skipped=True)]}  # fmt: skip
        batch = BatchRecord(
            id=batch_id,
            sandbox_id=sandbox_id,
            dataset_id=dataset.id,
            status="loading",
            source_name=request.source_name or request.path.name,
            error_threshold=threshold,
            schema_version=schema.version,
            options=request.read.model_dump(exclude_none=True),
            source_key=request.source_key,
        )
        session.add(batch)
    started = time.perf_counter()
    staging = workspace.lake.staging(batch.id)
    try:
        outcome = _run(workspace, dataset, schema, batch, request, staging, say)
        seconds = time.perf_counter() - started
        _finish(workspace, batch, outcome, threshold, staging, seconds, request.source_keys, content_hash())
    except AccordError as exc:
        _fail(workspace, batch.id, exc.to_dict())
        exc.details.setdefault("batchId", batch.id)
        raise
    except BaseException as exc:
        if (known := known_failure(exc)) is not None:  # the engine out of memory: say so, and what to do
            _fail(workspace, batch.id, known.to_dict())
            known.details.setdefault("batchId", batch.id)
            raise known from None
        _fail(workspace, batch.id, {"code": "INGEST-1500-500", "message": "internal error during ingestion"})
        raise
    finally:
        workspace.lake.discard(staging)
    with workspace.catalog.session() as session:
        record = session.get(BatchRecord, batch.id)
        assert record is not None
        return batch_document(record, dataset.name)


def _run(
    workspace: Workspace,
    dataset: DatasetRecord,
    schema: ResolvedSchema,
    batch: BatchRecord,
    request: IngestRequest,
    staging: Path,
    say: Progress,
) -> _Outcome:
    if not request.left_out:
        return _read(workspace, dataset, schema, batch, request, staging, say)
    if request.more_paths or request.path.stat().st_size > 0:
        outcome = _read(workspace, dataset, schema, batch, request, staging, say)
    else:  # every row was left out: nothing to read
        outcome = _Outcome()
        _update(workspace, batch.id, file_format=request.read.format or "json", size_bytes=0)
    rows = sum(1 for item in request.left_out if item.row)
    outcome.total += rows
    outcome.failed_rows += rows
    if values := len(request.left_out) - rows:
        outcome.notes.append(f"{values:,} rows were taken without values that did not fit the schema (see the "
                             "batch's errors)")  # fmt: skip
    append_left_out(staging / "errors.parquet", request.source_name or request.path.name, request.left_out)
    return outcome


def _read(
    workspace: Workspace,
    dataset: DatasetRecord,
    schema: ResolvedSchema,
    batch: BatchRecord,
    request: IngestRequest,
    staging: Path,
    say: Progress,
) -> _Outcome:
    settings = workspace.settings
    name = request.source_name or request.path.name
    say("unpacking", None)
    files, names, size = _prepare_all(request, staging, settings.max_uncompressed_bytes, settings.max_compression_ratio)
    formats = {request.read.format} if request.read.format else {sniff_format(f) for f in files}
    if len(formats) > 1:
        raise codes.UnreadableFileError(name, f"mixes formats ({', '.join(sorted(f for f in formats if f))})",
                                        "ingest each format in its own batch")  # fmt: skip
    file_format = formats.pop() or "csv"
    _update(workspace, batch.id, file_format=file_format, size_bytes=size)
    con = connect(settings)
    try:
        # For delimited text the parser enforces the record size limit for free: a longer line is rejected.
        max_line = min(settings.max_line_bytes, RECORD_LIMITS.get(schema.class_name, settings.max_line_bytes))
        # the connection is this batch's own: its tables are named alike in every batch, so that a stream's
        # batches of one shape share their compiled statements (`engine.compiled`)
        source = open_source(con, files, file_format, request.read, name, "src", max_line)
        hidden = source.hidden
        mapped = (
            compile_mapping(request.mapping, source.table, schema, hidden)
            if request.mapping is not None
            else default_mapping(source.table, schema, hidden)
        )
        conformed = conform(schema, mapped, identity_check(workspace, batch.sandbox_id, schema))
        if source.dialect is None:  # JSON and Parquet: measure the records
            conformed.checks.append(size_check(source.table, schema.class_name, hidden, source.record))
        say("reading, mapping and validating", 0.0)
        rows_dir = staging / "rows"
        unreadable = any_failed(source.unreadable)
        ok = ~unreadable & conformed.ok()
        table = source.table
        record = source.record
        if record is None:
            record = ibis.struct({c: table[c] for c in table.columns if c not in hidden}).cast("json").cast("string")
        # A row the reader could not read fails with that error alone; the others with all they fail.
        errors = ibis.ifelse(unreadable, row_errors(source.unreadable), conformed.errors())
        # Only failing rows carry their errors, original values, file and number; for the others these are null.
        failing_only = {"_acc_errors": ibis.ifelse(ok, ibis.null().cast(ERROR_TYPE), errors),
                        "_acc_record": ibis.ifelse(ok, ibis.null().cast("string"), record)}  # fmt: skip
        for column in (source.file_column, source.row_column):
            if column:
                failing_only[column] = ibis.ifelse(ok, ibis.null().cast(table[column].type()), table[column])
        output = table.select(**conformed.columns, _ok=ok, **failing_only)
        try:
            with _watch(con, say, "reading, mapping and validating"):
                total = copy_to_parquet(con, output, str(rows_dir), partition_by="_ok")
        except Exception as exc:  # the engine's own errors while reading: a file-level problem
            import duckdb

            if not isinstance(exc, duckdb.Error):
                raise
            raise codes.UnreadableFileError(name, f"cannot be read: {engine_message(exc, files, name)}") from None
        good_files = sorted((rows_dir / "_ok=true").glob("*.parquet"))
        good = sum(pq.read_metadata(f).num_rows for f in good_files)
        outcome = _Outcome(total=total, good=good, failed_rows=total - good, notes=list(source.notes))
        corrupt = corrupt_rows(con, source, files)
        outcome.corrupt = corrupt.num_rows if corrupt is not None else 0
        if outcome.failed_rows or outcome.corrupt:
            say("collecting row errors", None)
            bad_files = sorted((rows_dir / "_ok=false").glob("*.parquet"))
            threads = settings.duckdb_threads or os.cpu_count() or 1
            write_diagnostics(source, bad_files, corrupt, files, names, staging / "errors.parquet", threads)
        return outcome
    finally:
        con.disconnect()


def identity_check(workspace: Workspace, sandbox_id: str, schema: ResolvedSchema) -> IdentityCheck:
    from accord.identity import namespaces, rule_for

    with workspace.catalog.session() as session:
        known = namespaces(session, sandbox_id)
    fields = {d.path: (d.namespace, rule_for(known[d.namespace])) for d in schema.identities if d.namespace in known}
    return IdentityCheck(fields, sorted(known))


def _prepare_all(
    request: IngestRequest, staging: Path, most_bytes: int, ratio: float
) -> tuple[list[Path], dict[str, str], int]:
    """Unpack every input; returns the plain files, a readable name for each, and the bytes received."""
    files: list[Path] = []
    names: dict[str, str] = {}
    size = 0
    paths = [request.path, *request.more_paths]
    labels = (
        [request.source_name or request.path.name, *request.more_names]
        if len(paths) > 1
        else [request.source_name or request.path.name]
    )
    for index, (path, label) in enumerate(zip(paths, labels, strict=False)):
        prepared = prepare(path, staging / "input" / str(index), most_bytes, ratio)
        size += prepared.size_bytes
        for member, file in enumerate(prepared.files):
            files.append(file)
            names[str(file)] = label if len(prepared.files) == 1 else f"{label}#{member + 1}"
    return files, names, size


@contextmanager
def _watch(con: Any, say: Progress, stage: str) -> Iterator[None]:
    """Report the engine's own progress on the running query from a side thread."""
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.25):
            try:
                fraction = con.con.query_progress()
            except Exception:  # the query may finish between the check and the call
                return
            if fraction is not None and fraction >= 0:
                say(stage, min(fraction / 100, 1.0))

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        say(stage, 1.0)


def _finish(
    workspace: Workspace,
    batch: BatchRecord,
    outcome: _Outcome,
    threshold: float,
    staging: Path,
    seconds: float,
    source_keys: tuple[str, ...] = (),
    content_hash: str | None = None,
) -> None:
    total_input = outcome.total + outcome.corrupt
    failed = outcome.failed_rows + outcome.corrupt
    error: dict[str, Any] | None = None
    if total_input == 0:
        error = {"code": codes.NO_RECORDS, "message": "the file holds no data rows (only a header, or nothing)"}
    elif failed * 100 > threshold * total_input:
        error = {
            "code": codes.THRESHOLD_EXCEEDED,
            "message": f"{failed:,} of {total_input:,} rows ({failed * 100 / total_input:.2f}%) failed, over the "
            f"error threshold of {threshold:g}%; nothing of this batch was added (see `accord batch errors`)",
        }
    ensure_held(workspace.catalog)  # the batch's lock: a killed-looking ingestion was closed by another job
    diagnostics = staging / "errors.parquet"
    if diagnostics.exists():
        workspace.lake.commit_diagnostics(diagnostics, batch.sandbox_id, batch.id)
    if error is None:
        good_dir = staging / "rows" / "_ok=true"
        good_dir.mkdir(parents=True, exist_ok=True)
        workspace.lake.commit(good_dir, batch.sandbox_id, batch.dataset_id, batch.id)
    with workspace.catalog.session() as session:  # one transaction: the batch commits with its source items
        record = session.get(BatchRecord, batch.id)
        assert record is not None
        warnings = []
        if content_hash and error is None:
            earlier = earlier_batch(session, batch.dataset_id, content_hash, other_than=batch.id)
            dataset = session.get(DatasetRecord, batch.dataset_id)
            if earlier is not None and dataset is not None:
                warnings.append(duplicate_warning(earlier, dataset.name, skipped=False))
        record.content_hash = content_hash
        record.status = "failed" if error else "success"
        record.input_record_count = total_input
        record.output_record_count = 0 if error else outcome.good
        record.failed_record_count = failed
        record.error = error
        record.completed_at = utcnow()
        record.options = {
            **batch.options,
            "durationSeconds": round(seconds, 3),
            **({"notes": outcome.notes} if outcome.notes else {}),
            **({"warnings": warnings} if warnings else {}),
        }
        if error is None and source_keys:  # a key already recorded (an item ingested again) now names this batch
            keys = list(dict.fromkeys(source_keys))
            for start in range(0, len(keys), 500):
                taken = BatchSourceRecord.source_key.in_(keys[start : start + 500])
                session.execute(delete(BatchSourceRecord).where(taken))
            session.execute(insert(BatchSourceRecord), [{"source_key": key, "batch_id": batch.id} for key in keys])


def _update(workspace: Workspace, batch_id: str, **values: Any) -> None:
    with workspace.catalog.session() as session:
        record = session.get(BatchRecord, batch_id)
        assert record is not None
        for key, value in values.items():
            setattr(record, key, value)


def _fail(workspace: Workspace, batch_id: str, error: dict[str, Any]) -> None:
    _update(workspace, batch_id, status="failed", error=error, completed_at=utcnow())


__all__ = ["ERROR_TYPE", "IngestRequest", "ingest_file"]
