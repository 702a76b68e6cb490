"""Alerts: recorded for every subscription, sent to a real webhook receiver with retries."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from accord.errors import DocumentError
from accord.sources.alerts import check_delays, list_alerts, subscribe
from accord.workspace import Workspace
from tests.sources.conftest import connect, flow, run


class Receiver:
    """A webhook receiver on 127.0.0.1 that fails the first `failures` requests with 500."""

    def __init__(self, failures: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failures = failures
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if owner.failures > 0:
                    owner.failures -= 1
                    self.send_response(500)
                else:
                    owner.bodies.append(body)
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(failures=1)
    yield server
    server.stop()


@pytest.fixture
def quick(ws: Workspace) -> Workspace:
    ws.settings = ws.settings.model_copy(update={"alert_backoff_seconds": 0.05})
    return ws


def sources_runs(session: Any) -> list[dict[str, Any]]:
    from accord.sources import list_runs

    return list_runs(session, "prod")


def wait_for(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not seen within {seconds} s"
        time.sleep(0.05)


def delivered(ws: Workspace) -> bool:
    """Whether every alert has left `pending` (delivery runs in the background)."""
    with ws.catalog.session() as session:
        return all(a["delivery"] != "pending" for a in list_alerts(session, "prod"))


def test_run_alerts_are_recorded_and_delivered_with_retries(
    quick: Workspace, tmp_path: Path, receiver: Receiver
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text("id,first,email\n1,Ann,ann@x.io\n")
    connect(quick, "folder", "local", {"root": str(inbox)})
    flow(quick, name="f", connection="folder", source={"glob": "*.csv"})
    with quick.catalog.session() as session:
        subscribe(session, "prod", {"event": "run.success", "dataflow": "f", "webhookUrl": receiver.url})
        subscribe(session, "prod", {"event": "run.start"})  # recorded only
        subscribe(session, "prod", {"event": "run.failure", "webhookUrl": receiver.url})
    result = run(quick, "f")
    wait_for(lambda: receiver.bodies)
    [body] = receiver.bodies
    assert body["event"] == "run.success" and body["runId"] == result["id"] and body["run"]["recordsIngested"] == 1
    wait_for(lambda: delivered(quick))
    with quick.catalog.session() as session:
        alerts = {a["event"]: a for a in list_alerts(session, "prod")}
    assert set(alerts) == {"run.start", "run.success"}  # no failure happened
    assert (alerts["run.success"]["delivery"], alerts["run.success"]["attempts"]) == ("delivered", 2)
    assert alerts["run.start"]["delivery"] == "none"


def test_undeliverable_alerts_are_marked_failed(quick: Workspace, tmp_path: Path, closed_port: int) -> None:
    (tmp_path / "inbox").mkdir()
    connect(quick, "folder", "local", {"root": str(tmp_path / "nope")})
    flow(quick, name="f", connection="folder", source={"glob": "*.csv"})
    with quick.catalog.session() as session:
        subscribe(session, "prod", {"event": "run.failure", "webhookUrl": f"http://127.0.0.1:{closed_port}/x"})
    assert run(quick, "f")["status"] == "failed"
    wait_for(lambda: delivered(quick))
    with quick.catalog.session() as session:
        [alert] = list_alerts(session, "prod")
    assert alert["delivery"] == "failed" and alert["attempts"] == quick.settings.alert_retries + 1
    assert "ConnectError" in alert["lastError"]
    with quick.catalog.session() as session:
        [failed] = sources_runs(session)
    assert "folder" in failed["errors"][0]["message"] and "does not exist" in failed["errors"][0]["message"]


def test_delay_alerts_fire_once_until_a_success(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    connect(ws, "folder", "local", {"root": str(tmp_path / "inbox")})
    flow(ws, name="f", connection="folder", source={"glob": "*.csv"})
    with ws.catalog.session() as session:
        subscribe(session, "prod", {"event": "run.delay", "delayMinutes": 150})
    now = datetime.now(UTC)
    assert check_delays(ws, now) == 0  # the dataflow is new
    assert check_delays(ws, now + timedelta(minutes=151)) == 1
    assert check_delays(ws, now + timedelta(minutes=200)) == 0  # said once
    assert run(ws, "f")["status"] == "success"
    after = datetime.now(UTC)
    assert check_delays(ws, after + timedelta(minutes=149)) == 0  # the success started the clock again
    assert check_delays(ws, after + timedelta(minutes=151)) == 1  # and re-armed the alert: said again
    assert check_delays(ws, after + timedelta(minutes=300)) == 0  # once
    with ws.catalog.session() as session:
        assert [a["event"] for a in list_alerts(session, "prod")] == ["run.delay", "run.delay"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"event": "run.delay"}, "needs delayMinutes"),
        ({"event": "run.explode"}, "run.start"),
        ({"event": "run.failure", "webhookUrl": "file:///etc/passwd"}, "http(s) URL"),
        ({"event": "run.failure", "delayMinutes": 5}, "only applies"),
    ],
)
def test_bad_subscriptions_are_refused(ws: Workspace, document: dict[str, Any], message: str) -> None:
    with pytest.raises(DocumentError, match=re.escape(message)), ws.catalog.session() as session:
        subscribe(session, "prod", document)


def test_alerts_through_the_cli(cli: Any) -> None:
    assert cli("init").code == 0
    created = cli("alert", "subscribe", "--event", "run.failure", "--webhook", "https://hooks.example.com/x", "--json")
    assert created.code == 0 and created.json()["webhook"] == "hooks.example.com"
    assert cli("alert", "subscriptions", "--json").json()[0]["event"] == "run.failure"
    assert cli("alert", "list", "--json").json() == []
    bad = cli("alert", "subscribe", "--event", "run.delay")
    assert bad.code == 2 and "delayMinutes" in bad.stderr
