"""Rows that name someone in the data files Accord writes (activation exports, campaign files), found and taken
out: CSV and TSV, JSON lines, Parquet, each possibly gzipped, as `FileSettings` makes them.

A row names a value when one of its values, trimmed and lower-cased, is that value (the caller gives them
lower-cased, with their hashed forms where a file may carry those). A file that names none is left as it is;
one that does is written again beside itself without those rows, in the same format, then renamed over
itself. A file of another kind that holds a value anywhere in its bytes cannot be rewritten row by row:
`scrub_file` raises `UnreadableFileError`, and the caller reports it."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from accord.errors import AccordError
from accord.home import write_whole


class UnreadableFileError(AccordError):
    """A file that names someone, in a format whose rows cannot be told apart: it was left as it is."""

    code = "DEST-0520-500"

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} names a person asked about, and is not CSV, TSV, JSON lines or Parquet: it was "
                         "left as it is; remove it by hand", path=str(path))  # fmt: skip


def _kind(path: Path) -> tuple[str, bool]:
    """(csv | tsv | jsonl | parquet | other, gzipped)."""
    suffixes = [s.lower() for s in path.suffixes]
    zipped = bool(suffixes) and suffixes[-1] == ".gz"
    last = suffixes[-2] if zipped and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    kind = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
            ".parquet": "parquet"}.get(last, "other")  # fmt: skip
    return kind, zipped


def rows_naming(path: Path, values: set[str]) -> list[dict[str, Any]]:
    """The rows of a data file that name one of the values (each as a dict); [] for a file that names none."""
    kind, zipped = _kind(path)
    if kind == "parquet":
        table = pq.ParquetFile(path).read()
        return table.filter(_parquet_mask(table, values)).to_pylist()
    if kind == "other":
        return [{"file": str(path)}] if _bytes_name(path.read_bytes(), values) else []
    text = _text(path, zipped)
    if not _bytes_name(text.encode(), values):
        return []
    if kind == "jsonl":
        return [row for row in _json_rows(text) if _json_names(row, values)]
    header, rows = _delimited(text, kind)
    return [dict(zip(header, row, strict=False)) for row in rows if _cells_name(row, values)]


def scrub_file(path: Path, values: set[str]) -> int:
    """Take the rows naming one of the values out of a data file, in place; how many rows went."""
    kind, zipped = _kind(path)
    if kind == "parquet":
        table = pq.ParquetFile(path).read()
        mask = _parquet_mask(table, values)
        removed = int(pc.sum(mask).as_py() or 0)
        if removed:
            kept = table.filter(pc.invert(mask))
            write_whole(path, lambda partial: pq.write_table(kept, partial, compression="zstd"))
        return removed
    data = path.read_bytes()
    if not _bytes_name(gzip.decompress(data) if zipped else data, values):
        return 0
    if kind == "other":
        raise UnreadableFileError(path)
    text = _text(path, zipped)
    if kind == "jsonl":
        removed, out = _scrubbed_json(path, text, values)
    else:
        header, rows = _delimited(text, kind)
        kept_rows = [row for row in rows if not _cells_name(row, values)]
        removed = len(rows) - len(kept_rows)
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="\t" if kind == "tsv" else _delimiter(text), lineterminator="\n")
        writer.writerows([header, *kept_rows] if header else kept_rows)
        out = buffer.getvalue()
    encoded = out.encode("utf-8")
    write_whole(path, lambda partial: partial.write_bytes(gzip.compress(encoded) if zipped else encoded))
    return removed


def _scrubbed_json(path: Path, text: str, values: set[str]) -> tuple[int, str]:
    """(rows removed, the text without them) of JSON lines, or of a JSON document that is a list of rows."""
    try:
        whole = json.loads(text)
    except ValueError:
        lines = [line for line in text.splitlines() if line.strip()]
        kept = [line for line in lines if not _json_names(json.loads(line), values)]
        return len(lines) - len(kept), "".join(line + "\n" for line in kept)
    if not isinstance(whole, list):  # one document (a manifest): it has no rows to take out
        raise UnreadableFileError(path)
    rows = [row for row in whole if not _json_names(row, values)]
    return len(whole) - len(rows), json.dumps(rows, ensure_ascii=False)


def _text(path: Path, zipped: bool) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if zipped else data).decode("utf-8", errors="replace")


def _bytes_name(data: bytes, values: set[str]) -> bool:
    lowered = data.lower()
    return any(value.encode() in lowered for value in values)


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    return max(",;|\t", key=first.count) if first else ","


def _delimited(text: str, kind: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text), delimiter="\t" if kind == "tsv" else _delimiter(text)))
    return (rows[0], rows[1:]) if rows else ([], [])


def _cells_name(row: list[str], values: set[str]) -> bool:
    return any(cell.strip().lower() in values for cell in row)


def _json_rows(text: str) -> list[Any]:
    """The rows of a JSON file: the items of a document that is a list, the document itself, or its lines."""
    try:
        whole = json.loads(text)
    except ValueError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return whole if isinstance(whole, list) else [whole]


def _json_names(value: Any, values: set[str]) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in values
    if isinstance(value, dict):
        return any(_json_names(v, values) for v in value.values())
    if isinstance(value, list):
        return any(_json_names(v, values) for v in value)
    return False


def _parquet_mask(table: pa.Table, values: set[str]) -> pa.Array:
    """True for the rows with a text value (at any depth of structs, lists and maps) among the values."""
    wanted = pa.array(sorted(values), pa.string())
    mask = np.zeros(table.num_rows, dtype=bool)
    for column in table.columns:
        mask |= _row_hits(column.combine_chunks(), wanted)
    return pa.array(mask)


def _row_hits(array: pa.Array, wanted: pa.Array) -> np.ndarray:
    if pa.types.is_struct(array.type):
        hits = np.zeros(len(array), dtype=bool)
        for child in array.flatten():
            hits |= _row_hits(child, wanted)
        return hits
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type) or pa.types.is_map(array.type):
        inner = _row_hits(pc.list_flatten(array), wanted)
        hits = np.zeros(len(array), dtype=bool)
        hits[np.unique(pc.list_parent_indices(array).to_numpy()[inner])] = True
        return hits
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        found = pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(array.cast(pa.string()))), value_set=wanted)
        return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)
    return np.zeros(len(array), dtype=bool)
