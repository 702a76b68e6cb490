"""Activation to streaming destinations: an audience sent as requests to a real HTTP receiver, what it
got, the run's record, and profiles that failed sent again by the next run; the advertising destination
gets hashes only."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from accord import destinations, sources
from accord.access import AllowedRoots
from accord.workspace import Workspace
from tests.destinations.conftest import FLOW, create_flow
from tests.http_receiver import HttpReceiver, answer


def account(workspace: Workspace, name: str, destination: str, config: dict[str, Any]) -> None:
    with workspace.catalog.session() as s:
        destinations.create_account(s, sources.SecretBox(workspace.settings.home), "prod", name, destination, config,
                                    AllowedRoots.from_settings(workspace.settings))  # fmt: skip


def sent_profiles(receiver: HttpReceiver, path: str) -> list[dict[str, Any]]:
    return [p for r in receiver.requests(path) if r.status == 200 for p in r.json()["profiles"]]


def test_an_audience_streams_to_an_http_endpoint(people: Workspace, receiver: HttpReceiver) -> None:
    account(people, "hook", "http", {"url": f"{receiver.url}/in"})
    create_flow(people, "paris", {**FLOW, "mandatory": ["email"]}, account="hook")
    run = destinations.run_activation(people, "prod", "paris")

    assert run["status"] == "success" and run["files"] == [] and run["requests"] >= 1 and run["profilesFailed"] == 0
    got = sent_profiles(receiver, "/in")
    assert sorted(p["attributes"]["first_name"] for p in got) == ["Ann", "Ann", "Bob", "Eve"]  # Cid: no e-mail
    ann = next(p for p in got if p["identities"] == {"Email": ["ann@example.com"]})
    assert ann["attributes"] == {"first_name": "Ann", "city": "Paris"}
    ((segment_id, membership),) = ann["segments"].items()
    assert membership == {"name": "parisians", "status": "realized"} and len(segment_id) == 24
    body = receiver.requests("/in")[0].json()
    assert body["destination"] == "hook" and body["flow"]["name"] == "paris"
    assert run["excluded"] == {"missingMandatoryAttribute": 1}


def test_profiles_that_failed_are_sent_again_by_the_next_run(people: Workspace, receiver: HttpReceiver) -> None:
    account(people, "hook", "http", {"url": f"{receiver.url}/in"})
    create_flow(people, "paris", {**FLOW, "exportMode": "incremental"}, account="hook")
    receiver.then(default=answer(503))  # down for every try of the first run
    first = destinations.run_activation(people, "prod", "paris")
    assert first["status"] == "failed" and first["profilesFailed"] == 5 and first["retries"] > 0
    assert all("profiles not delivered" in e["message"] for e in first["errors"])  # 503s, then the circuit opened
    with people.catalog.session() as s:
        letters = destinations.list_dead_letters(s, "prod", "paris")
    assert letters and all(letter["runId"] == first["id"] for letter in letters)
    with people.catalog.session() as s:
        assert destinations.get_flow(s, "prod", "paris")["state"] == "error"

    receiver.then(default=answer(200))  # back up: the next run sends them again, as it would send changes
    second = destinations.run_activation(people, "prod", "paris")
    assert second["status"] == "success" and second["audiences"][0]["changes"] == {"added": 5}
    assert len(sent_profiles(receiver, "/in")) == 5
    third = destinations.run_activation(people, "prod", "paris")
    assert third["audiences"][0]["changes"] == {} and third["requests"] == 0  # nothing changed, nothing sent
    with people.catalog.session() as s:
        assert destinations.get_flow(s, "prod", "paris")["state"] == "enabled"


def test_the_advertising_destination_gets_hashes_only(people: Workspace, receiver: HttpReceiver) -> None:
    account(people, "ads", "ads", {"url": f"{receiver.url}/audiences", "token": "t0ken-never-seen"})
    emails = {"audiences": [{"segment": "parisians"}], "mapping": [{"source": "identityMap.Email", "target": "email"}]}
    create_flow(people, "ads", emails, account="ads")
    run = destinations.run_activation(people, "prod", "ads")
    assert run["status"] == "partial" and run["profilesFailed"] == 1  # Cid has no e-mail to send
    every = receiver.every_byte()
    for clear in (b"ann@example.com", b"eve@example.com", b"Ann", b"Paris"):
        assert clear not in every
    hashes = {h["email_lc_sha256"] for r in receiver.requests("/audiences") for a in r.json()["audiences"]
              for h in a["add"]}  # fmt: skip
    expected = {hashlib.sha256(e.encode()).hexdigest() for e in
                ("ann@example.com", "bob@example.com", "eve@example.com", "ann.other@example.com")}  # fmt: skip
    assert hashes == expected


def test_a_dry_run_sends_nothing(people: Workspace, receiver: HttpReceiver, tmp_path: Path) -> None:
    account(people, "hook", "http", {"url": f"{receiver.url}/in"})
    create_flow(people, "paris", FLOW, account="hook")
    run = destinations.run_activation(people, "prod", "paris", dry_run=True)
    assert run["dryRun"] and run["audiences"][0]["changes"] == {"added": 5} and receiver.requests() == []


def test_a_run_that_delivered_nothing_does_not_say_sent(people: Workspace, cli: Any, closed_port: int) -> None:
    account(people, "gone", "http", {"url": f"http://127.0.0.1:{closed_port}/in"})
    create_flow(people, "paris", FLOW, account="gone")
    told = cli("activation", "run", "paris")
    assert told.code == 1, told.stdout
    assert "parisians: prepared 5 added" in told.stdout and "sent" not in told.stdout
    assert "5 profiles not delivered" in told.stdout
