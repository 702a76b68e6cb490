"""Activation schedules: when each audience is due, and what a scheduled run sends."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from accord import destinations, segment
from accord.destinations.flows import Schedule
from accord.destinations.scheduling import activation_duty, due_activations, latest_slot
from accord.jobs.scheduler import Scheduler
from accord.workspace import Workspace
from tests.destinations.conftest import FLOW, create_flow

MADE = datetime(2026, 11, 30, 10, 15, tzinfo=UTC)


def at(hours: float) -> datetime:
    return MADE + timedelta(hours=hours)


def test_slots_of_each_frequency() -> None:
    once = Schedule(frequency="once")
    assert latest_slot(once, MADE, at(0)) == MADE  # at once
    later = Schedule(frequency="once", start=date(2026, 12, 2), time="08:00")
    assert latest_slot(later, MADE, at(24)) is None
    assert latest_slot(later, MADE, at(60)) == datetime(2026, 12, 2, 8, tzinfo=UTC)
    daily = Schedule(frequency="daily", time="06:00")
    assert latest_slot(daily, MADE, at(1)) is None  # today's 06:00 came before the flow
    assert latest_slot(daily, MADE, at(21)) == datetime(2026, 12, 1, 6, tzinfo=UTC)
    assert latest_slot(daily, MADE, at(48)) == datetime(2026, 12, 2, 6, tzinfo=UTC)
    every3 = Schedule(frequency="3h", start=date(2026, 11, 30))
    assert latest_slot(every3, MADE, at(2)) == datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert latest_slot(every3, MADE, at(3)) == datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert latest_slot(every3, MADE, at(5)) == datetime(2026, 11, 30, 15, tzinfo=UTC)
    ended = Schedule(frequency="12h", start=date(2026, 11, 30), end=date(2026, 12, 1))
    assert latest_slot(ended, MADE, at(30)) == datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert latest_slot(ended, MADE, at(50)) is None
    after = Schedule(frequency="after-segment-job")
    assert latest_slot(after, MADE, at(1)) is None
    assert latest_slot(after, MADE, at(2), last_job=at(1)) == at(1)
    assert latest_slot(after, MADE, at(2), last_job=at(-1)) is None  # a job before the flow existed


def test_due_audiences_go_out_on_schedule_once_per_slot(people: Workspace, outbox: Path) -> None:
    create_flow(people, "paris", {**FLOW, "audiences": [{"segment": "parisians", "schedule": {
        "frequency": "after-segment-job"}}]})  # fmt: skip
    create_flow(people, "now", {**FLOW, "file": {"nameTemplate": "now_%SEGMENT_NAME%"}})  # once: at once
    assert [(s, n) for s, n, _ in due_activations(people)] == [("prod", "now")]

    segment.run_job(people, "prod")  # a job evaluated the parisians: the first flow is due after it
    due = {name: ids for _, name, ids in due_activations(people)}
    assert set(due) == {"now", "paris"} and len(due["paris"]) == 1
    duty = activation_duty(people)
    for name in ("now", "paris"):
        run = duty.run("prod", name, due[name])
        assert run["status"] == "success" and run["trigger"] == "schedule"
    assert (outbox / "now_parisians.csv").exists()
    assert due_activations(people) == []  # each slot once

    with people.catalog.session() as s:
        destinations.set_state(s, "prod", "paris", "disabled")
    segment.run_job(people, "prod")
    assert due_activations(people) == []  # disabled: no run


def test_the_scheduler_starts_what_is_due(people: Workspace, outbox: Path) -> None:
    create_flow(people, "now", {**FLOW, "file": {"nameTemplate": "scheduled"}})
    scheduler = Scheduler([activation_duty(people)], tick_seconds=3600)
    scheduler.start()  # its first tick is at once
    try:
        deadline = time.monotonic() + 60
        while not [r for r in destinations.list_runs(people, "prod", "now") if r["status"] != "running"]:
            assert time.monotonic() < deadline, "no scheduled run within 60 s"
            time.sleep(0.2)
    finally:
        scheduler.stop()  # waits for the runs it started
    runs = destinations.list_runs(people, "prod", "now")
    assert [(r["status"], r["trigger"]) for r in runs] == [("success", "schedule")]
    assert (outbox / "scheduled.csv").read_text().count("\n") == 6  # the header and five Parisians
