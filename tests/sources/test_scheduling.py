"""Schedules: due times as pure rules, and `accord serve` starting due dataflows on its own."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from accord import sources
from accord.api import create_app
from accord.settings import Settings
from accord.sources.scheduling import is_due, latest_slot
from accord.workspace import Workspace
from tests.servers import start_api
from tests.sources.conftest import connect, firsts, flow

CREATED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "now", "expected"),
    [
        ({"frequency": "once"}, CREATED, CREATED),
        ({"frequency": "once", "startTime": "2026-01-02T00:00:00+00:00"}, CREATED, None),
        ({"frequency": "hour", "interval": 2}, CREATED + timedelta(hours=5, minutes=3), CREATED + timedelta(hours=4)),
        ({"frequency": "minute", "interval": 15}, CREATED + timedelta(minutes=14), CREATED),
        (
            {"frequency": "day", "interval": 1, "startTime": "2026-01-01T06:00:00+00:00"},
            CREATED + timedelta(days=3),
            datetime(2026, 1, 4, 6, 0, tzinfo=UTC),
        ),
        ({"frequency": "week", "interval": 1}, CREATED + timedelta(days=13), CREATED + timedelta(weeks=1)),
    ],
)
def test_latest_slot(schedule: dict[str, object], now: datetime, expected: datetime | None) -> None:
    assert latest_slot(schedule, CREATED, now) == expected


def test_due_once_per_slot() -> None:
    hourly = {"frequency": "hour", "interval": 1}
    now = CREATED + timedelta(hours=3, minutes=10)
    assert is_due(hourly, CREATED, None, now)
    assert not is_due(hourly, CREATED, CREATED + timedelta(hours=3, minutes=1), now)  # this slot already ran
    assert is_due(hourly, CREATED, CREATED + timedelta(hours=2, minutes=59), now)
    assert not is_due({"frequency": "once"}, CREATED, CREATED, now)  # once means once


def finished_runs(ws: Workspace) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return [r for r in sources.list_runs(session, "prod") if r["status"] != "running"]


def wait_until(condition: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"not seen within {seconds} s"
        time.sleep(0.1)
    return found


def test_serve_runs_due_dataflows_and_skips_disabled_ones(ws: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text("id,first,email\n1,Ann,ann@x.io\n")
    connect(ws, "folder", "local", {"root": str(inbox)})
    flow(ws, name="hourly", connection="folder", source={"glob": "*.csv"}, schedule={"frequency": "hour"})
    flow(ws, name="off", connection="folder", source={"glob": "*.csv"}, enabled=False)
    settings: Settings = ws.settings.model_copy(update={"scheduler": True, "scheduler_tick_seconds": 0.2})
    server = start_api(create_app(settings))
    try:
        [first] = wait_until(lambda: finished_runs(ws))
        # A later tick is seen when a flow made now, due now, has run: that tick looked at the hourly
        # flow too, after its first run had finished, and must have left it alone.
        flow(ws, name="witness", connection="folder", source={"glob": "none"},
             schedule={"frequency": "once", "startTime": datetime.now(UTC).isoformat()})  # fmt: skip
        wait_until(lambda: any(r["dataflow"] == "witness" for r in finished_runs(ws)))
    finally:
        server.stop()  # waits for the runs it started
    with ws.catalog.session() as session:
        runs = sources.list_runs(session, "prod")
    assert (first["dataflow"], first["trigger"], first["status"]) == ("hourly", "schedule", "success")
    assert sorted((r["dataflow"], r["trigger"], r["status"]) for r in runs) == [
        ("hourly", "schedule", "success"),
        ("witness", "schedule", "success"),
    ]
    assert firsts(ws) == ["Ann"]
