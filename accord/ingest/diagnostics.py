"""Row diagnostics of a batch: which rows failed, where they sit in their file, and why.

Failing rows leave the engine's one pass with their errors, original record and (Parquet, JSON
arrays) their number; rows of line-oriented files get their record and physical line numbers here,
found again by their text in their file (see `locate`), and rows the parser rejected are added with
the lines the parser reported."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot.expressions as sge

from accord.ingest import exceptions as codes
from accord.ingest.locate import FoundLines, find_lines, locate
from accord.ingest.readers import SourceRelation
from accord.ingest.validation import ERROR_TYPE

MAX_DIAGNOSTICS = 1_000_000
ERRORS = pa.list_(pa.struct([("code", pa.string()), ("path", pa.string()), ("message", pa.string())]))
DIAGNOSTICS_SCHEMA = pa.schema(
    [("file", pa.string()), ("rowNumber", pa.int64()), ("lineNumber", pa.int64()), ("record", pa.string()),
     ("errors", ERRORS)]
)  # fmt: skip


def corrupt_rows(con: Any, source: SourceRelation, files: list[Path]) -> pa.Table | None:
    """Rows the parser rejected, once each, with their file and physical line number; None if none was.

    (Nothing is built when none was: Arrow imports pandas for the smallest table, which costs more
    than a clean file's whole diagnostics.)"""
    if source.rejects_table is None:
        return None
    # DuckDB's own relation API looks its argument up among Python objects (importing pandas to do so)
    counted = sge.select(sge.Count(this=sge.Star())).from_(sge.to_identifier(source.rejects_table, quoted=True))
    rejected = con.raw_sql(counted.sql("duckdb")).fetchone()
    if not rejected or rejected[0] == 0:  # the usual case: skip building and compiling the query
        return None
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


def write_diagnostics(
    source: SourceRelation,
    bad_files: list[Path],
    corrupt: pa.Table | None,
    files: list[Path],
    names: dict[str, str],
    target: Path,
    threads: int = 1,
) -> None:
    """Failing rows with their file, errors, original record and numbers; plus the corrupt rows.

    Arrow's conveniences (`pa.array`, `pa.table`, `read_table`, `to_numpy`) import pandas, which
    costs more than the diagnostics of a large file: columns are built from their buffers instead."""
    carried = [c for c in (source.file_column, source.row_column) if c]
    columns = ["_acc_record", "_acc_errors", *carried]
    parts = [pq.ParquetFile(f).read(columns=columns) for f in bad_files]
    invalid = (pa.concat_tables(parts) if parts else _empty_failing()).slice(0, MAX_DIAGNOSTICS)
    count = invalid.num_rows
    row_files = (
        [str(f) for f in invalid[source.file_column].to_pylist()]
        if source.file_column and source.file_column in invalid.column_names
        else [str(files[0])] * count
    )
    if source.row_column and count:  # numbered by the reader, in the one pass
        row_numbers = _int64_values(invalid[source.row_column])
        lines = row_numbers.copy()  # a JSON array's or Parquet file's lines say nothing: the record's position
    else:
        row_numbers, lines = _numbers_by_content(source, invalid, row_files, corrupt, threads)
    if source.unreadable and count:  # a record the reader could not read is kept as raw text, with no number
        first_codes = [errors[0]["code"] if errors else "" for errors in invalid["_acc_errors"].to_pylist()]
        row_numbers = np.where([code in UNREAD for code in first_codes], 0, row_numbers)
    pieces = [
        pa.Table.from_arrays(
            [
                _strings([names.get(f, Path(f).name) for f in row_files]),
                _int64s_or_null(row_numbers),
                _int64s_or_null(lines),
                invalid["_acc_record"],
                invalid["_acc_errors"].cast(ERRORS),
            ],
            schema=DIAGNOSTICS_SCHEMA,
        )
    ]
    if corrupt is not None and corrupt.num_rows:
        errors = [[_corrupt_error(r)] for r in corrupt["reason"].to_pylist()]
        pieces.append(
            pa.Table.from_arrays(
                [
                    _strings([names.get(f, Path(f).name) for f in corrupt["file"].to_pylist()]),
                    pa.nulls(corrupt.num_rows, pa.int64()),
                    corrupt["line"],
                    corrupt["text"],
                    pa.array(errors, ERRORS),
                ],
                schema=DIAGNOSTICS_SCHEMA,
            )
        )
    combined = pa.concat_tables(pieces).sort_by([("file", "ascending"), ("lineNumber", "ascending")])
    pq.write_table(combined, target, compression="zstd")


def append_left_out(target: Path, name: str, left_out: Sequence[Any]) -> None:
    """Add what a caller left out of a batch's input (`pipeline.LeftOut`) to its diagnostics: no row or line
    number (a stream has none), the record as sent, and why."""
    piece = pa.Table.from_arrays(
        [
            _strings([name] * len(left_out)),
            pa.nulls(len(left_out), pa.int64()),
            pa.nulls(len(left_out), pa.int64()),
            _strings([item.record for item in left_out]),
            pa.array([list(item.errors) for item in left_out], ERRORS),
        ],
        schema=DIAGNOSTICS_SCHEMA,
    )
    if target.exists():
        piece = pa.concat_tables([pq.read_table(target, schema=DIAGNOSTICS_SCHEMA), piece])
    pq.write_table(piece, target, compression="zstd")


def _empty_failing() -> pa.Table:
    return pa.Table.from_arrays(
        [pa.nulls(0, pa.string()), pa.nulls(0, ERROR_TYPE.to_pyarrow())], names=["_acc_record", "_acc_errors"]
    )


def _int64_values(column: pa.ChunkedArray) -> np.ndarray:
    """The values of an int64 column without nulls, as numpy."""
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    values = np.frombuffer(array.buffers()[1], dtype=np.int64)
    return values[array.offset : array.offset + len(array)].copy()


def _int64s_or_null(values: np.ndarray) -> pa.Array:
    """An int64 column from numpy, with 0 (not found) as null."""
    present = values != 0
    validity = pa.py_buffer(np.packbits(present, bitorder="little"))
    data = pa.py_buffer(np.ascontiguousarray(values, dtype=np.int64))
    return pa.Array.from_buffers(pa.int64(), len(values), [validity, data], null_count=int((~present).sum()))


def _strings(texts: list[str]) -> pa.Array:
    encoded = [t.encode() for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return pa.Array.from_buffers(
        pa.string(), len(texts), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    )


UNREAD = frozenset({codes.CORRUPT_ROW, codes.NESTED_TOO_DEEP})


def _numbers_by_content(
    source: SourceRelation, invalid: pa.Table, row_files: list[str], corrupt: pa.Table | None, threads: int
) -> tuple[np.ndarray, np.ndarray]:
    """Record and line numbers of failing rows of a line-oriented file, found again by their text."""
    count = invalid.num_rows
    row_numbers = np.zeros(count, dtype=np.int64)
    lines = np.zeros(count, dtype=np.int64)
    if not count or (source.dialect is None and not source.json_lines):
        return row_numbers, lines
    dialect = source.dialect
    texts = invalid["_acc_record"].to_pylist()
    corrupt_files = np.array(corrupt["file"].to_pylist() if corrupt is not None else [], dtype=object)
    corrupt_lines = np.array(corrupt["line"].to_pylist() if corrupt is not None else [], dtype=np.int64)
    for file in sorted(set(row_files)):
        chosen = np.flatnonzero(np.array([f == file for f in row_files]))
        if dialect is None:  # JSON lines: the record is the line
            found = find_lines(Path(file), [texts[i].encode() for i in chosen], skip_first=False,
                               whitespace_blank=True, threads=threads)  # fmt: skip
            assert found is not None
        else:
            records = [json.loads(texts[i]) for i in chosen]
            raw = [tuple("" if r.get(c) is None else str(r[c]) for c in dialect.columns) for r in records]
            found = None
            if dialect.encoding != "utf-16":  # without quotes a row is its values joined, byte for byte
                joined = [dialect.delimiter.join(values).encode(dialect.encoding) for values in raw]
                found = find_lines(Path(file), joined, skip_first=dialect.header, whitespace_blank=False,
                                   threads=threads, refuse=dialect.quote.encode(dialect.encoding))  # fmt: skip
            missing = np.arange(len(chosen)) if found is None else np.flatnonzero(found.line == 0)
            if len(missing):  # quoted values (perhaps holding line breaks), or an odd row: one exact re-read
                rejected = np.sort(corrupt_lines[corrupt_files == file]) if len(corrupt_lines) else corrupt_lines
                located = locate(Path(file), dialect, [raw[i] for i in missing])
                compact = located.ordinal + located.newlines_before + source.header_lines
                at = np.where(located.ordinal > 0, actual_lines(compact, rejected), 0)
                record_at = np.where(at > 0, located.ordinal + np.searchsorted(rejected, at, side="right"), 0)
                if found is None:
                    found = FoundLines(np.zeros(len(chosen), np.int64), np.zeros(len(chosen), np.int64))
                found.line[missing] = at
                # so that line - header - blanks gives the record number found by the re-read
                found.blank_before[missing] = np.where(at > 0, at - source.header_lines - record_at, 0)
        assert found is not None
        lines[chosen] = found.line
        header = source.header_lines
        row_numbers[chosen] = np.where(found.line > 0, found.line - header - found.blank_before, 0)
    return row_numbers, lines
