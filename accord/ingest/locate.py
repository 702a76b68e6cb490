"""Find where failing rows of delimited text sit in their file: record number and physical line.

The engine reads delimited text in parallel and does not number rows. Rather than numbering every
row in a single-threaded pass, the few failing rows are looked up by content in one streaming
re-read with Arrow's CSV reader: a vectorised membership test on the two or three columns that
tell the failing rows apart selects candidates, and only those are compared whole. Line breaks
inside quoted values are counted so that line numbers are physical lines of the file."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv


@dataclass(frozen=True)
class CsvDialect:
    delimiter: str
    quote: str
    escape: str
    encoding: str
    header: bool
    columns: tuple[str, ...]


@dataclass
class Located:
    ordinal: np.ndarray
    """1-based position of each row among the rows that parsed (0 when not found)."""
    newlines_before: np.ndarray
    """Line breaks inside quoted values of the rows before it."""


def _discriminating_columns(rows: list[tuple[str, ...]], limit: int = 3) -> list[int]:
    counts = [(len({row[i] for row in rows}), i) for i in range(len(rows[0]))]
    counts.sort(reverse=True)
    return [i for _, i in counts[:limit]]


def _has_byte(path: Path, value: str) -> bool:
    """Whether a file holds a character at all (a fast scan; no quote means no quoted line break)."""
    needle = value.encode()
    with path.open("rb") as handle:
        while chunk := handle.read(16 * 2**20):
            if needle in chunk:
                return True
    return False


def locate(path: Path, dialect: CsvDialect, rows: list[tuple[str, ...]]) -> Located:
    """Position of each of `rows` (raw values, None as '') in the file, in one streaming read."""
    wanted: dict[tuple[str, ...], deque[int]] = defaultdict(deque)
    for index, row in enumerate(rows):
        wanted[row].append(index)
    ordinal = np.zeros(len(rows), dtype=np.int64)
    newlines_before = np.zeros(len(rows), dtype=np.int64)
    if not rows:
        return Located(ordinal, newlines_before)
    keys = _discriminating_columns(rows)
    value_sets = [pa.array(sorted({row[i] for row in rows}), pa.string()) for i in keys]
    quoted = _has_byte(path, dialect.quote)
    reader = pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(
            encoding=dialect.encoding, block_size=16 * 2**20, column_names=list(dialect.columns),
            skip_rows=1 if dialect.header else 0,
        ),
        parse_options=pa_csv.ParseOptions(
            delimiter=dialect.delimiter, quote_char=dialect.quote,
            double_quote=dialect.escape == dialect.quote,
            escape_char=False if dialect.escape == dialect.quote else dialect.escape,
            newlines_in_values=quoted, invalid_row_handler=lambda _row: "skip",
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types={c: pa.string() for c in dialect.columns}, strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )  # fmt: skip
    offset, newlines_so_far, remaining = 0, 0, len(rows)
    for batch in reader:
        columns = [batch.column(i) for i in range(batch.num_columns)]
        per_row = None
        if quoted and any(pc.any(pc.match_substring(c, "\n")).as_py() for c in columns):
            per_row = np.sum([pc.count_substring(c, "\n").to_numpy(zero_copy_only=False) for c in columns], axis=0)
        mask = pc.is_in(columns[keys[0]], value_set=value_sets[0])
        for key, values in zip(keys[1:], value_sets[1:], strict=True):
            mask = pc.and_(mask, pc.is_in(columns[key], value_set=values))
        candidates = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
        if len(candidates):
            prefix = np.concatenate([[0], np.cumsum(per_row)[:-1]]) if per_row is not None else None
            taken = batch.take(pa.array(candidates)).to_pylist()
            for position, row in zip(candidates, taken, strict=True):
                key = tuple(row[c] for c in dialect.columns)
                if wanted.get(key):
                    index = wanted[key].popleft()
                    ordinal[index] = offset + int(position) + 1
                    newlines_before[index] = newlines_so_far + (int(prefix[position]) if prefix is not None else 0)
                    remaining -= 1
        offset += batch.num_rows
        if per_row is not None:
            newlines_so_far += int(per_row.sum())
        if remaining == 0:
            break
    return Located(ordinal, newlines_before)
