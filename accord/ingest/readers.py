"""Open prepared files as a relation in the engine: delimited text, JSON and Parquet.

Delimited text is read with every column as text (validation converts it), with the header parsed
by us first so that duplicate or blank column names are refused clearly, and with the engine's
reject store on, so that rows it cannot parse become diagnostics with their line numbers."""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from accord.ingest.exceptions import UnreadableFileError, engine_message
from accord.ingest.json_input import MAX_DEPTH, open_json_records
from accord.ingest.locate import CsvDialect
from accord.ingest.validation import Check

DELIMITER_CANDIDATES = (",", "\t", ";", "|")
FILE_COLUMN = "_acc_file"


class ReadOptions(BaseModel):
    """How to read a file; everything defaults to detection from the content."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    format: Literal["csv", "json", "parquet"] | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    quote: str = Field(default='"', min_length=1, max_length=1)
    escape: str | None = Field(default=None, min_length=1, max_length=1)
    header: bool = True
    encoding: Literal["utf-8", "latin-1", "utf-16"] | None = None


@dataclass
class SourceRelation:
    """A readable relation over the input, with what is needed to report rows."""

    table: ir.Table
    format: str
    header_lines: int = 0
    rejects_table: str | None = None
    notes: list[str] = field(default_factory=list)
    dialect: CsvDialect | None = None
    """How delimited text was read, to find failing rows again."""
    file_column: str | None = None
    """With several files, the hidden column naming the file of each row."""
    hidden: frozenset[str] = frozenset()
    """Columns of Accord's own (file, record text, record number): never mapped."""
    record: ir.StringValue | None = None
    """The text of each original record, where the reader keeps it (JSON); else the columns as JSON."""
    unreadable: list[Check] = field(default_factory=list)
    """Rows the reader could not make a record of: each fails with that error alone."""
    row_column: str | None = None
    """A hidden column numbering each record within its file (from 1), carried through the one pass."""
    json_lines: bool = False
    """One record per line: failing rows are found again by their text, as delimited text's are."""


def _detect_encoding(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # an incomplete last character is fine
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def _first_record(path: Path, encoding: str, quote: str, delimiter: str | None, limit: int) -> tuple[list[str], str]:
    with path.open("rb") as handle:
        head = handle.read(min(limit, 4 * 2**20))
    text = head.decode(encoding if encoding != "utf-16" else "utf-16", errors="replace").lstrip("\ufeff")
    newline = text.find("\n")
    if newline < 0 and len(head) >= limit:
        raise UnreadableFileError(
            path.name, f"the first line is longer than {limit:,} bytes, the longest line this dataset accepts",
            "is this a text file?",
        )  # fmt: skip
    first_line = text[: newline if newline >= 0 else len(text)].rstrip("\r")
    if delimiter is None:
        counts = {d: first_line.count(d) for d in DELIMITER_CANDIDATES}
        delimiter = max(counts, key=lambda d: counts[d]) if max(counts.values()) > 0 else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quote)
    try:
        names = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise UnreadableFileError(path.name, f"cannot read the header row ({exc})") from None
    return names, delimiter


def _check_header(name: str, columns: list[str]) -> None:
    if not columns or all(not c.strip() for c in columns):
        raise UnreadableFileError(name, "the header row is empty")
    seen: dict[str, int] = {}
    for position, column in enumerate(columns, start=1):
        if not column.strip():
            raise UnreadableFileError(name, f"column {position} of the header has no name")
        if column in seen:
            raise UnreadableFileError(
                name,
                f"duplicate column name {column!r} (columns {seen[column]} and {position})",
                "rename one of them, or give a mapping that reads by position",
            )
        seen[column] = position


def open_csv(
    con: Any, files: list[Path], options: ReadOptions, name: str, table_name: str, max_line: int
) -> SourceRelation:
    with files[0].open("rb") as handle:
        head = handle.read(1 << 16)
    encoding = options.encoding or _detect_encoding(head)
    notes = [] if options.encoding or encoding == "utf-8" else [f"read as {encoding}: the file is not valid UTF-8"]
    if options.header:
        columns, delimiter = _first_record(files[0], encoding, options.quote, options.delimiter, max_line)
        _check_header(name, columns)
    else:
        first, delimiter = _first_record(files[0], encoding, options.quote, options.delimiter, max_line)
        columns = [f"column{i + 1}" for i in range(len(first))]
    for other in files[1:]:  # the engine reads by position: every file must have the same columns
        other_columns, _ = _first_record(other, encoding, options.quote, delimiter, max_line)
        if options.header and other_columns != columns:
            raise UnreadableFileError(
                name,
                f"its files do not share one header: {other.name} has {', '.join(other_columns[:12])}",
                "ingest files with different columns in separate batches",
            )
    rejects = f"{table_name}_rejects"
    arguments: dict[str, Any] = {
        "delim": delimiter,
        "quote": options.quote,
        "escape": options.escape or options.quote,
        "header": options.header,
        "auto_detect": False,
        "columns": {c: "VARCHAR" for c in columns},
        "store_rejects": True,
        "rejects_table": rejects,
        "rejects_scan": f"{table_name}_scans",
        "max_line_size": max_line,
        "encoding": encoding,
        "null_padding": False,
    }
    file_column = FILE_COLUMN if len(files) > 1 else None
    if file_column:
        arguments["filename"] = file_column
    try:
        table = con.read_csv([str(f) for f in files], table_name=table_name, **arguments)
    except duckdb.Error as exc:
        raise UnreadableFileError(name, f"cannot read as delimited text: {engine_message(exc, files, name)}") from None
    if len(columns) == 1:
        others = [d for d in DELIMITER_CANDIDATES if d != delimiter and d in columns[0]]
        if others:
            raise UnreadableFileError(
                name,
                f"the header has a single column {columns[0][:80]!r} that contains {others[0]!r}",
                f"is the delimiter right? this file seems to use {others[0]!r}, not {delimiter!r}",
            )
    dialect = CsvDialect(
        delimiter, options.quote, options.escape or options.quote, encoding, options.header, tuple(columns)
    )
    hidden = frozenset({file_column} if file_column else set())
    return SourceRelation(table, "csv", int(options.header), rejects, notes, dialect, file_column, hidden)


def open_json(con: Any, files: list[Path], name: str, table_name: str, max_line: int) -> SourceRelation:
    file_column = FILE_COLUMN if len(files) > 1 else None
    records = open_json_records(con, files, name, table_name, max_line, file_column)
    return SourceRelation(
        records.table,
        "json",
        rejects_table=records.rejects_table,
        file_column=file_column,
        hidden=records.hidden,
        record=records.text,
        unreadable=records.unreadable,
        row_column=records.row_column,
        json_lines=records.row_column is None,
    )


PARQUET_ROW = "_acc_row"


def open_parquet(con: Any, files: list[Path], name: str, table_name: str) -> SourceRelation:
    """Parquet files, each record numbered within its file by the reader (in parallel, for free)."""
    names: set[str] = set()
    for path in files:
        names |= _checked_parquet_columns(path, name)
    file_column = FILE_COLUMN if len(files) > 1 else None
    numbered_by_reader = "file_row_number" not in names  # else a column of the file's own has that name
    try:
        table = con.read_parquet(
            [str(f) for f in files], table_name=table_name, union_by_name=True, file_row_number=numbered_by_reader,
            **({"filename": file_column} if file_column else {}),
        )  # fmt: skip
    except duckdb.Error as exc:
        raise UnreadableFileError(name, f"is not a readable Parquet file: {engine_message(exc, files, name)}") from None
    if numbered_by_reader:
        table = table.mutate(**{PARQUET_ROW: table.file_row_number + 1}).drop("file_row_number")
    else:  # numbered in file order by the engine: exact, in one thread
        order = [table[file_column]] if file_column else []
        table = table.mutate(**{PARQUET_ROW: ibis.row_number().over(group_by=order).cast("int64") + 1})
    hidden = frozenset({PARQUET_ROW} | ({file_column} if file_column else set()))
    return SourceRelation(table, "parquet", file_column=file_column, hidden=hidden, row_column=PARQUET_ROW)


def _checked_parquet_columns(path: Path, name: str) -> set[str]:
    """A Parquet file's column names, once its schema is known not to nest past the limit: a deeper
    schema is refused before the engine walks it (every record of the file shares it)."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        if "too deeply nested" in str(exc):  # past what Arrow itself reads (100 levels)
            raise UnreadableFileError(name, f"its schema nests structs and lists more than {MAX_DEPTH} levels deep",
                                      "flatten it, or leave the deep columns out of the file") from None  # fmt: skip
        raise UnreadableFileError(
            name, f"is not a readable Parquet file: {engine_message(exc, [path], name)}"
        ) from None
    for column in schema:
        depth, pending = 0, [(column.type, 1)]
        while pending:  # a walk without recursion: the types may be nested deeper than Python recurses
            kind, level = pending.pop()
            depth = max(depth, level)
            if depth > MAX_DEPTH:
                break
            if pa.types.is_struct(kind):
                pending.extend((kind.field(i).type, level + 1) for i in range(kind.num_fields))
            elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
                pending.append((kind.value_type, level + 1))
            elif pa.types.is_map(kind):
                pending.extend([(kind.key_type, level + 1), (kind.item_type, level + 1)])
        if depth > MAX_DEPTH:
            raise UnreadableFileError(
                name,
                f"column {column.name!r} nests structs and lists more than {MAX_DEPTH} levels deep",
                "flatten it, or leave it out of the file",
            )
    return set(schema.names)


def open_source(
    con: Any, files: list[Path], file_format: str, options: ReadOptions, name: str, table_name: str, max_line: int
) -> SourceRelation:
    if file_format == "csv":
        return open_csv(con, files, options, name, table_name, max_line)
    if file_format == "json":
        return open_json(con, files, name, table_name, max_line)
    return open_parquet(con, files, name, table_name)
