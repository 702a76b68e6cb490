"""Alerts on activation runs: start, success, failure, delay and skip rate, recorded and sent to a webhook
(a real HTTP receiver), through the service, the CLI and the API's subscription document."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from accord import destinations
from accord.errors import AccordError, DocumentError
from accord.sources.alerts import check_delays, list_alerts, subscribe
from accord.workspace import Workspace
from tests.destinations.conftest import FLOW, create_flow
from tests.http_receiver import HttpReceiver


def alerts(workspace: Workspace) -> list[dict[str, Any]]:
    with workspace.catalog.session() as s:
        return list_alerts(s, "prod")


def webhooks(receiver: HttpReceiver, count: int) -> list[dict[str, Any]]:
    """The alerts the receiver got (they are sent in the background): waits for `count` of them."""
    deadline = time.monotonic() + 30
    while len(receiver.requests("/hook")) < count:
        assert time.monotonic() < deadline, f"{len(receiver.requests('/hook'))} webhooks, not {count}"
        time.sleep(0.05)
    return [r.json() for r in receiver.requests("/hook")]


def test_a_run_raises_start_success_and_skip_rate(people: Workspace, outbox: Path, receiver: HttpReceiver) -> None:
    create_flow(people, "paris", {**FLOW, "mandatory": ["email"], "consentChannel": "email"})
    hook = f"{receiver.url}/hook"
    with people.catalog.session() as s:
        for event in ("activation.start", "activation.success"):
            subscribe(s, "prod", {"event": event, "activation": "paris", "webhookUrl": hook})
        subscribe(s, "prod", {"event": "activation.skipped", "skipRatePercent": 30})  # all flows, no webhook
        subscribe(s, "prod", {"event": "activation.skipped", "skipRatePercent": 50, "webhookUrl": hook})
        subscribe(s, "prod", {"event": "run.success"})  # a dataflow's: not raised by activations
    run = destinations.run_activation(people, "prod", "paris")  # 2 of 5 left out: 40 %
    assert run["status"] == "success"
    got = {a["event"]: a for a in alerts(people)}
    assert set(got) == {"activation.start", "activation.success", "activation.skipped"}
    assert got["activation.skipped"]["message"].endswith("left out 2 of 5 profiles (40.0 %)")
    assert {a["activation"] for a in got.values()} == {"paris"} and {a["runId"] for a in got.values()} == {run["id"]}
    sent = webhooks(receiver, 2)  # start and success; 40 % is under the 50 % threshold of the webhook's
    assert sorted(w["event"] for w in sent) == ["activation.start", "activation.success"]
    assert all(w["activation"] == "paris" and w["runId"] == run["id"] for w in sent)


def test_a_failed_run_and_a_flow_without_success_raise_failure_and_delay(people: Workspace, outbox: Path) -> None:
    create_flow(people, "paris", FLOW)
    with people.catalog.session() as s:
        subscribe(s, "prod", {"event": "activation.failure"})
        subscribe(s, "prod", {"event": "activation.delay", "activation": "paris", "delayMinutes": 60})
    outbox.rmdir()
    outbox.write_text("a file where the folder was")  # the destination refuses every file
    with pytest.raises(AccordError) as refused:
        destinations.run_activation(people, "prod", "paris")
    assert refused.value.code.startswith("DEST-")
    (failure,) = [a for a in alerts(people) if a["event"] == "activation.failure"]
    assert "paris" in failure["message"] and "failed" in failure["message"]
    assert check_delays(people, datetime.now(UTC) + timedelta(minutes=30)) == 0
    assert check_delays(people, datetime.now(UTC) + timedelta(minutes=61)) == 1
    assert check_delays(people, datetime.now(UTC) + timedelta(minutes=62)) == 0  # once per silence
    (delay,) = [a for a in alerts(people) if a["event"] == "activation.delay"]
    assert delay["message"] == "activation flow paris has had no successful run for 60 minutes"


def test_subscriptions_are_checked(people: Workspace, outbox: Path, cli: Any) -> None:
    create_flow(people, "paris", FLOW)
    bad = [
        ({"event": "activation.delay"}, "needs delayMinutes"),
        ({"event": "activation.success", "dataflow": "x"}, "a dataflow is named with run.* events"),
        ({"event": "run.success", "activation": "paris"}, "an activation flow is named with activation.* events"),
        ({"event": "activation.start", "skipRatePercent": 3}, "skipRatePercent only applies"),
        ({"event": "activation.skipped", "skipRatePercent": 101}, "skipRatePercent"),
    ]
    for document, said in bad:
        with people.catalog.session() as s, pytest.raises(DocumentError) as caught:
            subscribe(s, "prod", document)
        assert said in str(caught.value.to_dict()), document
    made = cli("alert", "subscribe", "--event", "activation.skipped", "--activation", "paris", "--json")
    assert made.code == 0 and made.json()["skipRatePercent"] == 1.0 and made.json()["activation"] == "paris"
    nobody = cli("alert", "subscribe", "--event", "activation.success", "--activation", "pari", "--json")
    assert nobody.code == 3 and "did you mean paris?" in nobody.json()["error"]["message"]
