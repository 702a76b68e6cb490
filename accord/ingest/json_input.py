"""JSON input as records of text, parsed in the engine: a bad record is one row error, not a bad file.

JSON lines are read line by line (a malformed line, a line that is not an object, a record nested
too deep each fail alone, with their line); a JSON array or a run of concatenated documents is read
value by value, each numbered as it comes. The records' shape is taken from every record that
parses, so no key or type seen only late in the file is lost; scalars are kept as text, for
validation to convert against the schema with a row error for each value that does not fit."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import sqlglot.expressions as sge

from accord.ingest import exceptions as codes
from accord.ingest.exceptions import UnreadableFileError, engine_message
from accord.ingest.json_text import group_structure, json_kind, json_valid, strlen
from accord.ingest.validation import Check

MAX_DEPTH = 64
"""Levels of objects and arrays a record may nest; the reference product's records need far fewer,
and deeper ones would only exhaust the readers that walk them."""
TEXT_COLUMN = "_acc_json"
ROW_COLUMN = "_acc_row"
HEAD_BYTES = 8 * 2**20
MAX_RECORD_TEXT = 16 * 2**20
Layout = Literal["lines", "array", "documents"]


@dataclass
class JsonRecords:
    """The parsed records, their original text, and the row checks reading makes."""

    table: ir.Table
    text: ir.StringValue
    hidden: frozenset[str]
    unreadable: list[Check] = field(default_factory=list)
    """Rows that could not be read: each such row fails with this error alone."""
    row_column: str | None = None
    rejects_table: str | None = None


def json_depths(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """How many levels of objects and arrays each JSON text nests, vectorised over the bytes.

    Brackets inside strings do not count; a quote preceded by an odd run of backslashes is inside
    its string. Texts must be valid JSON (their quotes then balance, so each starts outside a string)."""
    texts = (texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts).cast(pa.large_string())
    result = np.zeros(len(texts), dtype=np.int32)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset : texts.offset + len(texts) + 1]
    data_buffer = texts.buffers()[2]
    if data_buffer is None or offsets[-1] == offsets[0]:
        return pa.array(result, mask=texts.is_null().to_numpy(zero_copy_only=False))
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    first = 0
    while first < len(texts):  # a few MB at a time: the arrays below take several bytes per byte of text
        last = first + 1
        while last < len(texts) and offsets[last + 1] - offsets[first] < 2 * 2**20:
            last += 1
        start, end = int(offsets[first]), int(offsets[last])
        result[first:last] = _depths(data[start:end], offsets[first : last + 1] - start)
        first = last
    return pa.array(result, mask=texts.is_null().to_numpy(zero_copy_only=False))


def _depths(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    size = len(data)
    index = np.arange(size, dtype=np.int64)
    backslash = data == ord("\\")
    last_other = np.maximum.accumulate(np.where(backslash, -1, index))
    run_before = index - 1 - np.concatenate([[-1], last_other[:-1]])  # backslashes just before each byte
    quote = (data == ord('"')) & (run_before % 2 == 0)
    inside = (np.cumsum(quote) % 2).astype(bool)
    opens = ((data == ord("{")) | (data == ord("["))) & ~inside
    closes = ((data == ord("}")) | (data == ord("]"))) & ~inside
    level = np.cumsum(opens.astype(np.int32) - closes.astype(np.int32), dtype=np.int32)
    starts = offsets[:-1]
    empty = starts >= offsets[1:]
    deepest = np.maximum.reduceat(level, np.minimum(starts, size - 1)) if size else np.zeros(len(starts), np.int32)
    # a record's levels start from the level before it, which is 0 when the records before balance
    return np.where(empty, 0, deepest)


@ibis.udf.scalar.builtin(name="accord_json_depth")
def _json_depth(text: str) -> int:  # type: ignore[empty-body]
    """`json_depths`, registered on each connection that reads JSON."""


def _register(con: Any) -> None:
    with contextlib.suppress(duckdb.CatalogException):  # already there: a connection may read several sources
        con.con.create_function(
            "accord_json_depth", json_depths, ["VARCHAR"], "INTEGER", type="arrow", side_effects=False
        )


def layout_of(path: Path) -> Layout:
    """How the JSON in a file is laid out, from its first bytes.

    A leading `[` is an array. Otherwise, if one of the first lines holds a whole JSON object, the
    file is JSON lines; if none does (pretty-printed objects), it is a run of documents."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"["):
        return "array"
    lines = text.split(b"\n")
    complete = lines if len(head) < HEAD_BYTES else lines[:-1]  # the last line may be cut short
    for line in [x for x in complete if x.strip()][:100]:
        try:
            if isinstance(json.loads(line), dict):
                return "lines"
        except (ValueError, RecursionError):  # not JSON, or nested past what Python parses: not the proof
            continue
    return "documents"


def open_json_records(
    con: Any, files: list[Path], name: str, table_name: str, max_line: int, file_column: str | None
) -> JsonRecords:
    """The records of JSON files as a table of columns, with their text and the reading checks."""
    _register(con)
    layouts = {layout_of(f) for f in files}
    if len(layouts) > 1:
        raise UnreadableFileError(name, f"mixes JSON layouts ({', '.join(sorted(layouts))})",
                                  "ingest each layout in its own batch")  # fmt: skip
    layout = layouts.pop()
    rejects = None
    row_column = None
    if layout == "lines":
        raw, rejects = _lines(con, files, name, table_name, max_line, file_column)
    else:
        raw = _values(con, files, name, table_name, max_line, layout, file_column)
        row_column = ROW_COLUMN
    text = raw[TEXT_COLUMN]
    raw = raw.filter(text.notnull() & ~text.re_search(r"^\s*$"))  # a blank line is no record
    hidden = {TEXT_COLUMN, *READING} | {c for c in (file_column, row_column) if c}
    try:
        structure, suspects = _survey(raw.mutate(**_reading(raw[TEXT_COLUMN])))
    except duckdb.Error as exc:
        message = engine_message(exc, files, name).removeprefix("Invalid Input Error: ")
        raise UnreadableFileError(
            name, f"is not valid JSON: {message}", "send JSON lines to have each bad record refused alone"
        ) from None
    if structure is None:
        first = raw.mutate(**_reading(raw[TEXT_COLUMN])).select(VALID, KIND, DEPTH).limit(1).to_pyarrow().to_pylist()
        raise UnreadableFileError(
            name,
            f"holds no JSON object that can be read: {_why_unreadable(first[0]) if first else 'it holds no record'}",
            "send JSON lines or a JSON array of objects",
        )
    # The survey found the records that cannot be read: only those (and any text sharing a hash with
    # one) are looked at again; the others are read straight into the shape.
    if suspects:
        listed = f"{table_name}_suspects"  # a table of the engine's own, of Accord's own name
        hashes = sge.Cast(this=sge.Placeholder(), to=sge.DataType.build("BIGINT[]", dialect="duckdb"))
        statement = sge.select(sge.Unnest(expressions=[hashes]).as_("h"))
        create = sge.Create(this=sge.to_identifier(listed, quoted=True), kind="TABLE", expression=statement)
        con.con.execute(create.sql("duckdb"), [suspects])
        suspect = raw[TEXT_COLUMN].hash().isin(con.table(listed).h)
        reading = _reading(raw[TEXT_COLUMN])
        marked = raw.mutate(**{column: ibis.ifelse(suspect, reading[column], clean)
                               for column, clean in zip(READING[:3], CLEAN, strict=True)})  # fmt: skip
    else:
        marked = raw.mutate(**dict(zip(READING[:3], (ibis.literal(c) for c in CLEAN), strict=True)))
    marked = marked.mutate(**{READABLE: _readable(marked)})
    parsed = ibis.ifelse(
        marked[READABLE], marked[TEXT_COLUMN].try_cast("json").try_cast(structure), ibis.null().cast(structure)
    )
    with_parsed = marked.mutate(_acc_parsed=parsed)
    fields = {key: with_parsed._acc_parsed[key] for key in structure.names if key not in hidden}
    table = with_parsed.select(*sorted(hidden), **fields)
    where = "line" if layout == "lines" else "record"
    valid, kind, depth = table[VALID], table[KIND], table[DEPTH]
    unreadable = [
        Check(~valid, codes.CORRUPT_ROW, "", ibis.literal(f"the {where} is not valid JSON")),
        Check(
            valid & (kind != "OBJECT"),
            codes.CORRUPT_ROW,
            "",
            ibis.literal(f"the {where} is ").concat(_kind_words(kind), ibis.literal(", not an object")),
        ),
        Check(
            depth > MAX_DEPTH,
            codes.NESTED_TOO_DEEP,
            "",
            ibis.literal("the record nests ").concat(
                depth.cast("string"),
                ibis.literal(f" levels of objects and arrays, more than the {MAX_DEPTH} allowed"),
            ),
        ),
    ]
    return JsonRecords(table, table[TEXT_COLUMN], frozenset(hidden), unreadable, row_column, rejects)


VALID, KIND, DEPTH, READABLE = "_acc_valid", "_acc_kind", "_acc_depth", "_acc_readable"
READING = (VALID, KIND, DEPTH, READABLE)
CLEAN = (True, "OBJECT", 0)
"""The reading of a record the survey found readable."""


def _readable(marked: ir.Table) -> ir.BooleanValue:
    return marked[VALID] & (marked[KIND] == "OBJECT") & (marked[DEPTH] <= MAX_DEPTH)


def _survey(marked: ir.Table) -> tuple[dt.Struct | None, list[int]]:
    """In one pass over the records: the shape of every readable one, and the hashes of the others."""
    readable = _readable(marked)
    text = marked[TEXT_COLUMN]
    found = marked.aggregate(
        shape=group_structure(ibis.ifelse(readable, text.try_cast("json"), ibis.null().cast("json"))),
        suspects=text.hash().collect(where=~readable),
    ).to_pyarrow()
    shape_text, suspects = found["shape"][0].as_py(), found["suspects"][0].as_py()
    shape = json.loads(shape_text) if isinstance(shape_text, str) else {}
    converted = _to_dtype(shape if isinstance(shape, dict) else {})
    structure = converted if isinstance(converted, dt.Struct) and converted.names else None
    return structure, [int(h) for h in (suspects if suspects is not None else [])]


def _reading(text: Any) -> dict[str, Any]:
    """Whether each text is valid JSON, of which kind, and how deep (0 where it cannot be deep)."""
    valid = json_valid(text)
    kind = json_kind(text)
    brackets = strlen(text) - strlen(text.replace("{", "").replace("[", ""))
    # Only a record with more brackets than the limit can nest past it: the others are not measured
    depth = ibis.ifelse(valid & (brackets > MAX_DEPTH), _json_depth(text), 0)
    return {VALID: valid, KIND: kind, DEPTH: depth}


def _why_unreadable(reading: dict[str, Any]) -> str:
    """Why the first record cannot be read, in the words of its row error."""
    if not reading[VALID]:
        return "the first record is not valid JSON"
    if reading[KIND] != "OBJECT":
        words = {"ARRAY": "a JSON array", "VARCHAR": "a JSON string", "BOOLEAN": "a JSON boolean", "NULL": "JSON null"}
        return f"the first record is {words.get(reading[KIND], 'a JSON number')}, not an object"
    if reading[DEPTH] > MAX_DEPTH:
        depth = reading[DEPTH]
        return f"the first record nests {depth} levels of objects and arrays, more than the {MAX_DEPTH} allowed"
    return "its objects hold no field"


def _kind_words(kind: Any) -> Any:
    return ibis.cases(
        (kind == "ARRAY", "a JSON array"),
        (kind == "VARCHAR", "a JSON string"),
        (kind == "BOOLEAN", "a JSON boolean"),
        (kind == "NULL", "JSON null"),
        else_="a JSON number",
    )


def _lines(
    con: Any, files: list[Path], name: str, table_name: str, max_line: int, file_column: str | None
) -> tuple[ir.Table, str]:
    """Every line as text, so that a malformed one is a row of its own (with the engine's rejects
    for lines it cannot even read: too long, or not UTF-8)."""
    rejects = f"{table_name}_rejects"
    arguments: dict[str, Any] = {
        # A control character cannot stand unescaped in JSON, so this delimiter only splits bad lines
        "delim": "\x1f",
        "quote": "",
        "escape": "",
        "header": False,
        "auto_detect": False,
        "columns": {TEXT_COLUMN: "VARCHAR"},
        "store_rejects": True,
        "rejects_table": rejects,
        "rejects_scan": f"{table_name}_scans",
        # A line over the record limit is refused in the pass, with its size; the engine refuses only huge ones
        "max_line_size": max(max_line, MAX_RECORD_TEXT),
        "strict_mode": False,  # a stray carriage return inside a line must not stop the whole file
    }
    if file_column:
        arguments["filename"] = file_column
    try:
        return con.read_csv([str(f) for f in files], table_name=table_name, **arguments), rejects
    except duckdb.Error as exc:
        raise UnreadableFileError(name, f"cannot read as JSON lines: {engine_message(exc, files, name)}") from None


def _values(
    con: Any, files: list[Path], name: str, table_name: str, max_line: int, layout: Layout, file_column: str | None
) -> ir.Table:
    """Every value of a JSON array (or of concatenated documents) as text, numbered within its file."""
    parts = []
    for index, path in enumerate(files):
        try:
            values = con.read_json(
                str(path), table_name=f"{table_name}_{index}", format="array" if layout == "array" else "unstructured",
                records=False, columns={TEXT_COLUMN: "JSON"}, maximum_object_size=max(max_line, MAX_RECORD_TEXT),
            )  # fmt: skip
        except duckdb.Error as exc:
            message = engine_message(exc, [path], name).removeprefix("Invalid Input Error: ")
            raise UnreadableFileError(
                name, f"is not valid JSON: {message}", "send JSON lines to have each bad record refused alone"
            ) from None
        numbered = values.select(
            **{TEXT_COLUMN: values[TEXT_COLUMN].cast("string")}, **{ROW_COLUMN: ibis.row_number().cast("int64") + 1}
        )
        if file_column:
            numbered = numbered.mutate(**{file_column: ibis.literal(str(path))})
        parts.append(numbered)
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def _to_dtype(shape: Any) -> dt.DataType:
    if isinstance(shape, dict):
        fields = {key: _to_dtype(value) for key, value in shape.items() if key}
        return dt.Struct(fields) if fields else dt.string
    if isinstance(shape, list):
        return dt.Array(_to_dtype(shape[0]) if shape else dt.string)
    return dt.string
