"""Schedules: due times as pure rules, and `accord serve` starting due dataflows on its own."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
        deadline = time.monotonic() + 20
        runs: list[dict[str, object]] = []
        while time.monotonic() < deadline and not runs:
            time.sleep(0.2)
            with ws.catalog.session() as session:
                runs = [r for r in sources.list_runs(session, "prod") if r["status"] != "running"]
        time.sleep(1)  # more ticks: the hourly flow must not run again within its hour
        with ws.catalog.session() as session:
            runs = sources.list_runs(session, "prod")
    finally:
        server.stop()
    assert [(r["dataflow"], r["trigger"], r["status"]) for r in runs] == [("hourly", "schedule", "success")]
    assert firsts(ws) == ["Ann"]
