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
    """Position of each of `rows` (raw values, None as '') in the file.

    A file without the quote character cannot hold line breaks inside values, so its rows can be
    matched on the few columns that tell them apart, parsing nothing else; that answer is kept only
    if no other row shares those values. Otherwise whole rows are compared."""
    if not rows:
        return Located(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    quoted = _has_byte(path, dialect.quote)
    if not quoted:
        found = _scan(path, dialect, rows, _discriminating_columns(rows), quoted=False)
        if found is not None:
            return found
    located = _scan(path, dialect, rows, list(range(len(dialect.columns))), quoted=quoted)
    assert located is not None  # whole rows are never ambiguous
    return located


def _scan(
    path: Path, dialect: CsvDialect, rows: list[tuple[str, ...]], keys: list[int], quoted: bool
) -> Located | None:
    """One streaming read comparing `keys` columns; None when a match is ambiguous."""
    whole = len(keys) == len(dialect.columns)
    wanted: dict[tuple[str, ...], deque[int]] = defaultdict(deque)
    for index, row in enumerate(rows):
        wanted[tuple(row[k] for k in keys)].append(index)
    ordinal = np.zeros(len(rows), dtype=np.int64)
    newlines_before = np.zeros(len(rows), dtype=np.int64)
    probe = _discriminating_columns(rows)[: len(keys)] if whole else keys
    names = [dialect.columns[k] for k in keys]
    value_sets = {k: pa.array(sorted({row[k] for row in rows}), pa.string()) for k in probe}
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
            column_types={c: pa.string() for c in names}, include_columns=names,
            strings_can_be_null=False, quoted_strings_can_be_null=False,
        ),
    )  # fmt: skip
    offset, newlines_so_far, remaining = 0, 0, len(rows)
    for batch in reader:
        columns = dict(zip(keys, batch.columns, strict=True))
        per_row = None
        if quoted and any(pc.any(pc.match_substring(c, "\n")).as_py() for c in batch.columns):
            per_row = np.sum(
                [pc.count_substring(c, "\n").to_numpy(zero_copy_only=False) for c in batch.columns], axis=0
            )
        mask = None
        for key in probe:
            member = pc.is_in(columns[key], value_set=value_sets[key])
            mask = member if mask is None else pc.and_(mask, member)
        candidates: np.ndarray = (
            np.flatnonzero(mask.to_numpy(zero_copy_only=False)) if mask is not None else np.zeros(0, dtype=np.int64)
        )
        if len(candidates):
            prefix = np.concatenate([[0], np.cumsum(per_row)[:-1]]) if per_row is not None else None
            for position, row in zip(candidates, batch.take(pa.array(candidates)).to_pylist(), strict=True):
                key_values = tuple(row[name] for name in names)
                if key_values not in wanted:
                    continue
                if not wanted[key_values]:
                    if not whole:
                        return None  # another row shares these values: compare whole rows instead
                    continue
                index = wanted[key_values].popleft()
                ordinal[index] = offset + int(position) + 1
                newlines_before[index] = newlines_so_far + (int(prefix[position]) if prefix is not None else 0)
                remaining -= 1
        offset += batch.num_rows
        if per_row is not None:
            newlines_so_far += int(per_row.sum())
        if whole and remaining == 0:
            break  # key-only matching reads to the end, to be sure no later row is ambiguous
    return Located(ordinal, newlines_before)
