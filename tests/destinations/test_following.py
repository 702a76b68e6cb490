"""Flows to streaming destinations follow membership changes: what streaming evaluation changes reaches a real HTTP
receiver (who joined, who left), once; a follower starts at its flow's creation; an incremental flow's next run
knows what the follower sent; and under `accord serve`, a destination that is down or slow delays no other."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from accord import destinations, profile, segment
from accord.api import create_app
from accord.catalog import resolve_sandbox
from accord.destinations.following import Followers, follow_once
from accord.workspace import Workspace
from tests.destinations.conftest import FLOW, create_flow
from tests.destinations.test_streaming_activation import account
from tests.http_receiver import HttpReceiver, answer, slow_read
from tests.servers import start_api


def move(workspace: Workspace, crm: str, city: str) -> list[dict[str, Any]]:
    """Streaming evaluation of a profile that moved to `city`: the membership changes it made."""
    found = profile.get_profile(workspace, "prod", "CRMID", crm)
    evaluator = segment.StreamingEvaluator(workspace, "prod")
    try:
        moved = {**found["attributes"], "homeAddress": {"city": city}}
        return evaluator.evaluate(int(found["graphId"]), {"attributes": moved, "events": []})
    finally:
        evaluator.close()


def streaming_parisians(workspace: Workspace) -> None:
    with workspace.catalog.session() as s:
        segment.change_segment(s, "prod", "parisians", streaming=True)


def received(receiver: HttpReceiver, path: str = "/in") -> list[tuple[str, str]]:
    """(e-mail, status) of every profile the receiver took, in order."""
    return [(p["identities"].get("Email", ["-"])[0], next(iter(p["segments"].values()))["status"])
            for r in receiver.requests(path) if r.status == 200 for p in r.json()["profiles"]]  # fmt: skip


def test_a_flow_sends_who_joined_and_who_left_once(people: Workspace, receiver: HttpReceiver) -> None:
    streaming_parisians(people)
    account(people, "hook", "http", {"url": f"{receiver.url}/in"})
    create_flow(people, "paris", FLOW, account="hook")
    assert [c["status"] for c in move(people, "C4", "Paris")] == ["realized"]  # Dee moved to Paris
    assert [c["status"] for c in move(people, "C1", "Oslo")] == ["exited"]  # and Ann left it

    run = follow_once(people, "prod", "paris")
    assert run is not None and run["status"] == "success" and run["trigger"] == "events"
    assert sorted(received(receiver)) == [("ann@example.com", "exited"), ("dee@example.com", "realized")]
    assert run["audiences"][0]["changes"] == {"added": 1, "removed": 1}
    requests = len(receiver.requests("/in"))
    assert follow_once(people, "prod", "paris") is None  # nothing new: nothing sent again
    assert len(receiver.requests("/in")) == requests

    move(people, "C4", "Oslo")
    move(people, "C4", "Paris")
    move(people, "C4", "Oslo")  # three changes since: the last says where Dee stands
    follow_once(people, "prod", "paris")
    assert received(receiver)[2:] == [("dee@example.com", "exited")]


def test_a_flow_starts_following_at_its_creation(people: Workspace, receiver: HttpReceiver) -> None:
    streaming_parisians(people)
    move(people, "C4", "Paris")  # before the flow: its first scheduled run sends Dee with the others
    account(people, "hook", "http", {"url": f"{receiver.url}/in"})
    create_flow(people, "paris", FLOW, account="hook")
    assert follow_once(people, "prod", "paris") is None and receiver.requests() == []
    first = destinations.run_activation(people, "prod", "paris")
    assert ("dee@example.com", "realized") in received(receiver) and first["profilesReceived"] == 6


def test_an_incremental_flow_keeps_what_its_follower_sent(people: Workspace, receiver: HttpReceiver) -> None:
    streaming_parisians(people)
    account(people, "hook", "http", {"url": f"{receiver.url}/in"})
    create_flow(people, "paris", {**FLOW, "exportMode": "incremental"}, account="hook")
    assert destinations.run_activation(people, "prod", "paris")["audiences"][0]["changes"] == {"added": 5}
    move(people, "C4", "Paris")
    move(people, "C5", "Oslo")
    assert follow_once(people, "prod", "paris")["audiences"][0]["changes"] == {"added": 1, "removed": 1}  # type: ignore[index]
    sent = len(received(receiver))
    after = destinations.run_activation(people, "prod", "paris")  # the memberships now: the job's and streaming's
    assert after["audiences"][0]["changes"] == {} and len(received(receiver)) == sent


def test_under_serve_a_destination_down_and_one_slow_delay_no_other(
    people: Workspace, receivers: Callable[[], HttpReceiver]
) -> None:
    streaming_parisians(people)
    servers = {name: receivers() for name in ("down", "slow", "first", "second")}
    servers["down"].then(default=answer(503))
    servers["slow"].then(default=slow_read())
    for name, server in servers.items():
        account(people, name, "http", {"url": f"{server.url}/in", "timeoutSeconds": 3})
        create_flow(people, name, FLOW, account=name)
    followers = Followers(people, poll_seconds=0.2)
    followers.start()
    try:
        for wave, crm in enumerate(("C4", "C1", "C5")):  # changes keep coming for all four flows
            move(people, crm, "Paris" if crm == "C4" else "Oslo")
            made = time.monotonic()
            deadline = made + 5
            while time.monotonic() < deadline and not all(len(received(servers[n])) == wave + 1
                                                          for n in ("first", "second")):  # fmt: skip
                time.sleep(0.05)
            for name in ("first", "second"):
                assert len(received(servers[name])) == wave + 1, (name, received(servers[name]))
            assert time.monotonic() - made < 3  # on time: the poll, a run, the network
        assert received(servers["down"]) == [] and servers["slow"].requests("/in") == []
        for name in ("first", "second"):
            assert received(servers[name]) == [("dee@example.com", "realized"), ("ann@example.com", "exited"),
                                               ("eve@example.com", "exited")]  # fmt: skip
    finally:
        for server in servers.values():  # back to health: the two others' tries end, and their followers with them
            server.then(default=answer(200))
        followers.stop(wait_seconds=30)
    assert all(len(received(server)) >= 1 for server in servers.values())  # what they held went when they could


def test_accord_serve_follows_and_stops_following_a_disabled_flow(people: Workspace, receiver: HttpReceiver) -> None:
    streaming_parisians(people)
    account(people, "hook", "http", {"url": f"{receiver.url}/in"})
    later = {"segment": "parisians", "schedule": {"frequency": "daily", "time": "09:00", "start": "2099-01-01"}}
    create_flow(people, "paris", {**FLOW, "audiences": [later]}, account="hook")  # no scheduled run now
    settings = people.settings.model_copy(update={"scheduler": True, "follow_seconds": 0.2,
                                                  "scheduler_tick_seconds": 3600})  # fmt: skip
    server = start_api(create_app(settings))
    try:
        move(people, "C4", "Paris")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not received(receiver):
            time.sleep(0.05)
        assert received(receiver) == [("dee@example.com", "realized")]
        with people.catalog.session() as s:
            destinations.set_state(s, "prod", "paris", "disabled")
        time.sleep(1)  # the server lets the disabled flow's follower go
        move(people, "C4", "Oslo")
        time.sleep(1)
        assert received(receiver) == [("dee@example.com", "realized")]
    finally:
        server.stop()
    runs = destinations.list_runs(people, "prod", "paris")
    assert [(r["trigger"], r["status"], r["profilesReceived"]) for r in runs] == [("events", "success", 1)]


def test_a_flow_whose_runs_keep_failing_waits_longer_each_time(people: Workspace, receiver: HttpReceiver) -> None:
    streaming_parisians(people)
    account(people, "hook", "http", {"url": f"{receiver.url}/in"})
    create_flow(people, "paris", FLOW, account="hook")
    move(people, "C4", "Paris")
    with people.catalog.session() as s:
        store = profile.store_folder(people, resolve_sandbox(s, "prod").id)
    (store / "profiles.parquet").unlink()  # every run of the flow now fails: no profiles to activate
    followers = Followers(people, poll_seconds=0.05)
    followers.start()
    time.sleep(2)
    followers.stop()
    runs = destinations.list_runs(people, "prod", "paris")
    assert runs and all(r["status"] == "failed" and r["trigger"] == "events" for r in runs)
    assert "no profiles to activate" in runs[0]["errors"][0]["message"]
    # 0.1, 0.2, 0.4, 0.8 s between tries: about five in two seconds, where a try every poll would make forty
    assert len(runs) <= 7, len(runs)
    assert receiver.requests() == []
