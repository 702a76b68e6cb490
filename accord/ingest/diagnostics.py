"""Row diagnostics of a batch: which rows failed, where they sit in their file, and why.

Failing rows leave the engine's one pass with their errors and original values; here they get
their record and physical line numbers (found again by content in their file, see `locate`),
and rows the parser rejected are added with the lines the parser reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from accord.ingest import exceptions as codes
from accord.ingest.locate import locate
from accord.ingest.readers import SourceRelation
from accord.ingest.validation import ERROR_TYPE

MAX_DIAGNOSTICS = 1_000_000
ERRORS = pa.list_(pa.struct([("code", pa.string()), ("path", pa.string()), ("message", pa.string())]))
DIAGNOSTICS_SCHEMA = pa.schema(
    [("file", pa.string()), ("rowNumber", pa.int64()), ("lineNumber", pa.int64()), ("record", pa.string()),
     ("errors", ERRORS)]
)  # fmt: skip


def corrupt_rows(con: Any, source: SourceRelation, files: list[Path]) -> pa.Table:
    """Rows the parser rejected, once each, with their file and physical line number."""
    empty = pa.table({"file": pa.array([], pa.string()), "line": pa.array([], pa.int64()),
                      "text": pa.array([], pa.string()), "reason": pa.array([], pa.string())})  # fmt: skip
    if source.rejects_table is None:
        return empty
    rejected = con.con.table(source.rejects_table).aggregate("count(*)").fetchone()
    if not rejected or rejected[0] == 0:  # the usual case: skip building and compiling the query
        return empty
    table = con.table(source.rejects_table)
    reason = table.error_type.cast("string").concat(ibis.literal(": "), table.error_message)
    rows = (
        table.group_by(["file_id", "line_byte_position"])
        .aggregate(text=table.csv_line.first(), reason=reason.argmin(table.column_idx))
        .order_by(["file_id", "line_byte_position"])
        .to_pyarrow()
    )  # fmt: skip
    lines = np.zeros(rows.num_rows, dtype=np.int64)
    file_ids = rows["file_id"].to_numpy()
    offsets = rows["line_byte_position"].to_numpy()
    for file_id in np.unique(file_ids):
        chosen = file_ids == file_id
        lines[chosen] = _lines_at(files[int(file_id)], offsets[chosen])
    names = [str(files[int(i)]) for i in file_ids]
    return pa.table({"file": pa.array(names, pa.string()), "line": pa.array(lines), "text": rows["text"],
                     "reason": rows["reason"]})  # fmt: skip


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


def _corrupt_error(reason: str) -> dict[str, str]:
    """A parser reject as a row error; a line over the limit is a record that is too large."""
    if reason.startswith("LINE SIZE OVER MAXIMUM"):
        return {"code": codes.RECORD_TOO_LARGE, "path": "", "message": f"the record is too large ({reason})"}
    return {"code": codes.CORRUPT_ROW, "path": "", "message": reason}


def actual_lines(compact: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """Line numbers once the rejected lines, which the valid rows' count skips, are put back."""
    rejected = np.sort(rejected)
    lines = compact.copy()
    for _ in range(len(rejected) + 1):
        updated = compact + np.searchsorted(rejected, lines, side="right")
        if np.array_equal(updated, lines):
            break
        lines = updated
    return lines


def number_failing_rows(con: Any, table: Any, ok: Any, hidden: frozenset[str]) -> pa.Table:
    """Record numbers and original values of failing rows of JSON or Parquet input, in file order.

    These formats have no line-level parse errors and are smaller in practice; numbering every row
    in one ordered pass is simple and exact."""
    numbered = table.mutate(_row=ibis.row_number().cast("int64") + 1)
    record = ibis.struct({c: numbered[c] for c in table.columns if c not in hidden}).cast("json").cast("string")
    failing = numbered.filter(~ok).select(_row=numbered._row, _acc_record=record).limit(MAX_DIAGNOSTICS)
    return failing.to_pyarrow()


def write_diagnostics(
    source: SourceRelation,
    bad_files: list[Path],
    corrupt: pa.Table,
    files: list[Path],
    names: dict[str, str],
    target: Path,
    numbers: pa.Table | None = None,
) -> None:
    """Failing rows with their file, errors, original values and numbers; plus the corrupt rows."""
    columns = ["_acc_record", "_acc_errors"] + ([source.file_column] if source.file_column else [])
    invalid = (
        pa.concat_tables([pq.read_table(f, columns=columns) for f in bad_files])
        if bad_files
        else pa.table({"_acc_record": pa.array([], pa.string()), "_acc_errors": pa.array([], ERROR_TYPE.to_pyarrow())})
    ).slice(0, MAX_DIAGNOSTICS)
    count = invalid.num_rows
    row_numbers = np.zeros(count, dtype=np.int64)
    lines = np.zeros(count, dtype=np.int64)
    row_files = (
        [str(f) for f in invalid[source.file_column].to_pylist()]
        if source.file_column and source.file_column in invalid.column_names
        else [str(files[0])] * count
    )
    if source.dialect is not None and count:
        records = [json.loads(r) for r in invalid["_acc_record"].to_pylist()]
        corrupt_files = np.array(corrupt["file"].to_pylist(), dtype=object)
        corrupt_lines = corrupt["line"].to_numpy()
        for file in sorted(set(row_files)):
            chosen = np.array([f == file for f in row_files])
            raw = [tuple("" if records[i].get(c) is None else str(records[i][c]) for c in source.dialect.columns)
                   for i in np.flatnonzero(chosen)]  # fmt: skip
            located = locate(Path(file), source.dialect, raw)
            rejected = np.sort(corrupt_lines[corrupt_files == file]) if len(corrupt_lines) else corrupt_lines
            compact = located.ordinal + located.newlines_before + source.header_lines
            found = np.where(located.ordinal > 0, actual_lines(compact, rejected), 0)
            lines[chosen] = found
            row_numbers[chosen] = np.where(
                found > 0, located.ordinal + np.searchsorted(rejected, found, side="right"), 0
            )
    elif numbers is not None and count:
        by_record: dict[str, list[int]] = {}
        for number, text in zip(numbers["_row"].to_pylist(), numbers["_acc_record"].to_pylist(), strict=True):
            by_record.setdefault(text, []).append(number)
        texts = invalid["_acc_record"].to_pylist()
        row_numbers = np.array([by_record[t].pop(0) if by_record.get(t) else 0 for t in texts], dtype=np.int64)
        lines = row_numbers.copy()  # JSON lines: one record per line; otherwise the record's position
    pieces = [
        pa.table(
            {
                "file": pa.array([names.get(f, Path(f).name) for f in row_files], pa.string()),
                "rowNumber": pa.array([int(n) or None for n in row_numbers], pa.int64()),
                "lineNumber": pa.array([int(n) or None for n in lines], pa.int64()),
                "record": invalid["_acc_record"],
                "errors": invalid["_acc_errors"].cast(ERRORS),
            },
            schema=DIAGNOSTICS_SCHEMA,
        )
    ]
    if corrupt.num_rows:
        errors = [[_corrupt_error(r)] for r in corrupt["reason"].to_pylist()]
        pieces.append(
            pa.table(
                {
                    "file": pa.array([names.get(f, Path(f).name) for f in corrupt["file"].to_pylist()], pa.string()),
                    "rowNumber": pa.nulls(corrupt.num_rows, pa.int64()),
                    "lineNumber": corrupt["line"],
                    "record": corrupt["text"],
                    "errors": pa.array(errors, ERRORS),
                },
                schema=DIAGNOSTICS_SCHEMA,
            )
        )
    combined = pa.concat_tables(pieces).sort_by([("file", "ascending"), ("lineNumber", "ascending")])
    pq.write_table(combined, target, compression="zstd")
