"""Record-style sync modes (insert, update, upsert, mirror) keyed by the dedup key: what lands in a local folder
and at a real HTTP receiver run after run, as people join, leave, change and change their key; dry runs that
show what would go out and send nothing; records that failed sent again, and only they; flows refused whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from accord import destinations
from accord.destinations.registry import register_declared
from accord.errors import DocumentError
from accord.workspace import Workspace
from tests.destinations.conftest import FLOW, create_flow, document, evaluate, ingest_people
from tests.destinations.test_activation import csv_rows, landed
from tests.destinations.test_streaming_activation import account
from tests.http_receiver import HttpReceiver

HEADER = "crm,first,email,city,consent\n"
BY_EMAIL: dict[str, Any] = {
    "audiences": [{"segment": "parisians"}],
    "mapping": [
        {"source": "person.name.firstName", "target": "first_name"},
        {"source": "personalEmail.address", "target": "email"},  # an attribute key: it can change
        {"source": "homeAddress.city", "target": "city"},
    ],
    "dedupKey": ["email"],
    "file": {"nameTemplate": "people_%DATETIME(yyyyMMdd_HHmmss_SSS)%"},
}
MOVES = (  # Ann leaves Paris, Dee joins, Eve is renamed, Bob's e-mail (the key) changes
    HEADER + "C1,Ann,ann@example.com,Oslo,y\nC4,Dee,dee@example.com,Paris,y\n"
    "C5,Evelyn,eve@example.com,Paris,\nC2,Bob,robert@example.com,Paris,n\n"
)
RETURN = HEADER + "C1,Ann,ann@example.com,Paris,y\n"  # Ann comes back as she was

Sent = set[tuple[str, str, str, str]]
"""(operation, email, first name, status) of each row that went out."""

FIRST: Sent = {("insert", "ann@example.com", "Ann", "realized"), ("insert", "bob@example.com", "Bob", "realized"),
               ("insert", "eve@example.com", "Eve", "realized"),
               ("insert", "ann.other@example.com", "Ann", "realized")}  # fmt: skip
AS_UPDATES = {("update", *rest) for _, *rest in FIRST}  # type: ignore[misc]
JOINED = {("insert", "dee@example.com", "Dee", "realized"), ("insert", "robert@example.com", "Bob", "existing")}
CHANGED = {("update", "eve@example.com", "Evelyn", "existing")}
DELETED = {("delete", "ann@example.com", "", "exited"), ("delete", "bob@example.com", "", "exited")}
BACK = {("insert", "ann@example.com", "Ann", "realized")}
EXPECTED: dict[str, list[Sent]] = {  # per mode: what the first run, the run after MOVES, and after RETURN send
    "insert": [FIRST, JOINED, set()],
    "update": [AS_UPDATES, CHANGED, set()],  # the first run: every record, as an update
    "upsert": [FIRST, JOINED | CHANGED, set()],  # Ann was never deleted: she is still there
    "mirror": [FIRST, JOINED | CHANGED | DELETED, BACK],
}


def file_rows(path: Path) -> Sent:
    return {(r["operation"], r["email"], r["first_name"], r["segmentMembership.status"]) for r in csv_rows(path)}


@pytest.mark.parametrize("mode", list(EXPECTED))
def test_each_mode_lands_its_operations_in_a_folder(people: Workspace, outbox: Path, tmp_path: Path, mode: str) -> None:
    create_flow(people, "paris", {**BY_EMAIL, "syncMode": mode})
    got: list[Sent] = []
    for changes in (None, MOVES, RETURN):
        if changes:
            ingest_people(people, tmp_path, changes, f"changes{len(got)}.csv")
            evaluate(people)
        run = destinations.run_activation(people, "prod", "paris")
        assert run["status"] == "success", run
        (file,) = run["files"]
        got.append(file_rows(Path(file["sinkPath"])))
        assert run["audiences"][0]["changes"] == _counts(got[-1]) and file["rows"] == len(got[-1])
        assert run["excluded"] == {"missingMandatoryAttribute": 1}  # Cid: no e-mail, no key
    assert got == EXPECTED[mode]
    header = (outbox / run["files"][0]["name"]).read_text().splitlines()[0]
    assert header == "first_name,email,city,segmentMembership.status,operation"
    assert destinations.run_activation(people, "prod", "paris")["files"][0]["rows"] == 0  # nothing changed since


def _counts(sent: Sent) -> dict[str, int]:
    counts: dict[str, int] = {}
    for operation, *_ in sent:
        counts[operation] = counts.get(operation, 0) + 1
    return counts


def test_a_delete_names_the_record_and_nothing_else(people: Workspace, outbox: Path, tmp_path: Path) -> None:
    create_flow(people, "paris", {**BY_EMAIL, "syncMode": "mirror"})
    destinations.run_activation(people, "prod", "paris")
    ingest_people(people, tmp_path, MOVES, "moves.csv")
    evaluate(people)
    run = destinations.run_activation(people, "prod", "paris")
    deletes = [r for r in csv_rows(Path(run["files"][0]["sinkPath"])) if r["operation"] == "delete"]
    assert sorted(deletes, key=lambda r: r["email"]) == [
        {"first_name": "", "email": e, "city": "", "segmentMembership.status": "exited", "operation": "delete"}
        for e in ("ann@example.com", "bob@example.com")
    ]


def test_mirror_deletes_a_record_whose_profile_refuses_the_channel(
    people: Workspace, outbox: Path, tmp_path: Path
) -> None:
    create_flow(people, "paris", {**BY_EMAIL, "syncMode": "mirror", "consentChannel": "email"})
    first = destinations.run_activation(people, "prod", "paris")
    assert first["audiences"][0]["changes"] == {"insert": 3}  # Bob refused e-mail, Cid has none
    ingest_people(people, tmp_path, HEADER + "C1,Ann,ann@example.com,Paris,n\n", "refusal.csv")
    evaluate(people)
    run = destinations.run_activation(people, "prod", "paris")
    assert file_rows(Path(run["files"][0]["sinkPath"])) == {("delete", "ann@example.com", "", "exited")}


def test_the_cli_creates_a_flow_with_a_sync_mode(people: Workspace, outbox: Path, tmp_path: Path, cli: Any) -> None:
    (tmp_path / "records.yaml").write_text(yaml.safe_dump({k: v for k, v in BY_EMAIL.items() if k != "audiences"}))
    made = cli("activate", "records", "--destination", "outbox", "--segment", "parisians", "--mapping",
               str(tmp_path / "records.yaml"), "--sync-mode", "upsert", "--json")  # fmt: skip
    assert made.code == 0, made.stdout + made.stderr
    assert made.json()["syncMode"] == "upsert" and made.json()["dedupKey"] == ["email"]
    wrong = cli("activate", "wrong", "--destination", "outbox", "--segment", "parisians", "--mapping",
                str(tmp_path / "records.yaml"), "--sync-mode", "merge")  # fmt: skip
    assert wrong.code == 2 and "syncMode" in wrong.stdout + wrong.stderr


def test_an_identity_key_sends_one_record_per_value(people: Workspace, outbox: Path, tmp_path: Path) -> None:
    create_flow(people, "paris", {**FLOW, "dedupKey": ["email"], "syncMode": "mirror", "file": BY_EMAIL["file"]})
    first = destinations.run_activation(people, "prod", "paris")
    assert first["audiences"][0]["changes"] == {"insert": 4}
    # Bob gives a second address: a new record; the first stays (his identity graph holds both)
    ingest_people(people, tmp_path, HEADER + "C2,Bob,robert@example.com,Paris,n\n", "bob.csv")
    evaluate(people)
    second = destinations.run_activation(people, "prod", "paris")
    assert file_rows(Path(second["files"][0]["sinkPath"])) == {("insert", "robert@example.com", "Bob", "existing")}


def test_a_dry_run_shows_counts_and_keys_and_changes_nothing(
    people: Workspace, outbox: Path, tmp_path: Path, cli: Any
) -> None:
    create_flow(people, "paris", {**BY_EMAIL, "syncMode": "mirror"})
    destinations.run_activation(people, "prod", "paris")
    ingest_people(people, tmp_path, MOVES, "moves.csv")
    evaluate(people)
    before = landed(outbox)

    dry = destinations.run_activation(people, "prod", "paris", dry_run=True)
    (audience,) = dry["audiences"]
    assert dry["dryRun"] and dry["files"] == [] and landed(outbox) == before
    assert audience["changes"] == {"insert": 2, "update": 1, "delete": 2}
    assert audience["samples"] == {
        "delete": [{"email": "ann@example.com"}, {"email": "bob@example.com"}],
        "insert": [{"email": "dee@example.com"}, {"email": "robert@example.com"}],
        "update": [{"email": "eve@example.com"}],
    }
    assert "samples" not in destinations.get_run(people, "prod", dry["id"])["audiences"][0]  # keys are not kept

    told = cli("activation", "run", "paris", "--dry-run")
    assert told.code == 0, told.stdout
    assert "parisians: would send 2 delete, 2 insert, 1 update" in told.stdout
    assert "delete: email=ann@example.com, email=bob@example.com" in told.stdout
    shown = cli("activation", "run", "paris", "--dry-run", "--json")
    assert shown.json()["audiences"][0]["samples"] == audience["samples"] and landed(outbox) == before

    run = destinations.run_activation(people, "prod", "paris")  # the dry runs kept nothing: all of it goes now
    assert run["audiences"][0]["changes"] == audience["changes"]


def test_a_dry_run_through_the_api_shows_keys(api: Any, people: Workspace, outbox: Path) -> None:
    create_flow(people, "paris", {**BY_EMAIL, "syncMode": "upsert"})
    answer = api.post("/activations/paris/runs", params={"dryRun": "true", "sandbox": "prod"})
    assert answer.status_code == 201, answer.text
    (audience,) = answer.json()["audiences"]
    assert audience["changes"] == {"insert": 4} and answer.json()["dryRun"]
    assert audience["samples"] == {"insert": [{"email": e} for e in sorted(
        ["ann@example.com", "ann.other@example.com", "bob@example.com", "eve@example.com"])]}  # fmt: skip
    assert landed(outbox) == []


@pytest.fixture
def quick_http(tmp_path: Path) -> Iterator[None]:
    """A declared HTTP destination `sync-http` taking every sync mode, one profile a request, quick tries."""
    folder = tmp_path / "declared"
    folder.mkdir()
    doc = document(id="sync-http", syncModes=["insert", "update", "upsert", "mirror"],
                   aggregation={"maxProfilesPerRequest": 1, "maxBatchAgeSeconds": 0.05})  # fmt: skip
    (folder / "sync.yaml").write_text(yaml.safe_dump(doc))
    assert register_declared(folder) == {}
    yield
    register_declared(tmp_path / "none")


def received(receiver: HttpReceiver, path: str, since: int = 0) -> Sent:
    """What the receiver took (answered 200) among the requests after the first `since`."""
    return {(p["operation"], p["attributes"]["email"] or "", p["attributes"]["first_name"] or "",
             next(iter(p["segments"].values()))["status"])
            for r in receiver.requests(path)[since:] if r.status == 200 for p in r.json()["profiles"]}  # fmt: skip


def test_the_next_run_sends_exactly_the_records_that_failed_and_new_changes(
    people: Workspace, receiver: HttpReceiver, tmp_path: Path, quick_http: None
) -> None:
    account(people, "hook", "sync-http", {"url": receiver.url, "timeoutSeconds": 2})
    create_flow(people, "paris", {**BY_EMAIL, "syncMode": "mirror"}, account="hook")
    first = destinations.run_activation(people, "prod", "paris")
    assert first["status"] == "success" and received(receiver, "/profiles") == FIRST
    ingest_people(people, tmp_path, MOVES, "moves.csv")
    evaluate(people)

    receiver.refuse(b"eve@example.com")  # every try of Eve's update fails
    done = len(receiver.requests())
    second = destinations.run_activation(people, "prod", "paris")
    assert second["status"] == "partial" and second["profilesFailed"] == 1
    assert received(receiver, "/profiles", done) == JOINED | DELETED  # all but Eve's update

    receiver.allow(b"eve@example.com")
    ingest_people(people, tmp_path, HEADER + "C7,Ann,ann.other@example.com,Oslo,y\n", "other.csv")  # she leaves
    evaluate(people)
    done = len(receiver.requests())
    third = destinations.run_activation(people, "prod", "paris")
    assert third["status"] == "success"
    assert received(receiver, "/profiles", done) == CHANGED | {("delete", "ann.other@example.com", "", "exited")}
    assert len(receiver.requests()) - done == 2  # nothing else went again
    done = len(receiver.requests())
    assert destinations.run_activation(people, "prod", "paris")["requests"] == 0 and len(receiver.requests()) == done


@pytest.mark.parametrize("mode", list(EXPECTED))
def test_each_mode_sends_its_operations_to_the_http_destination(
    people: Workspace, receiver: HttpReceiver, tmp_path: Path, mode: str
) -> None:
    account(people, "hook", "http", {"url": f"{receiver.url}/in"})
    create_flow(people, "paris", {**BY_EMAIL, "syncMode": mode}, account="hook")
    got: list[Sent] = []
    for changes in (None, MOVES, RETURN):
        if changes:
            ingest_people(people, tmp_path, changes, f"changes{len(got)}.csv")
            evaluate(people)
        done = len(receiver.requests())
        run = destinations.run_activation(people, "prod", "paris")
        assert run["status"] == "success" and run["profilesFailed"] == 0, run
        got.append(received(receiver, "/in", done))
        assert run["audiences"][0]["changes"] == _counts(got[-1])
    assert got == EXPECTED[mode]


def test_a_flow_with_a_sync_mode_is_checked_whole(people: Workspace, outbox: Path) -> None:
    account(people, "ads", "ads", {"url": "http://127.0.0.1:9/audiences", "token": "t0ken"})
    emails = {"audiences": [{"segment": "parisians"}], "mapping": [{"source": "identityMap.Email", "target": "email"}],
              "dedupKey": ["email"], "syncMode": "mirror"}  # fmt: skip
    with pytest.raises(DocumentError) as refused:
        create_flow(people, "ads", emails, account="ads")
    assert refused.value.details["problems"] == [
        {"path": "syncMode", "message": "Advertising platform takes no sync mode; not 'mirror'"}]  # fmt: skip

    mapping = [*BY_EMAIL["mapping"], {"source": "homeAddress.city", "target": "operation"}]
    bad = {**BY_EMAIL, "mapping": mapping, "dedupKey": [], "syncMode": "upsert", "exportMode": "full"}
    with pytest.raises(DocumentError) as refused:
        create_flow(people, "bad", bad)
    paths = [p["path"] for p in refused.value.details["problems"]]
    assert sorted(paths) == ["dedupKey", "exportMode", "mapping[3].target"]
    with pytest.raises(DocumentError) as refused:
        create_flow(people, "bad", {**BY_EMAIL, "syncMode": "merge"})
    assert refused.value.details["problems"][0]["path"] == "syncMode"
    with people.catalog.session() as s:
        assert destinations.list_flows(s, "prod") == []  # nothing stored


def test_every_destination_says_which_sync_modes_it_takes() -> None:
    specs = {spec.id: spec for spec in destinations.list_destinations()}
    for spec in specs.values():
        assert spec.to_document()["syncModes"] == list(spec.sync_modes)
        if spec.files is not None:  # a file carries the operation column whatever reads it
            assert spec.sync_modes == ("insert", "update", "upsert", "mirror"), spec.id
    assert specs["http"].sync_modes == ("insert", "update", "upsert", "mirror")
    assert specs["ads"].sync_modes == ()  # it adds and removes memberships: no records to insert or update


def test_a_declared_destination_that_takes_sync_modes_is_validated_with_operations(tmp_path: Path) -> None:
    body = '{"ops": [{% for p in profiles %}{{ p.operation | tojson }}{{ "," if not loop.last }}{% endfor %}]}'
    (tmp_path / "records.yaml").write_text(yaml.safe_dump(document(id="records", syncModes=["mirror"], body=body)))
    checked = destinations.validate_declared_file(tmp_path / "records.yaml")
    assert [json.loads(r["body"]) for r in checked["sample"]] == [{"ops": ["update", "delete"]}]
