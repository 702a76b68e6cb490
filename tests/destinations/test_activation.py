"""Activation to a local folder: what lands there (names, columns, rows, bytes), what is left out and why,
full and incremental runs, file formats and names, and a flow checked whole before it is stored."""

from __future__ import annotations

import csv
import gzip
import io
import json
import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from accord import destinations, segment
from accord.errors import ConflictError, DocumentError
from accord.jobs import JobRunningError, hold
from accord.workspace import Workspace
from tests.destinations.conftest import FLOW, create_flow, evaluate, ingest_people


def landed(folder: Path) -> list[Path]:
    """Every file in the folder and below, hidden ones too (a partial file would be one)."""
    return sorted(p for p in folder.rglob("*") if p.is_file())


def csv_rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    raw = path.read_bytes()
    text = gzip.decompress(raw).decode() if path.suffix == ".gz" else raw.decode()
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def test_a_full_export_lands_what_the_flow_maps_and_counts_what_it_leaves_out(people: Workspace, outbox: Path) -> None:
    create_flow(people, "paris", {**FLOW, "mandatory": ["email"], "consentChannel": "email"})
    run = destinations.run_activation(people, "prod", "paris")

    assert run["status"] == "success" and run["full"] and not run["dryRun"]
    (file,) = landed(outbox)
    with people.catalog.session() as s:
        segment_id = destinations.get_flow(s, "prod", "paris")["audiences"][0]["segmentId"]
    assert file.name.startswith(f"Local_folder_segment{segment_id}_") and file.suffix == ".csv"
    rows = csv_rows(file)
    assert list(rows[0]) == ["first_name", "email", "city", "segmentMembership.status"]
    assert sorted((r["first_name"], r["email"]) for r in rows) == [
        ("Ann", "ann.other@example.com"), ("Ann", "ann@example.com"), ("Eve", "eve@example.com")]  # fmt: skip
    assert {r["city"] for r in rows} == {"Paris"} and {r["segmentMembership.status"] for r in rows} == {"realized"}
    # five Parisians: Bob refused e-mail, Cid has none
    assert run["profilesReceived"] == 5 and run["identitiesActivated"] == 3
    assert run["excluded"] == {"consent": 1, "missingMandatoryAttribute": 1}
    assert run["files"] == [{"name": file.name, "sinkPath": str(file), "rows": 3, "size": file.stat().st_size,
                             "segmentId": segment_id}]  # fmt: skip
    assert destinations.list_runs(people, "prod", "paris")[0]["id"] == run["id"]


def test_an_export_that_leaves_no_one_out_is_what_the_general_path_makes(people: Workspace, outbox: Path) -> None:
    """Every member going out is written in one pass, its counts taken from the memberships and identities; a dedup
    key that leaves no one out takes the general path: the two must agree, row for row and count for count."""
    with_ids = {**FLOW, "mapping": [*FLOW["mapping"], {"source": "identityMap.CRMID", "target": "crm"}]}
    create_flow(people, "plain", {**with_ids, "file": {"nameTemplate": "plain"}})
    create_flow(people, "general", {**with_ids, "dedupKey": ["crm"], "file": {"nameTemplate": "general"}})
    plain, general = (destinations.run_activation(people, "prod", name) for name in ("plain", "general"))
    assert general["excluded"] == {} and plain["excluded"] == {}
    for key in ("profilesReceived", "identitiesActivated", "audiences"):
        assert plain[key] == general[key], key
    assert plain["identitiesActivated"] == 4 + 5  # e-mails (Cid has none), and every CRM id
    assert csv_rows(outbox / "plain.csv") == csv_rows(outbox / "general.csv")
    assert len(csv_rows(outbox / "plain.csv")) == 5


def test_a_dedup_key_keeps_one_profile_per_value(people: Workspace, outbox: Path) -> None:
    create_flow(people, "paris", {**FLOW, "dedupKey": ["first_name", "city"]})
    run = destinations.run_activation(people, "prod", "paris")
    rows = csv_rows(landed(outbox)[0])
    assert sorted(r["first_name"] for r in rows) == ["Ann", "Bob", "Cid", "Eve"]
    assert run["excluded"] == {"duplicate": 1}


def test_incremental_runs_send_only_what_changed_and_mark_exits(
    people: Workspace, outbox: Path, tmp_path: Path
) -> None:
    create_flow(people, "paris", {**FLOW, "exportMode": "incremental", "file": {
        "nameTemplate": "paris_%DATETIME(yyyyMMdd_HHmmss_SSS)%"}})  # fmt: skip
    first = destinations.run_activation(people, "prod", "paris")
    assert first["full"] and first["audiences"][0]["changes"] == {"added": 5}

    # Ann moves to Oslo (she leaves), Dee moves to Paris (she joins), Eve consents (not exported: no change)
    ingest_people(people, tmp_path, "crm,first,email,city,consent\nC1,Ann,ann@example.com,Oslo,y\n"
                  "C4,Dee,dee@example.com,Paris,y\nC5,Eve,eve@example.com,Paris,y\n", "moves.csv")  # fmt: skip
    evaluate(people)
    second = destinations.run_activation(people, "prod", "paris")
    assert not second["full"]
    assert second["audiences"][0]["changes"] == {"added": 1, "removed": 1}
    rows = {r["first_name"] + "/" + r["email"]: r["segmentMembership.status"]
            for r in csv_rows(outbox / second["files"][0]["name"])}  # fmt: skip
    assert rows == {"Dee/dee@example.com": "realized", "Ann/ann@example.com": "exited"}

    third = destinations.run_activation(people, "prod", "paris")
    assert third["audiences"][0]["changes"] == {} and third["files"][0]["rows"] == 0
    assert len(landed(outbox)) == 3  # each run its file; the last one holds the header alone
    assert csv_rows(outbox / third["files"][0]["name"]) == []


def test_a_changed_attribute_goes_out_as_changed(people: Workspace, outbox: Path, tmp_path: Path) -> None:
    create_flow(people, "paris", {**FLOW, "exportMode": "incremental"})
    destinations.run_activation(people, "prod", "paris")
    ingest_people(people, tmp_path, "crm,first,email,city,consent\nC5,Evelyn,eve@example.com,Paris,y\n", "eve.csv")
    evaluate(people)
    run = destinations.run_activation(people, "prod", "paris", dry_run=True)
    assert run["dryRun"] and run["audiences"][0]["changes"] == {"changed": 1} and run["files"] == []
    assert len(landed(outbox)) == 1  # a dry run sends nothing
    run = destinations.run_activation(people, "prod", "paris")
    assert run["audiences"][0]["changes"] == {"changed": 1}
    changed = csv_rows(Path(run["files"][0]["sinkPath"]))
    assert [(r["first_name"], r["segmentMembership.status"]) for r in changed] == [("Evelyn", "existing")]


def test_json_lines_files_write_numbers_json_cannot_hold_as_null(tmp_path: Path) -> None:
    import ibis

    from accord.destinations.export import _copy
    from accord.destinations.flows import parse_definition

    con = ibis.duckdb.connect()
    values = [float("nan"), float("inf"), float("-inf"), 2.5]
    rows = con.create_table("scores", ibis.memtable({"score": values, "ratio": values, "name": ["a", "b", "c", "d"]}))
    flow = parse_definition({**FLOW, "file": {"format": "jsonl"}})

    def refuse(constant: str) -> None:
        raise AssertionError(f"not JSON: {constant}")

    assert _copy(con, rows, tmp_path / "out.json", flow) == 4
    lines = [json.loads(line, parse_constant=refuse) for line in (tmp_path / "out.json").read_text().splitlines()]
    assert lines == [{"score": None, "ratio": None, "name": n} for n in "abc"] + [
        {"score": 2.5, "ratio": 2.5, "name": "d"}]  # fmt: skip


def test_formats_compression_csv_options_names_splits_and_manifest(people: Workspace, outbox: Path) -> None:
    create_flow(people, "jsonl", {**FLOW, "file": {"format": "jsonl", "compression": "gzip",
                                                   "nameTemplate": "%SANDBOX_NAME%/%SEGMENT_NAME%_json"}})  # fmt: skip
    create_flow(people, "parquet", {**FLOW, "file": {"format": "parquet", "nameTemplate": "people"}})
    create_flow(people, "split", {**FLOW, "file": {
        "nameTemplate": "split_%TIMESTAMP%", "splitRows": 2, "manifest": True,
        "csv": {"delimiter": ";", "header": False, "nullValue": "NULL"}}})  # fmt: skip

    destinations.run_activation(people, "prod", "jsonl")
    lines = gzip.decompress((outbox / "prod" / "parisians_json.json.gz").read_bytes()).decode().splitlines()
    assert sorted(json.loads(line)["first_name"] for line in lines) == ["Ann", "Ann", "Bob", "Cid", "Eve"]
    assert json.loads(lines[0])["segmentMembership.status"] == "realized"

    destinations.run_activation(people, "prod", "parquet")
    table = pq.read_table(outbox / "people.parquet")
    assert table.column_names == ["first_name", "email", "city", "segmentMembership.status"] and table.num_rows == 5

    run = destinations.run_activation(people, "prod", "split")
    names = [f["name"] for f in run["files"]]
    stem = names[0].removesuffix(".csv")
    assert names == [
        f"{stem}.csv",
        f"{stem}_2.csv",
        f"{stem}_3.csv",
        f"manifest-{run_flow_id(people)}-{run['id']}.json",
    ]
    parts = [(outbox / n).read_text().splitlines() for n in names[:3]]
    assert [len(p) for p in parts] == [2, 2, 1]  # no header: every line a profile
    assert any(line.split(";")[1] == "NULL" for p in parts for line in p)  # Cid's e-mail
    manifest = json.loads((outbox / names[3]).read_text())
    assert manifest["flowRunId"] == run["id"]
    listed = [(e["name"], e["rows"], e["size"]) for e in manifest["exportResults"]]
    assert listed == [(n, len(p), (outbox / n).stat().st_size) for n, p in zip(names[:3], parts, strict=True)]


def run_flow_id(workspace: Workspace) -> str:
    with workspace.catalog.session() as s:
        return str(destinations.get_flow(s, "prod", "split")["id"])


def test_a_flow_is_checked_whole_before_it_is_stored(people: Workspace, outbox: Path) -> None:
    bad: dict[str, Any] = {
        "audiences": [{"segment": "parisians"}, {"segment": "nobody", "schedule": {"frequency": "daily"}}],
        "mapping": [
            {"source": "person.name.firstName", "target": "first_name"},
            {"source": "person.name", "target": "name"},
            {"source": "identityMap.Fax", "target": "fax"},
            {"source": "homeAddress.nowhere", "target": "first_name"},
        ],
        "mandatory": ["email"],
        "dedupKey": ["first_name", "name", "fax"],
        "file": {"nameTemplate": "%WHATEVER%_../x"},
        "limits": {"audiencesPerFlow": 1},
    }
    with pytest.raises(DocumentError) as caught:
        create_flow(people, "bad", bad)
    paths = {p["path"]: p["message"] for p in caught.value.details["problems"]}
    assert set(paths) >= {"audiences", "audiences[1].segment", "audiences[1].schedule.time", "mapping[1].source",
                          "mapping[2].source", "mapping[3].source", "mapping[3].target", "mandatory[0]",
                          "file.nameTemplate"}  # fmt: skip
    assert "object" in paths["mapping[1].source"] and "Fax" in paths["mapping[2].source"]
    assert "more than the 1" in paths["audiences"]
    with people.catalog.session() as s:
        assert destinations.list_flows(s, "prod") == []  # nothing half-made


def test_targets_that_name_what_accord_writes_itself_are_refused(people: Workspace, outbox: Path) -> None:
    """Every column an export writes or works with (and any name starting with `_`) would clash with a field."""
    from accord.destinations.flows import RESERVED_TARGETS

    for target in [*RESERVED_TARGETS, "_exited", "_hash", "_change", "_key", "_consent", "_anything"]:
        mapping = [*FLOW["mapping"], {"source": "person.name.firstName", "target": target}]
        with pytest.raises(DocumentError) as caught:
            create_flow(people, "bad", {**FLOW, "mapping": mapping, "consentChannel": "email"})
        assert [p["path"] for p in caught.value.details["problems"]] == ["mapping[3].target"], target
    with people.catalog.session() as s:
        assert destinations.list_flows(s, "prod") == []


def test_arrays_and_maps_cannot_be_exported(people: Workspace, outbox: Path) -> None:
    for source in ("identityMap", "segmentMembership"):
        with pytest.raises(DocumentError) as caught:
            create_flow(people, "bad", {**FLOW, "mapping": [{"source": source, "target": "x"}]})
        assert "cannot be exported" in str(caught.value.details["problems"]), source


def test_runs_of_one_flow_never_overlap(people: Workspace, outbox: Path) -> None:
    create_flow(people, "paris", FLOW)
    with people.catalog.session() as s:
        flow_id = destinations.get_flow(s, "prod", "paris")["id"]
    holding, release = threading.Event(), threading.Event()

    def another_run() -> None:  # another job holds the flow's lock, as a run in another process would
        with hold(people.catalog, f"activation:{flow_id}", "a test", wait_seconds=0, stale_seconds=60):
            holding.set()
            release.wait(30)

    other = threading.Thread(target=another_run)
    other.start()
    try:
        assert holding.wait(30)
        with pytest.raises(JobRunningError) as caught:
            destinations.run_activation(people, "prod", "paris")
    finally:
        release.set()
        other.join()
    assert "already running" in caught.value.message
    assert destinations.run_activation(people, "prod", "paris")["status"] == "success"


def test_an_audience_of_nobody_yet_sends_an_empty_file(people: Workspace, outbox: Path) -> None:
    with people.catalog.session() as s:
        segment.create_segment(s, "prod", {"name": "romans", "expression": {"value": 'homeAddress.city = "Rome"'}})
    create_flow(people, "rome", {**FLOW, "audiences": [{"segment": "romans"}]})
    run = destinations.run_activation(people, "prod", "rome")
    assert run["status"] == "success" and run["profilesReceived"] == 0 and run["files"][0]["rows"] == 0


def test_file_options_the_engine_would_refuse_are_refused_with_the_flow(people: Workspace, outbox: Path) -> None:
    """A delimiter that is also the quote, a date format with nothing of a date: refused when the flow is made,
    not at its first run."""
    for file, path, said in (
        ({"csv": {"delimiter": "'", "quote": "'", "escape": "'"}}, "file.csv", "must differ"),
        ({"csv": {"delimiter": "\n"}}, "file.csv", "line break"),
        ({"nameTemplate": "%DATETIME(qq)%_x"}, "file.nameTemplate", "%DATETIME(qq)%"),
        ({"nameTemplate": "%BOGUS%_%DATETIME(yyyy!)%"}, "file.nameTemplate", "%DATETIME(yyyy!)%"),
    ):
        with pytest.raises(DocumentError) as caught:
            create_flow(people, "bad", {**FLOW, "file": file})
        problems = caught.value.details["problems"]
        assert any(p["path"].startswith(path) and said in p["message"] for p in problems), (file, problems)


def test_a_segment_that_flows_send_cannot_be_deleted(people: Workspace, outbox: Path) -> None:
    create_flow(people, "paris", FLOW)
    with people.catalog.session() as s, pytest.raises(ConflictError) as caught:
        segment.delete_segment(s, "prod", "parisians")
    assert "activation flows send segment 'parisians': paris" in caught.value.message
    destinations.delete_flow(people, "prod", "paris")
    with people.catalog.session() as s:
        assert segment.delete_segment(s, "prod", "parisians")["name"] == "parisians"
