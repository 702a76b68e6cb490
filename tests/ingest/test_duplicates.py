"""The same file ingested twice into a dataset: a warning naming the earlier batch, or a skip on request."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

from accord import lake
from accord.ingest import IngestRequest, ingest_file
from accord.workspace import Workspace
from tests.ingest.conftest import HEADER, MAPPING, ROWS, names, write

TEXT = "\n".join([HEADER, *ROWS]) + "\n"


def ingest(ws: Workspace, path: Path, dataset: str = "crm", skip: bool = False, threshold: float | None = None) -> Any:
    return ingest_file(ws, "prod", IngestRequest(dataset, path, MAPPING, threshold, skip_duplicate_files=skip))


def batches(ws: Workspace) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return lake.list_batches(session, "prod", "crm", 100)


def test_the_same_content_twice_warns_and_names_the_earlier_batch(crm: Workspace, tmp_path: Path) -> None:
    first = ingest(crm, write(tmp_path / "crm.csv", TEXT))
    assert first["warnings"] == [] and first["contentHash"] == hashlib.sha256(TEXT.encode()).hexdigest()
    again = ingest(crm, write(tmp_path / "renamed.csv", TEXT))  # another name, the same content
    assert again["status"] == "success" and again["id"] != first["id"]
    [warning] = again["warnings"]
    assert warning["code"] == "INGEST-1007-200" and warning["batchId"] == first["id"]
    assert f"by batch {first['id']} (crm.csv" in warning["message"] and "stored twice" in warning["message"]
    assert names(crm) == ["Ann", "Ann", "Bob", "Bob", "Cy", "Cy"]  # warned, not refused
    with crm.catalog.session() as session:  # the warning stays with the batch
        stored = lake.get_batch(session, "prod", again["id"])
        assert stored["warnings"] == [warning] and "warnings" not in stored["options"]  # said once


def test_skip_duplicate_files_ingests_nothing_and_answers_with_the_earlier_batch(
    crm: Workspace, tmp_path: Path
) -> None:
    first = ingest(crm, write(tmp_path / "crm.csv", TEXT))
    skipped = ingest(crm, write(tmp_path / "again.csv", TEXT), skip=True)
    assert skipped["skipped"] is True and skipped["id"] == first["id"]
    assert skipped["warnings"][0]["code"] == "INGEST-1007-200"
    assert skipped["warnings"][0]["message"].startswith("skipped: the same content was ingested into crm")
    assert len(batches(crm)) == 1 and names(crm) == ["Ann", "Bob", "Cy"]
    other = ingest(crm, write(tmp_path / "other.csv", TEXT.replace("Cy", "Cyd")), skip=True)
    assert "skipped" not in other and other["warnings"] == [] and len(batches(crm)) == 2


def test_compressed_files_are_compared_as_received(crm: Workspace, tmp_path: Path) -> None:
    packed = gzip.compress(TEXT.encode(), mtime=0)
    (tmp_path / "a.csv.gz").write_bytes(packed)
    (tmp_path / "b.csv.gz").write_bytes(packed)
    first = ingest(crm, tmp_path / "a.csv.gz")
    assert first["contentHash"] == hashlib.sha256(packed).hexdigest()
    assert ingest(crm, tmp_path / "b.csv.gz", skip=True)["skipped"] is True


def test_only_committed_batches_of_the_same_dataset_count(crm: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "crm.csv", TEXT)
    failed = ingest(crm, write(tmp_path / "bad.csv", TEXT.replace("1,Ann", "x,Ann")), threshold=0)
    assert failed["status"] == "failed"
    assert ingest(crm, write(tmp_path / "bad2.csv", TEXT.replace("1,Ann", "x,Ann")), threshold=50)["warnings"] == []
    first = ingest(crm, path)
    lake.delete_batch(crm, "prod", first["id"])
    restored = ingest(crm, path)  # its rows were deleted: ingesting it again restores them
    assert restored["warnings"] == [] and names(crm) == ["Ann", "Bob", "Bob", "Cy", "Cy"]
    events = tmp_path / "events.json"
    events.write_text('{"_id": "e1", "timestamp": "2026-01-02T03:04:05Z"}\n')
    first_events = ingest_file(crm, "prod", IngestRequest("events", events))
    assert first_events["warnings"] == []
    assert ingest_file(crm, "prod", IngestRequest("events", events))["warnings"][0]["batchId"] == first_events["id"]
