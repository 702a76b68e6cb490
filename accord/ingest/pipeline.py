"""The batch ingestion pipeline: read -> map -> validate -> write, as one recorded batch.

One pass of the engine reads the file, computes every mapped and calculated field and every
check, and writes the rows that pass and the rows that fail to two Parquet partitions. Only when
rows fail does a second pass number them and collect their errors for the diagnostics. The batch
becomes visible in one rename when it commits; a failed batch leaves nothing in the dataset."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from accord.catalog import BatchRecord, DatasetRecord, resolve_sandbox, utcnow
from accord.engine import connect, copy_to_parquet
from accord.errors import AccordError
from accord.ingest import exceptions as codes
from accord.ingest.formats import prepare, sniff_format
from accord.ingest.locate import locate
from accord.ingest.mapping.compiler import compile_mapping, default_mapping
from accord.ingest.mapping.model import MappingSet
from accord.ingest.readers import ReadOptions, SourceRelation, open_source
from accord.ingest.validation import ERROR_TYPE, conform
from accord.lake import batch_document, find_dataset
from accord.schema import ResolvedSchema, resolve_schema_by_id
from accord.workspace import Workspace

MAX_DIAGNOSTICS = 1_000_000
DIAGNOSTICS_SCHEMA = pa.schema(
    [
        ("rowNumber", pa.int64()),
        ("lineNumber", pa.int64()),
        ("record", pa.string()),
        ("errors", pa.list_(pa.struct([("code", pa.string()), ("path", pa.string()), ("message", pa.string())]))),
    ]
)

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
    """Which dataflow item this is, so that a committed item is never ingested twice."""


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
    the batch fails and none of its rows become visible.
    """
    say: Progress = progress or _silent
    threshold = workspace.settings.error_threshold if request.error_threshold is None else request.error_threshold
    if not 0 <= threshold <= 100:
        from accord.errors import InvalidInputError

        raise InvalidInputError(f"error threshold must be between 0 and 100, not {threshold}", code="INGEST-1004-400")
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        dataset = find_dataset(session, sandbox_id, request.dataset)
        schema = resolve_schema_by_id(session, dataset.schema_id)
        batch = BatchRecord(
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
        _finish(workspace, batch, outcome, threshold, staging, time.perf_counter() - started)
    except AccordError as exc:
        _fail(workspace, batch.id, exc.to_dict())
        exc.details.setdefault("batchId", batch.id)
        raise
    except BaseException:
        _fail(workspace, batch.id, {"code": "INGEST-1500-500", "message": "internal error during ingestion"})
        raise
    finally:
        workspace.lake.discard(batch.id)
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
    settings = workspace.settings
    name = request.source_name or request.path.name
    say("unpacking", None)
    prepared = prepare(request.path, staging / "input", settings.max_uncompressed_bytes)
    file_format = request.read.format or sniff_format(prepared.files[0])
    _update(workspace, batch.id, file_format=file_format, size_bytes=prepared.size_bytes)
    con = connect(settings)
    try:
        source = open_source(
            con, prepared.files, file_format, request.read, name, f"src_{batch.id}", settings.max_line_bytes
        )
        mapped = (
            compile_mapping(request.mapping, source.table, schema)
            if request.mapping is not None
            else default_mapping(source.table, schema)
        )
        conformed = conform(schema, mapped)
        say("reading, mapping and validating", 0.0)
        rows_dir = staging / "rows"
        ok = conformed.ok()
        record = ibis.struct({c: source.table[c] for c in source.table.columns}).cast("json").cast("string")
        output = source.table.select(
            **conformed.columns,
            _ok=ok,
            # Only failing rows carry their errors and original values; for the others these are null.
            _acc_errors=ibis.ifelse(ok, ibis.null().cast(ERROR_TYPE), conformed.errors()),
            _acc_record=ibis.ifelse(ok, ibis.null().cast("string"), record),
        )
        try:
            with _watch(con, say, "reading, mapping and validating"):
                total = copy_to_parquet(con, output, str(rows_dir), partition_by="_ok")
        except Exception as exc:  # the engine's own errors while reading: a file-level problem
            import duckdb

            if not isinstance(exc, duckdb.Error):
                raise
            raise codes.UnreadableFileError(name, f"cannot be read: {str(exc).splitlines()[0]}") from None
        good_files = sorted((rows_dir / "_ok=true").glob("*.parquet"))
        good = sum(pq.read_metadata(f).num_rows for f in good_files)
        outcome = _Outcome(total=total, good=good, failed_rows=total - good, notes=list(source.notes))
        corrupt = _corrupt_rows(con, source, prepared.files)
        outcome.corrupt = len(corrupt)
        if outcome.failed_rows or corrupt:
            say("collecting row errors", None)
            bad_files = sorted((rows_dir / "_ok=false").glob("*.parquet"))
            numbers = None if source.dialect else _number_failing_rows(con, source.table, ok)
            _write_diagnostics(source, bad_files, corrupt, prepared.files, staging / "errors.parquet", numbers)
        return outcome
    finally:
        con.disconnect()


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


def _corrupt_rows(con: Any, source: SourceRelation, files: list[Path]) -> pa.Table:
    """Rows the parser rejected, once each, with their physical line numbers."""
    empty = pa.table(
        {"line": pa.array([], pa.int64()), "text": pa.array([], pa.string()), "reason": pa.array([], pa.string())}
    )
    if source.rejects_table is None:
        return empty
    rejected = con.con.table(source.rejects_table).aggregate("count(*)").fetchone()
    if not rejected or rejected[0] == 0:  # the usual case: skip building and compiling the query
        return empty
    table = con.table(source.rejects_table)
    rows = (
        table.group_by(["file_id", "line_byte_position"])
        .aggregate(
            text=table.csv_line.first(),
            reason=table.error_type.cast("string")
            .concat(ibis.literal(": "), table.error_message)
            .argmin(table.column_idx),
        )
        .order_by(["file_id", "line_byte_position"])
        .to_pyarrow()
    )
    if rows.num_rows == 0:
        return empty
    lines = np.zeros(rows.num_rows, dtype=np.int64)
    file_ids = rows["file_id"].to_numpy()
    offsets = rows["line_byte_position"].to_numpy()
    for file_id in np.unique(file_ids):
        chosen = file_ids == file_id
        lines[chosen] = _lines_at(files[int(file_id)], offsets[chosen])
    return pa.table({"line": pa.array(lines), "text": rows["text"], "reason": rows["reason"]})


def _lines_at(path: Path, offsets: np.ndarray) -> np.ndarray:
    """The 1-based line number at each (ascending) byte offset of a file, in one sequential read."""
    result = np.empty(len(offsets), dtype=np.int64)
    newlines, position, index = 0, 0, 0
    with path.open("rb") as handle:
        while index < len(offsets):
            chunk = handle.read(8 * 2**20)
            end = position + len(chunk)
            while index < len(offsets) and (offsets[index] < end or not chunk):
                result[index] = newlines + chunk[: max(0, int(offsets[index]) - position)].count(b"\n") + 1
                index += 1
            if not chunk:
                break
            newlines += chunk.count(b"\n")
            position = end
    return result


def _number_failing_rows(con: Any, table: Any, ok: Any) -> pa.Table:
    """Record numbers and original values of failing rows of JSON or Parquet input, in file order.

    These formats have no line-level parse errors and are smaller in practice; numbering every row
    in one ordered pass is simple and exact."""
    numbered = table.mutate(_row=ibis.row_number().cast("int64") + 1)
    record = ibis.struct({c: numbered[c] for c in table.columns}).cast("json").cast("string")
    failing = numbered.filter(~ok).select(_row=numbered._row, _acc_record=record).limit(MAX_DIAGNOSTICS)
    return failing.to_pyarrow()


def _write_diagnostics(
    source: SourceRelation,
    bad_files: list[Path],
    corrupt: pa.Table,
    files: list[Path],
    target: Path,
    numbers: pa.Table | None = None,
) -> None:
    """Failing rows with their errors, original values, record and line numbers; plus corrupt rows."""
    invalid = (
        pa.concat_tables([pq.read_table(f, columns=["_acc_record", "_acc_errors"]) for f in bad_files])
        if bad_files
        else pa.table({"_acc_record": pa.array([], pa.string()), "_acc_errors": pa.array([], ERROR_TYPE.to_pyarrow())})
    ).slice(0, MAX_DIAGNOSTICS)
    records = [json.loads(r) for r in invalid["_acc_record"].to_pylist()]
    rejected = np.sort(corrupt["line"].to_numpy())
    if source.dialect is not None and records:
        raw = [tuple("" if row.get(c) is None else str(row[c]) for c in source.dialect.columns) for row in records]
        located = locate(files[0], source.dialect, raw) if len(files) == 1 else None
        if located is not None:
            compact = located.ordinal + located.newlines_before + source.header_lines
            lines = np.where(located.ordinal > 0, _actual_lines(compact, rejected), 0)
            row_numbers = located.ordinal + np.searchsorted(rejected, lines, side="right")
        else:  # several files in one archive: positions are not meaningful across them
            lines = row_numbers = np.zeros(len(records), dtype=np.int64)
    elif numbers is not None and records:
        by_record: dict[str, list[int]] = {}
        for number, text in zip(numbers["_row"].to_pylist(), numbers["_acc_record"].to_pylist(), strict=True):
            by_record.setdefault(text, []).append(number)
        texts = invalid["_acc_record"].to_pylist()
        row_numbers = np.array([by_record[t].pop(0) if by_record.get(t) else 0 for t in texts], dtype=np.int64)
        lines = row_numbers.copy()  # JSON lines: one record per line; otherwise the record's position
    else:
        lines = row_numbers = np.zeros(len(records), dtype=np.int64)
    pieces = [
        pa.table(
            {
                "rowNumber": pa.array([int(n) or None for n in row_numbers], pa.int64()),
                "lineNumber": pa.array([int(n) or None for n in lines], pa.int64()),
                "record": invalid["_acc_record"],
                "errors": invalid["_acc_errors"].cast(DIAGNOSTICS_SCHEMA.field("errors").type),
            },
            schema=DIAGNOSTICS_SCHEMA,
        )
    ]
    if corrupt.num_rows:
        errors = [[{"code": codes.CORRUPT_ROW, "path": "", "message": r}] for r in corrupt["reason"].to_pylist()]
        pieces.append(
            pa.table(
                {
                    "rowNumber": pa.nulls(corrupt.num_rows, pa.int64()),
                    "lineNumber": corrupt["line"],
                    "record": corrupt["text"],
                    "errors": pa.array(errors, DIAGNOSTICS_SCHEMA.field("errors").type),
                },
                schema=DIAGNOSTICS_SCHEMA,
            )
        )
    combined = pa.concat_tables(pieces).sort_by([("lineNumber", "ascending")])
    pq.write_table(combined, target, compression="zstd")


def _actual_lines(compact: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """Line numbers once the rejected lines, which the valid rows' count skips, are put back."""
    rejected = np.sort(rejected)
    lines = compact.copy()
    for _ in range(len(rejected) + 1):
        updated = compact + np.searchsorted(rejected, lines, side="right")
        if np.array_equal(updated, lines):
            break
        lines = updated
    return lines


def _finish(
    workspace: Workspace, batch: BatchRecord, outcome: _Outcome, threshold: float, staging: Path, seconds: float
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
    diagnostics = staging / "errors.parquet"
    if diagnostics.exists():
        workspace.lake.commit_diagnostics(diagnostics, batch.sandbox_id, batch.id)
    if error is None:
        good_dir = staging / "rows" / "_ok=true"
        good_dir.mkdir(parents=True, exist_ok=True)
        workspace.lake.commit(good_dir, batch.sandbox_id, batch.dataset_id, batch.id)
    _update(
        workspace,
        batch.id,
        status="failed" if error else "success",
        input_record_count=total_input,
        output_record_count=0 if error else outcome.good,
        failed_record_count=failed,
        error=error,
        completed_at=utcnow(),
        options={
            **batch.options,
            "durationSeconds": round(seconds, 3),
            **({"notes": outcome.notes} if outcome.notes else {}),
        },
    )


def _update(workspace: Workspace, batch_id: str, **values: Any) -> None:
    with workspace.catalog.session() as session:
        record = session.get(BatchRecord, batch_id)
        assert record is not None
        for key, value in values.items():
            setattr(record, key, value)


def _fail(workspace: Workspace, batch_id: str, error: dict[str, Any]) -> None:
    _update(workspace, batch_id, status="failed", error=error, completed_at=utcnow())


__all__ = ["ERROR_TYPE", "IngestRequest", "ingest_file"]
