"""A mapping tried on a file's first records: what an ingestion would write and the errors it would give, with
nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord import lake
from accord.ingest import UnreadableFileError, parse_mapping, preview_mapping
from accord.workspace import Workspace
from tests.ingest.conftest import HEADER, MAPPING, ROWS, ingest, write


def batches(ws: Workspace) -> int:
    with ws.catalog.session() as session:
        return len(lake.list_batches(session, "prod", "crm", 100))


def test_a_preview_maps_the_first_records_as_an_ingestion_would(crm: Workspace, tmp_path: Path) -> None:
    rows = [*ROWS, "x9,Dee,Po,not-an-email,bronze"]
    path = write(tmp_path / "people.csv", "\n".join([HEADER, *rows]) + "\n")
    shown = preview_mapping(crm, "prod", "crm", [path], "people.csv", MAPPING, limit=10)
    assert shown.columns == ["id", "first", "last", "email", "tier"] and not shown.problems
    assert shown.fields == ["_tenant.crmId", "person.name.firstName", "person.name.lastName",
                            "personalEmail.address", "_tenant.tier"]  # fmt: skip
    assert [r.number for r in shown.rows] == [1, 2, 3, 4]
    assert shown.rows[0].values["person.name.firstName"] == "Ann" and not shown.rows[0].errors
    bad = {e["path"] for e in shown.rows[3].errors}
    assert {"_tenant.crmId", "_tenant.tier"} <= bad  # the same checks as an ingestion's
    assert batches(crm) == 0  # nothing was ingested, no batch recorded
    batch = ingest(crm, path, threshold=50)  # and the ingestion agrees with the preview
    assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (3, 1)


def test_a_preview_is_limited(crm: Workspace, tmp_path: Path) -> None:
    lines = [f"{n},N{n},L,n{n}@example.com,gold" for n in range(1, 500)]
    path = write(tmp_path / "many.csv", "\n".join([HEADER, *lines]) + "\n")
    assert len(preview_mapping(crm, "prod", "crm", [path], "many.csv", MAPPING, limit=5).rows) == 5
    assert len(preview_mapping(crm, "prod", "crm", [path], "many.csv", MAPPING, limit=10_000).rows) == 100


def test_problems_of_the_mapping_come_back_with_the_columns(crm: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", "\n".join([HEADER, *ROWS]) + "\n")
    mapping = parse_mapping({"mappings": [{"source": "id", "destination": "_tenant.crmId"},
                                          {"source": "frist", "destination": "person.name.firstName"},
                                          {"source": "last", "destination": "person.name.nickname"}]})  # fmt: skip
    shown = preview_mapping(crm, "prod", "crm", [path], "people.csv", mapping)
    assert shown.columns == ["id", "first", "last", "email", "tier"] and shown.rows == []
    messages = " ".join(p["message"] for p in shown.problems)
    assert "frist" in messages and "nickname" in messages


def test_an_unreadable_file_is_refused_as_an_ingestion_would(crm: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "empty.csv", "")
    with pytest.raises(UnreadableFileError, match="empty"):
        preview_mapping(crm, "prod", "crm", [path], "empty.csv", MAPPING)
    assert not list((crm.lake.staging_root).glob("preview*"))  # its working folder is gone
