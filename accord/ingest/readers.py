"""Open prepared files as a relation in the engine: delimited text, JSON and Parquet.

Delimited text is read with every column as text (validation converts it), with the header parsed
by us first so that duplicate or blank column names are refused clearly, and with the engine's
reject store on, so that rows it cannot parse become diagnostics with their line numbers."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import duckdb
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field

from accord.ingest.exceptions import UnreadableFileError
from accord.ingest.locate import CsvDialect

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


_QUOTED_PATH = re.compile(r"""(["'])(/[^"']*)\1""")


def engine_message(exc: BaseException, files: Sequence[Path], name: str) -> str:
    """The engine's first line about the input, fit to show a user who may not see the server's folders.

    The engine names the files it reads by their paths on this machine (an upload's staging folder,
    a run's work folder): each is replaced by the name the user knows the input by, and any other
    quoted absolute path is cut to its last part."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for file in sorted(files, key=lambda f: len(str(f)), reverse=True):
        message = message.replace(str(file), name if len(files) == 1 else file.name)
    return _QUOTED_PATH.sub(lambda found: f"{found[1]}{PurePosixPath(found[2]).name}{found[1]}", message)


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
        raise UnreadableFileError(path.name, f"the first line is longer than {limit:,} bytes", "is this a text file?")
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
    return SourceRelation(table, "csv", int(options.header), rejects, notes, dialect, file_column)


def open_json(con: Any, files: list[Path], name: str, table_name: str, max_line: int) -> SourceRelation:
    try:
        table = con.read_json(
            [str(f) for f in files], table_name=table_name, format="auto", maximum_object_size=max(max_line, 16 * 2**20)
        )
    except duckdb.Error as exc:
        message = engine_message(exc, files, name).removeprefix("Invalid Input Error: ")
        raise UnreadableFileError(
            name, f"is not valid JSON: {message}", "send JSON lines or a JSON array of objects"
        ) from None
    if table.columns == ("json",) and table.schema()["json"].is_json():
        raise UnreadableFileError(name, "holds JSON values that are not objects", "each record must be a JSON object")
    return SourceRelation(table, "json")


def open_parquet(con: Any, files: list[Path], name: str, table_name: str) -> SourceRelation:
    try:
        table = con.read_parquet([str(f) for f in files], table_name=table_name, union_by_name=True)
    except duckdb.Error as exc:
        raise UnreadableFileError(name, f"is not a readable Parquet file: {engine_message(exc, files, name)}") from None
    return SourceRelation(table, "parquet")


def open_source(
    con: Any, files: list[Path], file_format: str, options: ReadOptions, name: str, table_name: str, max_line: int
) -> SourceRelation:
    if file_format == "csv":
        return open_csv(con, files, options, name, table_name, max_line)
    if file_format == "json":
        return open_json(con, files, name, table_name, max_line)
    return open_parquet(con, files, name, table_name)
