"""Records checked against a dataset's schema as a batch would check them, without ingesting them.

For a streaming inlet's `?syncValidation=true`: the same reader, default mapping, validation and
identity checks as the batch pipeline (so the same error codes, paths and messages), over the
records written as a JSON array in a scratch folder of the caller's job. Nothing is written to the lake.
"""

from __future__ import annotations

import json
from typing import Any

import ibis

from accord.catalog import DatasetRecord
from accord.engine import connect
from accord.errors import NotFoundError
from accord.ingest.mapping.compiler import default_mapping
from accord.ingest.pipeline import identity_check
from accord.ingest.readers import ReadOptions, open_source
from accord.ingest.validation import RECORD_LIMITS, any_failed, conform, row_errors, size_check
from accord.jobs import removed_at_end
from accord.schema import resolve_schema_by_id
from accord.workspace import Workspace


def check_records(workspace: Workspace, dataset_id: str, records: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
    """Each record's problems (`code`, `path`, `message`), in the records' order; an empty list: it fits."""
    if not records:
        return []
    with workspace.catalog.session() as session:
        dataset = session.get(DatasetRecord, dataset_id)
        if dataset is None:
            raise NotFoundError(f"no dataset {dataset_id!r}", code="INGEST-1404-404")
        schema = resolve_schema_by_id(session, dataset.schema_id)
        sandbox_id = dataset.sandbox_id
    settings = workspace.settings
    with removed_at_end():
        folder = workspace.lake.staging("check")
        path = folder / "records.json"
        # a JSON array, not lines: its reader numbers the records, which gives their order back
        path.write_text(json.dumps(records, ensure_ascii=False, separators=(",", ":")))
        con = connect(settings)
        try:
            max_line = min(settings.max_line_bytes, RECORD_LIMITS.get(schema.class_name, settings.max_line_bytes))
            source = open_source(con, [path], "json", ReadOptions(), "the messages", "src_check", max_line)
            mapped = default_mapping(source.table, schema, source.hidden)
            conformed = conform(schema, mapped, identity_check(workspace, sandbox_id, schema))
            conformed.checks.append(size_check(source.table, schema.class_name, source.hidden, source.record))
            unreadable = any_failed(source.unreadable)
            errors = ibis.ifelse(unreadable, row_errors(source.unreadable), conformed.errors())
            ok = ~unreadable & conformed.ok()
            assert source.row_column is not None
            table = source.table.select(_row=source.table[source.row_column], _ok=ok, _errors=errors)
            found = con.to_pyarrow(table.order_by("_row")).to_pylist()
        finally:
            con.disconnect()
    return [[] if row["_ok"] else [dict(e) for e in row["_errors"] or []] for row in found]
