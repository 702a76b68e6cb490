"""A mapping tried on the first records of a file: the values it would write and the errors each record would
fail with, computed by the same compiled expressions as an ingestion (`pipeline`), with nothing written.

What a person editing a mapping needs to see before a dataflow runs: the source's columns (to map from), the
problems of the mapping as a whole (an unknown column or field, a type that cannot fill its field), and, when
there are none, a few mapped records with each one's row errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis

from accord.catalog import resolve_sandbox
from accord.engine import connect, to_arrow
from accord.ingest import exceptions as codes
from accord.ingest.exceptions import InvalidMappingError, engine_message
from accord.ingest.formats import prepare, sniff_format
from accord.ingest.mapping.compiler import compile_mapping, default_mapping, source_paths
from accord.ingest.mapping.model import MappingSet
from accord.ingest.pipeline import identity_check
from accord.ingest.readers import ReadOptions, open_source
from accord.ingest.validation import ERROR_TYPE, RECORD_LIMITS, any_failed, conform, row_errors
from accord.lake import find_dataset, jsonable
from accord.schema import leaves, resolve_schema_by_id
from accord.workspace import Workspace

MOST_ROWS = 100
"""The most records a preview maps: it is for a person to read."""


@dataclass(frozen=True)
class PreviewRow:
    """One source record as the mapping would write it: its number in the file (from 1), the mapped values by
    field path, and the errors it would fail with (none: it would be ingested)."""

    number: int
    values: dict[str, Any]
    errors: list[dict[str, str]]


@dataclass(frozen=True)
class MappingPreview:
    columns: list[str]
    """The source's columns (and nested fields, by dotted path), which a mapping may name."""
    fields: list[str]
    """The fields the mapping fills, in its order."""
    rows: list[PreviewRow] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    """Problems of the mapping as a whole; with any, no record is mapped."""

    def to_document(self) -> dict[str, Any]:
        return {"columns": self.columns, "fields": self.fields, "problems": self.problems,
                "rows": [{"number": r.number, "values": r.values, "errors": r.errors} for r in self.rows]}  # fmt: skip


def preview_mapping(workspace: Workspace, sandbox: str, dataset: str, files: list[Path], name: str,
                    mapping: MappingSet | None, read: ReadOptions | None = None,
                    limit: int = 20) -> MappingPreview:  # fmt: skip
    """The first `limit` records of `files` (one input, as one batch would read it) mapped into `dataset`.

    A file that cannot be read raises, as its ingestion would (`UnreadableFileError`); problems of the mapping
    are answered, not raised, with the source's columns, so that the mapping can be mended."""
    read = read or ReadOptions()
    settings = workspace.settings
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        schema = resolve_schema_by_id(session, find_dataset(session, sandbox_id, dataset).schema_id)
    staging = workspace.lake.staging("preview")
    con = connect(settings)
    try:
        inputs: list[Path] = []
        for index, path in enumerate(files):
            inputs.extend(prepare(path, staging / str(index), settings.max_uncompressed_bytes,
                                  settings.max_compression_ratio).files)  # fmt: skip
        formats = {read.format} if read.format else {sniff_format(f) for f in inputs}
        if len(formats) > 1:
            raise codes.UnreadableFileError(name, f"mixes formats ({', '.join(sorted(f for f in formats if f))})")
        max_line = min(settings.max_line_bytes, RECORD_LIMITS.get(schema.class_name, settings.max_line_bytes))
        source = open_source(con, inputs, formats.pop() or "csv", read, name, "src", max_line)
        columns = list(source_paths(source.table, source.hidden))
        try:
            mapped = (compile_mapping(mapping, source.table, schema, source.hidden) if mapping is not None
                      else default_mapping(source.table, schema, source.hidden))  # fmt: skip
            conformed = conform(schema, mapped, identity_check(workspace, sandbox_id, schema))
        except InvalidMappingError as exc:
            return MappingPreview(columns, [e.destination for e in mapping.mappings] if mapping else [],
                                  problems=exc.problems)  # fmt: skip
        known = leaves(schema.fields)
        filled = [path for path in mapped.values if path in known] or list(mapped.values)
        unreadable = any_failed(source.unreadable)
        ok = ~unreadable & conformed.ok()
        errors = ibis.ifelse(ok, ibis.literal([], type=ERROR_TYPE), ibis.ifelse(
            unreadable, row_errors(source.unreadable), conformed.errors()))  # fmt: skip
        most = max(1, min(limit, MOST_ROWS))
        output = source.table.select(**conformed.columns, _acc_preview_errors=errors).limit(most)
        try:
            records = to_arrow(con, output).to_pylist()
        except Exception as exc:  # the engine's own errors while reading: the file's problem, as in an ingestion
            import duckdb

            if not isinstance(exc, duckdb.Error):
                raise
            raise codes.UnreadableFileError(name, f"cannot be read: {engine_message(exc, inputs, name)}") from None
        rows = [PreviewRow(number, {path: jsonable(_value_at(record, path)) for path in filled},
                           [dict(e) for e in record.pop("_acc_preview_errors") or []])
                for number, record in enumerate(records, 1)]  # fmt: skip
        return MappingPreview(columns, filled, rows)
    finally:
        con.disconnect()
        workspace.lake.discard(staging)


def _value_at(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
