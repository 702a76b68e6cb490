"""SIGKILL `accord serve` in the middle of a load and start it again: every message it answered 200 is in the
lake, once, and in its profile; nothing is processed twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.engine import connect
from accord.lake import open_dataset
from accord.settings import Settings
from accord.workspace import Workspace, initialise
from tests.servers import wait_for_line

pytestmark = pytest.mark.slow


@contextmanager
def served(settings: Settings, log: Path, event_log: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`accord serve` with its processor on, as a real process; killed by its pid on leaving if still running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")} | event_log
    env |= {"ACCORD_HOME": str(settings.home), "ACCORD_DUCKDB_THREADS": "2", "ACCORD_SCHEDULER": "true",
            "ACCORD_SCHEDULER_TICK_SECONDS": "3600", "ACCORD_STREAMING_MAX_AGE_SECONDS": "0.2",
            "ACCORD_STREAMING_MAX_ROWS": "200"}  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen([str(Path(sys.executable).parent / "accord"), "serve", "--port", "0"], env=env,
                                   stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        port = wait_for_line(process, log, "accord serve", r"Accord API on http://127\.0\.0\.1:(\d+)")
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)


def message(n: int) -> dict[str, Any]:
    entity = {"_id": f"m{n}", "personalEmail": {"address": f"p{n}@x.io"}, "person": {"name": {"firstName": f"F{n}"}}}
    return {"header": {"msgId": f"m{n}"}, "body": {"xdmEntity": entity}}


@pytest.fixture(params=["sqlite", "nats"])
def event_log(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The environment that chooses the server's event log: the embedded one, or a stream of its own on NATS."""
    if request.param == "sqlite":
        return {}
    server = request.getfixturevalue("nats_server")
    return {"ACCORD_STREAMING_LOG_URL": server.url, "ACCORD_STREAMING_LOG_STREAM": f"KILL_{tmp_path.name[-12:]}"}


def test_a_killed_server_loses_no_acknowledged_message_and_processes_none_twice(
    tmp_path: Path, event_log: dict[str, str]
) -> None:
    settings = Settings(home=tmp_path / "home", duckdb_threads=2, scheduler=False, allowed_roots=[tmp_path])
    token = initialise(settings).token
    headers = {"Authorization": f"Bearer {token}"}
    log = tmp_path / "serve.log"
    acknowledged: set[str] = set()
    with served(settings, log, event_log) as (base, process):
        with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
            for path, body in (
                ("/schemas", {"name": "crm", "class": "profile", "fieldGroups": ["demographic-details",
                              "personal-contact-details"], "identities": [
                              {"path": "personalEmail.address", "namespace": "Email", "primary": True}]}),
                ("/datasets", {"name": "crm", "schema": "crm", "profileEnabled": True}),
                ("/streaming/inlets", {"name": "web", "dataset": "crm"}),
            ):  # fmt: skip
                made = api.post(path, json=body)
                assert made.status_code == 201, made.text
            inlet = made.json()["id"]

        def load(first: int) -> None:
            """Batches of 20 until the server stops answering; what it answered 200 is acknowledged."""
            n = first
            with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
                while n < first + 20_000:
                    batch = [message(i) for i in range(n, n + 20)]
                    try:
                        answer = client.post(f"/collection/batch/{inlet}", json={"messages": batch})
                    except httpx.HTTPError:
                        return  # killed
                    if answer.status_code == 207:
                        acknowledged.update(r["messageId"] for r in answer.json()["responses"] if r["status"] == 200)
                    n += 20

        loader = threading.Thread(target=load, args=(0,))
        loader.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 600:  # well into the load, with micro-batches processed and more in flight
            assert time.monotonic() < deadline and loader.is_alive(), log.read_text()[-2000:]
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        loader.join(30)
    killed_at = len(acknowledged)
    with (
        served(settings, tmp_path / "serve-again.log", event_log) as (base, _process),
        httpx.Client(base_url=base, headers=headers, timeout=30) as api,
    ):
        deadline = time.monotonic() + 120
        while (stats := api.get("/streaming/stats").json())["lagMessages"] > 0:
            assert time.monotonic() < deadline, stats
            time.sleep(0.2)
        found = api.get("/profiles", params={"namespace": "Email", "id": "p7@x.io"})
        assert found.status_code == 200 and found.json()["attributes"]["person"]["name"]["firstName"] == "F7"
    ws = Workspace.open(settings)
    con = connect(settings)
    try:
        table, _ = open_dataset(ws, con, "prod", "crm")
        ids = con.to_pyarrow(table.select("_id")).column("_id").to_pylist()
    finally:
        con.disconnect()
        ws.close()
    assert killed_at >= 600
    assert acknowledged <= set(ids), f"acknowledged but lost: {sorted(acknowledged - set(ids))[:5]}"
    assert len(ids) == len(set(ids)), "a message was processed twice"
