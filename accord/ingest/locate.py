"""Find where failing rows of line-oriented files sit: their physical line and record number.

The engine reads delimited text and JSON lines in parallel and does not number rows (numbering them
in the pass would make it single-threaded). The few failing rows are found again by their text.

When each record is one line (JSON lines; delimited text without the quote character), the file is
split into byte ranges read in parallel: per range, vectorised over its bytes, the lines whose
length and first and last eight bytes match a failing row's are picked, and only those are compared
whole. Identical lines always fail alike, so the k-th copy of a text is the k-th failing row with it.
Otherwise (quoted values may hold line breaks) one streaming re-read with Arrow's CSV reader looks up
the two or three columns that tell the failing rows apart, counting line breaks inside values."""

from __future__ import annotations

import itertools
import os
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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


RANGE_BYTES = 16 * 2**20
BOM = b"\xef\xbb\xbf"
_MIX_HEAD = np.uint64(0x9E3779B97F4A7C15)
_MIX_TAIL = np.uint64(0xC2B2AE3D27D4EB4F)
_WHITESPACE = np.array([9, 11, 12, 32], dtype=np.uint8)


@dataclass
class FoundLines:
    line: np.ndarray
    """Physical 1-based line of each text (0 when not found)."""
    blank_before: np.ndarray
    """Blank lines before it, which are no records."""


FILTER_BITS = 22


@dataclass
class _Targets:
    wanted: dict[bytes, list[int]]
    lengths: np.ndarray
    """A lookup table: lengths[n] tells whether some wanted text is n bytes long."""
    signatures: np.ndarray
    """Their signatures, sorted."""
    seen: np.ndarray
    """A lookup table on the signatures' high bits (the well-mixed ones): most lines are ruled out with one read."""


@dataclass
class _RangeFound:
    lines: int = 0
    blanks: int = 0
    refused: bool = False
    hits: list[tuple[int, int, bytes]] = field(default_factory=list)
    """(line index in the range, blank lines before it in the range, text)."""


def _signatures(buffer: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A 64-bit digest of each line from its length and its first and last eight bytes."""
    lengths = (ends - starts).astype(np.int64)
    if not len(starts):
        return np.zeros(0, dtype=np.uint64)
    # the eight bytes at any offset, read as one little-endian word, without copying
    words = np.ndarray((max(len(buffer) - 7, 0),), dtype="<u8", buffer=buffer, strides=(1,))
    if lengths.min() >= 8:  # the usual case: every line is long enough
        head, tail = words[starts], words[ends - 8]
    else:
        head = np.zeros(len(starts), dtype=np.uint64)
        tail = np.zeros(len(starts), dtype=np.uint64)
        readable = starts + 8 <= len(buffer)  # the eight bytes from the start lie inside the buffer
        long = readable & (lengths >= 8)
        head[long], tail[long] = words[starts[long]], words[ends[long] - 8]
        short = readable & (lengths > 0) & (lengths < 8)  # keep only the line's own bytes: zero-padded
        keep = np.right_shift(np.uint64(2**64 - 1), (8 * (8 - lengths[short])).astype(np.uint64))
        head[short] = tail[short] = words[starts[short]] & keep
        for index in np.flatnonzero(~readable):  # a short line at the very end of the buffer
            head[index] = tail[index] = int.from_bytes(buffer[starts[index] : ends[index]].tobytes(), "little")
    return (head * _MIX_HEAD) ^ (tail * _MIX_TAIL) ^ lengths.astype(np.uint64)


def _targets(texts: list[bytes]) -> _Targets:
    wanted: dict[bytes, list[int]] = defaultdict(list)
    for index, text in enumerate(texts):
        wanted[text].append(index)
    unique = list(wanted)
    joined = np.frombuffer(b"".join(unique) or b"\0", dtype=np.uint8)
    ends = np.cumsum([len(t) for t in unique], dtype=np.int64)
    starts = ends - np.array([len(t) for t in unique], dtype=np.int64)
    lengths = np.zeros(max(len(t) for t in unique) + 2, dtype=bool)
    lengths[[len(t) for t in unique]] = True
    signatures = np.sort(_signatures(joined, starts, ends))
    seen = np.zeros(1 << FILTER_BITS, dtype=bool)
    seen[signatures >> np.uint64(64 - FILTER_BITS)] = True
    return _Targets(wanted, lengths, signatures, seen)


def _scan_range(
    fd: int, begin: int, end: int, targets: _Targets, skip_first: bool, whitespace_blank: bool,
    refuse: bytes | None,
) -> _RangeFound:  # fmt: skip
    # Read, not mapped: a mapped file's pages would count as this process's memory until it ends
    data = os.pread(fd, end - begin, begin)
    if refuse is not None and refuse in data:
        return _RangeFound(refused=True)
    buffer = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buffer == 10)
    starts = np.concatenate([[0], newlines + 1])
    ends = np.concatenate([newlines, [len(buffer)]])
    if starts[-1] == len(buffer):  # the range ends with a line break: no line after it
        starts, ends = starts[:-1], ends[:-1]
    if b"\r" in data:  # CRLF: the CR is no content
        ends = ends - ((ends > starts) & (buffer[np.maximum(ends - 1, 0)] == 13))
    if begin == 0 and data.startswith(BOM) and len(starts):
        starts[0] = min(3, ends[0])
    lengths = ends - starts
    blank = lengths == 0
    if whitespace_blank:  # a line of spaces is no record either; rare enough to look at one by one
        maybe = np.flatnonzero(~blank & np.isin(buffer[np.minimum(starts, max(len(buffer) - 1, 0))], _WHITESPACE))
        for index in maybe:
            blank[index] = not data[starts[index] : ends[index]].strip()
    blank_before = np.cumsum(blank) - blank
    table = targets.lengths
    candidates = np.flatnonzero(table[np.minimum(lengths, len(table) - 1)])  # its last entry is never set
    if skip_first and begin == 0:
        candidates = candidates[candidates != 0]
    signatures = _signatures(buffer, starts[candidates], ends[candidates])
    maybe = targets.seen[signatures >> np.uint64(64 - FILTER_BITS)]
    candidates, signatures = candidates[maybe], signatures[maybe]
    place = np.searchsorted(targets.signatures, signatures).clip(0, len(targets.signatures) - 1)
    hits = candidates[targets.signatures[place] == signatures]
    found = _RangeFound(len(starts), int(blank.sum()))
    for index in hits:
        text = data[starts[index] : ends[index]]
        if text in targets.wanted:
            found.hits.append((int(index), int(blank_before[index]), text))
    return found


def _range_bounds(fd: int, size: int, range_bytes: int) -> list[int]:
    """Offsets cutting a file into ranges of about `range_bytes`, each after a line break."""
    bounds = [0]
    while bounds[-1] < size:
        position = min(bounds[-1] + range_bytes, size)
        while position < size:  # the next line break at or after the nominal end
            piece = os.pread(fd, 1 << 16, position)
            newline = piece.find(b"\n")
            if newline >= 0:
                position += newline + 1
                break
            position += len(piece)
        bounds.append(min(position, size))
    return bounds


def find_lines(
    path: Path, texts: list[bytes], *, skip_first: bool, whitespace_blank: bool, threads: int,
    refuse: bytes | None = None, range_bytes: int = RANGE_BYTES,
) -> FoundLines | None:  # fmt: skip
    """The physical line of each text in a file where records are whole lines, read in parallel.

    `skip_first` leaves out a header line; `whitespace_blank` counts lines of spaces as blank.
    None when the file holds the `refuse` byte (a quote: its lines may not be records one to one)."""
    line = np.zeros(len(texts), dtype=np.int64)
    blank_before = np.zeros(len(texts), dtype=np.int64)
    size = path.stat().st_size
    if not texts or size == 0:
        return FoundLines(line, blank_before)
    targets = _targets(texts)
    with path.open("rb") as handle:
        fd = handle.fileno()
        bounds = _range_bounds(fd, size, range_bytes)
        with ThreadPoolExecutor(max(1, threads)) as pool:  # reads and numpy let go of the interpreter lock
            scans = [
                pool.submit(_scan_range, fd, begin, end, targets, skip_first, whitespace_blank, refuse)
                for begin, end in itertools.pairwise(bounds)
            ]
            results = [scan.result() for scan in scans]
    if any(r.refused for r in results):
        return None
    lines_before = np.concatenate([[0], np.cumsum([r.lines for r in results])])
    blanks_before = np.concatenate([[0], np.cumsum([r.blanks for r in results])])
    occurrences: dict[bytes, list[tuple[int, int]]] = defaultdict(list)
    for number, result in enumerate(results):
        for index, blanks, text in result.hits:
            occurrences[text].append((int(lines_before[number]) + index + 1, int(blanks_before[number]) + blanks))
    for text, indexes in targets.wanted.items():
        for index, (found_line, blanks) in zip(indexes, sorted(occurrences.get(text, [])), strict=False):
            line[index], blank_before[index] = found_line, blanks
    return FoundLines(line, blank_before)
