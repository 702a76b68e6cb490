"""Statistics from the Parquet files' footers agree with the ones that read every row, on what footers hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from accord import lake, schema
from accord.errors import NotFoundError
from accord.ingest import IngestRequest, ReadOptions, ingest_file
from accord.workspace import Workspace

FACTS = {"name": "facts", "classes": ["experienceevent"], "fields": {"_tenant": {"type": "object", "properties": {
    "points": {"type": "integer"}, "score": {"type": "number"}, "member": {"type": "boolean"},
    "note": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}}}}  # fmt: skip


def _events(ws: Workspace, path: Path, *rows: dict[str, Any]) -> dict[str, Any]:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return ingest_file(ws, "prod", IngestRequest("events", path, read=ReadOptions(format="json")))


def _event(number: int, day: int, **tenant: Any) -> dict[str, Any]:
    return {"_id": f"e{number}", "timestamp": f"2026-01-{day:02d}T03:04:05Z", "eventType": "web.visit",
            "_tenant": tenant}  # fmt: skip


def test_footers_give_the_counts_and_ranges_of_reading_every_row(workspace: Workspace, tmp_path: Path) -> None:
    with workspace.catalog.session() as session:
        schema.create_field_group(session, "prod", FACTS)
        schema.create_schema(session, "prod", {"name": "events", "class": "experienceevent", "fieldGroups": ["facts"]})
        lake.create_dataset(session, "prod", "events", "events")
    empty = lake.stored_statistics(workspace, "prod", "events")
    nothing = {"type": "integer", "count": 0, "distinct": None, "min": None, "max": None}
    assert empty["rowCount"] == 0 and empty["fields"]["_tenant.points"] == nothing
    _events(workspace, tmp_path / "a.json", _event(1, 5, points=3, score=1.5, member=True, note="b", tags=["x"]),
            _event(2, 9, points=-2, note="a"), _event(3, 7, score=9.25, member=False))  # fmt: skip
    _events(workspace, tmp_path / "b.json", _event(4, 2, points=40, note="c" * 300), _event(5, 20))
    gone = _events(workspace, tmp_path / "c.json", _event(6, 28, points=1000, note="zzz"))
    lake.delete_batch(workspace, "prod", gone["id"])  # its rows are no longer the dataset's

    stored = lake.stored_statistics(workspace, "prod", "events")
    exact = lake.statistics(workspace, "prod", "events")
    assert stored["rowCount"] == exact["rowCount"] == 5
    for path, figures in exact["fields"].items():
        if figures["type"] in ("array", "map"):
            assert stored["fields"][path]["count"] is None, path  # a footer counts items, not rows
            continue
        assert stored["fields"][path]["count"] == figures["count"], path
        if path != "_tenant.note" and "min" in figures:
            assert (stored["fields"][path]["min"], stored["fields"][path]["max"]) == (figures["min"], figures["max"])
    fields = stored["fields"]
    assert (fields["_tenant.points"]["min"], fields["_tenant.points"]["max"]) == (-2, 40)
    assert fields["timestamp"]["min"].startswith("2026-01-02T03:04:05") and fields["timestamp"]["max"].startswith(
        "2026-01-20")  # fmt: skip
    assert "min" not in fields["_tenant.member"] and fields["_tenant.member"]["count"] == 2
    # a text longer than the footer keeps is cut there: neither its cut nor a bound of it is shown as a value
    assert fields["_tenant.note"]["count"] == 3 and fields["_tenant.note"]["max"] is None


def test_an_unknown_dataset_is_refused(workspace: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no dataset named 'nope'"):
        lake.stored_statistics(workspace, "prod", "nope")
