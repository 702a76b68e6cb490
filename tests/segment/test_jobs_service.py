"""Segment jobs as a service: in the background with status, progress and cancellation, one at a time, and on a
schedule that `accord serve`'s scheduler runs (the profiles rebuilt first when asked)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord import lake, profile, segment
from accord.api import create_app
from accord.catalog import SegmentJobRecord, SegmentScheduleRecord, resolve_sandbox
from accord.errors import AccordError
from accord.ingest import IngestRequest, ingest_file
from accord.jobs.scheduler import Scheduler
from accord.segment import Schedule, due_slot
from accord.segment.job_control import INTERRUPTED, WAITING, hand_over
from accord.workspace import Workspace
from tests.conftest import Api
from tests.processes import environment, run, wait_until
from tests.segment.conftest import MAPPING
from tests.servers import start_api

D = datetime(2026, 3, 14, tzinfo=UTC)
"""A day; its midnight is D, the next one D + 1 day."""
H = timedelta(hours=1)
MANY = 80
"""Segments in the slow sandbox: enough for evaluating them to take a moment a test can catch."""
STARTS = 4
"""Background starts made at once."""


def at(hours: float) -> datetime:
    return D + timedelta(hours=hours)


@pytest.mark.parametrize(("every", "start", "since", "last", "now", "due"), [
    (24, "02:00", at(10), None, at(23.99), None),  # set after the day's slot: none that day
    (24, "02:00", at(10), None, at(26), at(26)),  # the next day's, across midnight
    (24, "02:00", at(10), at(26), at(29), None),  # taken already
    (24, "02:00", at(10), at(26), at(51), at(50)),  # the day after
    (5, "22:00", at(21), None, at(22.5), at(22)),
    (5, "22:00", at(21), at(22), at(26.99), None),
    (5, "22:00", at(21), at(22), at(27), at(27)),  # 03:00 the next day: every 5 h runs on across midnight
    (6, "23:00", at(10), None, at(10.5), None),  # 05:00 had passed when it was set
    (6, "23:00", at(10), None, at(11), at(11)),  # 23:00 - 2 x 6 h
    (1, "00:00", at(0), at(1), at(55.5), at(55)),  # missed slots: one catch-up, the latest
    (168, "00:00", at(0), at(0), at(24 * 7 - 0.01), None),  # weekly
    (168, "00:00", at(0), at(0), at(24 * 7), at(24 * 7)),
    (48, "12:00", at(13), None, at(59), None),  # every 2 days from the day it was set
    (48, "12:00", at(13), None, at(60), at(60)),
])  # fmt: skip
def test_the_slot_due_is_the_latest_passed_since_the_last_taken(
    every: int, start: str, since: datetime, last: datetime | None, now: datetime, due: datetime | None
) -> None:
    assert due_slot(Schedule(every, clock.fromisoformat(start), since), last, now) == due


@settings(max_examples=300, deadline=None)
@given(every=st.integers(1, 168), start=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
       since=st.integers(0, 10_000), last=st.none() | st.integers(0, 20_000), later=st.integers(0, 20_000))  # fmt: skip
def test_every_due_slot_is_a_slot_of_the_schedule_and_none_is_skipped(
    every: int, start: clock, since: int, last: int | None, later: int
) -> None:
    """Whatever the schedule and moments: a due slot has passed, follows the last taken and the setting, falls on
    the schedule's grid, and no later slot has passed; no slot due means none has passed since the last taken."""
    schedule = Schedule(every, start, D + timedelta(minutes=since))
    now = schedule.since + timedelta(minutes=later)
    taken = None if last is None else schedule.since + timedelta(minutes=last)
    slot = due_slot(schedule, taken, now)
    grid = datetime.combine(schedule.since.date(), start, UTC)
    if slot is not None:
        assert schedule.since <= slot <= now and (taken is None or slot > taken)
        assert (slot - grid) % schedule.period == timedelta(0)
        assert slot + schedule.period > now
    else:  # the first slot after the last taken (or since the schedule was set) is still to come
        assert schedule.first_slot_after(taken or schedule.since - timedelta(microseconds=1)) > now


def _create(ws: Workspace, name: str, pql: str) -> None:
    with ws.catalog.session() as session:
        segment.create_segment(session, "prod", {"name": name, "expression": {"value": pql}})


@pytest.fixture
def busy_shop(shop: Workspace) -> Workspace:
    """The shop with MANY segments, so that a job over them is at work long enough for a test to catch it."""
    for i in range(MANY):
        _create(shop, f"s{i}", f'homeAddress.city = "Paris" and xEvent.count() > {i % 3}')
    return shop


_spawned: list[int] = []


@pytest.fixture(autouse=True)
def _no_job_process_left() -> Any:
    """A test that fails midway leaves no detached job process running (nor stopped) into the next tests."""
    yield
    while _spawned:
        pid = _spawned.pop()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _job(ws: Workspace, job_id: str) -> dict[str, Any]:
    return segment.job_document(ws, "prod", job_id)


def _process_of(ws: Workspace, job_id: str) -> int:
    """The pid of the process that runs a background job, as its record names it."""
    with ws.catalog.session() as session:
        record = session.get(SegmentJobRecord, job_id)
        assert record is not None and record.owner is not None
        pid = int(record.owner["pid"])
    _spawned.append(pid)
    return pid


def _memberships(ws: Workspace) -> dict[str, bytes]:
    with ws.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, "prod").id
    folder = ws.lake.root / sandbox_id / "segments" / "memberships"
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*"))}


def _ended(ws: Workspace, job_id: str) -> dict[str, Any] | None:
    found = _job(ws, job_id)
    return found if found["status"] not in ("queued", "running") else None


def _caught_at_work(ws: Workspace, job_id: str, pid: int) -> dict[str, Any]:
    """Stop (SIGSTOP) the job's process as soon as its record says it is at a step of its work: the job then."""
    deadline = time.monotonic() + 120
    while (job := _job(ws, job_id))["status"] != "running" or job["progress"]["step"] == WAITING:
        assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.002)
    os.kill(pid, signal.SIGSTOP)
    return _job(ws, job_id)


def test_a_background_job_answers_at_once_and_runs_on_after_the_command(busy_shop: Workspace) -> None:
    queued = run(environment(busy_shop.settings.home), "segment", "run", "--background", "--json")
    assert queued.code == 0, queued.stderr
    job = queued.json()
    assert job["status"] == "queued" and job["trigger"] == "manual" and job["counts"] == {}
    assert job["progress"]["step"] == "waiting for the sandbox's other jobs"
    pid = _process_of(busy_shop, job["id"])
    done = wait_until(lambda: _ended(busy_shop, job["id"]), "the job has ended", timeout=300)
    assert done["status"] == "success", done
    assert done["progress"] == {"step": "updating memberships", "done": MANY, "total": MANY, "fraction": 1.0}
    assert done["counts"]["s0"]["qualified"] == 2 and len(done["counts"]) == MANY
    wait_until(lambda: not _alive(pid), "the job's process has ended", timeout=60)
    listed = run(environment(busy_shop.settings.home), "segment", "jobs", "--json").json()
    assert listed[0]["id"] == job["id"] and listed[0]["status"] == "success"
    one = run(environment(busy_shop.settings.home), "segment", "jobs", job["id"], "--json").json()
    assert one == done
    with busy_shop.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, "prod").id
    assert not segment.job_log(busy_shop, sandbox_id, job["id"]).exists()  # it said nothing: no log kept


def _alive(pid: int) -> bool:
    from accord.jobs import process_runs

    return process_runs(pid)


def test_a_running_job_shows_its_progress_refuses_a_second_and_stops_when_cancelled(busy_shop: Workspace) -> None:
    env = environment(busy_shop.settings.home)
    segment.run_job(busy_shop, "prod")
    before = _memberships(busy_shop)
    job_id = run(env, "segment", "run", "--background", "--json").json()["id"]
    pid = _process_of(busy_shop, job_id)
    at_work = _caught_at_work(busy_shop, job_id, pid)
    try:
        steps_before_memberships = ("reading the definitions", f"evaluating {MANY} segment(s) over every profile")
        assert at_work["progress"]["step"] in steps_before_memberships, at_work
        assert 0 < at_work["progress"]["fraction"] < 0.7, at_work
        second = run(env, "segment", "run", "--background", "--json")
        refusal = second.json()["error"]
        assert second.code == 4 and refusal["code"] == "SEGMENT-0433-409", second.stdout
        assert f"job {job_id} is already running (pid {pid} on" in refusal["message"]
        assert refusal["details"]["since"] == at_work["started"]
        holder = f"segment job in sandbox prod is already running (pid {pid} since"
        waiting = run(environment(busy_shop.settings.home, job_wait_seconds="0"), "segment", "run", "--json")
        assert waiting.code == 4 and holder in waiting.json()["error"]["message"]
        asked = run(env, "segment", "cancel", job_id, "--json").json()
        assert asked["status"] == "running" and asked["cancelRequested"] is True
    finally:
        os.kill(pid, signal.SIGCONT)
    done = wait_until(lambda: _ended(busy_shop, job_id), "the job has ended", timeout=300)
    assert done["status"] == "cancelled" and "memberships were left as they were" in done["error"], done
    assert _memberships(busy_shop) == before and done["counts"] == {}
    assert [j["status"] for j in segment.list_jobs(busy_shop, "prod")] == ["cancelled", "success"]
    again = run(env, "segment", "cancel", job_id, "--json")
    assert again.code == 0 and again.json()["status"] == "cancelled"  # cancelling twice changes nothing


def test_a_queued_job_cancelled_before_it_begins_never_runs(busy_shop: Workspace) -> None:
    env = environment(busy_shop.settings.home)
    job_id = run(env, "segment", "run", "--background", "--json").json()["id"]
    pid = _process_of(busy_shop, job_id)
    os.kill(pid, signal.SIGSTOP)  # still starting: a Python process takes far longer to import Accord
    try:
        queued = _job(busy_shop, job_id)
        assert queued["status"] == "queued"
        second = run(env, "segment", "run", "--background", "--json")  # a queued job holds no lock, and still
        assert second.code == 4 and f"job {job_id} is already queued (pid {pid} on" in second.json()["error"]["message"]
        cancelled = run(env, "segment", "cancel", job_id, "--json").json()
        assert cancelled["status"] == "cancelled" and cancelled["finished"] is not None
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_until(lambda: not _alive(pid), "the job's process has ended", timeout=120)
    assert _job(busy_shop, job_id)["status"] == "cancelled" and _memberships(busy_shop) == {}


def test_a_killed_background_job_is_closed_by_the_next_job(busy_shop: Workspace) -> None:
    env = environment(busy_shop.settings.home, job_wait_seconds="0")
    job_id = run(env, "segment", "run", "--background", "--json").json()["id"]
    pid = _process_of(busy_shop, job_id)
    _caught_at_work(busy_shop, job_id, pid)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not _alive(pid), "the killed process is gone", timeout=60)
    shown = _job(busy_shop, job_id)
    assert shown["status"] == "failed" and shown["error"] == "interrupted: the process running it stopped"
    after = run(env, "segment", "run", "--json")  # neither its lock nor its record blocks the next job
    assert after.code == 0 and after.json()["status"] == "success", after.stdout + after.stderr
    with busy_shop.catalog.session() as session:
        record = session.get(SegmentJobRecord, job_id)
        assert record is not None and (record.status, record.error) == ("failed", shown["error"])


def test_a_queued_job_whose_process_never_ran_is_closed_by_the_next_job(shop: Workspace) -> None:
    _create(shop, "parisians", 'homeAddress.city = "Paris"')
    job_id = segment.queue_job(shop, "prod", ["parisians"])
    never = subprocess.Popen([sys.executable, "-c", "pass"])  # the process meant to run it died at once
    never.wait()
    hand_over(shop, job_id, never.pid)
    assert _job(shop, job_id)["status"] == "failed"  # shown so at once
    assert segment.run_job(shop, "prod")["status"] == "success"
    with shop.catalog.session() as session:
        record = session.get(SegmentJobRecord, job_id)
        assert record is not None and (record.status, record.error) == ("failed", INTERRUPTED)


def test_of_background_starts_at_once_exactly_one_is_accepted(shop: Workspace) -> None:
    """Starts race: each checks that no job is under way and records its own, and only one may win."""
    _create(shop, "parisians", 'homeAddress.city = "Paris"')
    given: list[str] = []
    gate = threading.Barrier(STARTS)

    def later(_workspace: Workspace, _sandbox: str, job_id: str) -> None:  # a runner that runs it below
        given.append(job_id)

    def start(_: int) -> dict[str, Any] | AccordError:
        gate.wait()
        try:
            return segment.start_background_job(shop, "prod", None, later)
        except AccordError as exc:
            return exc

    with ThreadPoolExecutor(STARTS) as pool:
        outcomes = list(pool.map(start, range(STARTS)))
    accepted = [o for o in outcomes if isinstance(o, dict)]
    assert len(accepted) == 1 and given == [accepted[0]["id"]], outcomes
    for refused in outcomes:
        if refused is not accepted[0]:
            assert isinstance(refused, segment.JobUnderWayError) and refused.details["job"] == given[0], refused
            assert refused.details["status"] == "queued" and refused.details["pid"] == os.getpid()
    assert [j["id"] for j in segment.list_jobs(shop, "prod")] == given  # the refused recorded nothing
    assert segment.run_job(shop, "prod", job_id=given[0])["status"] == "success"
    assert segment.start_background_job(shop, "prod", None, later)["status"] == "queued"  # it ended: free again


def test_a_cancellation_is_heard_at_the_next_step_until_memberships_are_written(shop: Workspace) -> None:
    _create(shop, "parisians", 'homeAddress.city = "Paris"')
    _create(shop, "buyers", "xEvent.count() > 0")
    first = segment.run_job(shop, "prod")
    before = _memberships(shop)
    seen: list[dict[str, Any]] = []

    def cancel_at(step: str) -> Any:
        def told(label: str, _fraction: float) -> None:
            running = [j for j in segment.list_jobs(shop, "prod") if j["status"] == "running"]
            if label.startswith(step) and running:
                seen.append(running[0])
                segment.cancel_job(shop, "prod", running[0]["id"])

        return told

    cancelled = segment.run_job(shop, "prod", on_step=cancel_at("evaluating"))
    assert seen[0]["progress"] == {"step": "evaluating 2 segment(s) over every profile", "done": 0, "total": 2,
                                   "fraction": 0.1}  # fmt: skip
    assert cancelled["status"] == "cancelled" and _memberships(shop) == before
    with shop.catalog.session() as session:
        history = shop.lake.root / resolve_sandbox(session, "prod").id / "segments" / "history"
    assert (history / first["id"]).is_dir() and not (history / cancelled["id"]).exists()
    finished = segment.run_job(shop, "prod", on_step=cancel_at("updating memberships"))  # too late: it finishes
    assert finished["status"] == "success" and finished["cancelRequested"] is True
    assert finished["counts"] == {**first["counts"], **{name: {**c, "realized": 0, "existing": c["qualified"]}
                                                        for name, c in first["counts"].items()}}  # fmt: skip


def _scheduled(ws: Workspace, every_hours: int, rebuild: bool, set_hours_ago: float) -> None:
    """A schedule set `set_hours_ago` (so that its slots since then have passed)."""
    with ws.catalog.session() as session:
        segment.set_schedule(session, "prod", {"everyHours": every_hours, "at": "00:00", "rebuildProfiles": rebuild})
        record = session.get(SegmentScheduleRecord, resolve_sandbox(session, "prod").id)
        assert record is not None
        record.updated_at = datetime.now(UTC) - timedelta(hours=set_hours_ago)


def _schedule(ws: Workspace) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return segment.get_schedule(session, "prod")


def test_the_scheduler_rebuilds_the_profiles_then_runs_the_job(shop: Workspace, tmp_path: Path) -> None:
    _create(shop, "parisians", 'homeAddress.city = "Paris"')
    (tmp_path / "more.csv").write_text("crm,first,city,email_ok\nC4,Dee,Paris,y\n")
    ingest_file(shop, "prod", IngestRequest("crm", tmp_path / "more.csv", MAPPING))  # not in the store yet
    _scheduled(shop, every_hours=1, rebuild=True, set_hours_ago=2)
    now = datetime.now(UTC)
    slot = now.replace(minute=0, second=0, microsecond=0)
    scheduler = Scheduler([segment.segment_duty(shop, profile.rebuild)], tick_seconds=3600)
    scheduler.start()  # it ticks at once
    try:
        job = wait_until(lambda: next((j for j in segment.list_jobs(shop, "prod") if j["status"] not in (
            "queued", "running")), None), "the scheduled job has ended", timeout=300)  # fmt: skip
        scheduler.tick()  # the slot is taken: nothing more is due
    finally:
        scheduler.stop()
    assert job["trigger"] == "schedule" and job["status"] == "success", job
    assert job["counts"]["parisians"]["qualified"] == 3  # C1, C3 and the new C4: the job read the rebuilt store
    assert len(segment.list_jobs(shop, "prod")) == 1
    shown = _schedule(shop)
    assert shown["lastRunAt"] == slot.isoformat() and shown["nextRunAt"] == (slot + H).isoformat()


def test_a_slot_that_finds_the_lock_held_waits_for_the_next(shop: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    _create(shop, "parisians", 'homeAddress.city = "Paris"')
    _scheduled(shop, every_hours=24, rebuild=False, set_hours_ago=25)
    scheduler = Scheduler([segment.segment_duty(shop, profile.rebuild)], tick_seconds=3600)
    with caplog.at_level(logging.WARNING, logger="accord.segment"), lake.sandbox_job(shop, "prod", "profile rebuild"):
        slot = segment.due_schedules(shop)[0][2]
        scheduler.start()  # it ticks at once, in threads of its own, which do not hold this thread's lock
        try:
            wait_until(lambda: "waits for the next slot" in caplog.text, "the skip is logged", timeout=60)
        finally:
            scheduler.stop()
    assert "profile rebuild in sandbox prod holds the sandbox's lock" in caplog.text
    assert segment.list_jobs(shop, "prod") == [] and segment.due_schedules(shop) == []
    assert _schedule(shop)["lastRunAt"] == slot.isoformat()


def test_a_slot_that_finds_a_job_queued_waits_for_the_next(shop: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    _create(shop, "parisians", 'homeAddress.city = "Paris"')
    _scheduled(shop, every_hours=24, rebuild=False, set_hours_ago=25)
    job_id = segment.queue_job(shop, "prod", None)  # a background job whose process is about to take the lock
    slot = segment.due_schedules(shop)[0][2]
    with caplog.at_level(logging.WARNING, logger="accord.segment"):
        skipped = segment.run_scheduled(shop, "prod", slot, profile.rebuild)
    assert skipped == {"id": None, "status": f"skipped: job {job_id} was queued"}
    assert f"waits for the next slot: job {job_id} is queued" in caplog.text
    assert [j["id"] for j in segment.list_jobs(shop, "prod")] == [job_id] and segment.due_schedules(shop) == []


def test_jobs_and_the_schedule_through_the_api(api: Any, shop: Workspace) -> None:
    _create(shop, "parisians", 'homeAddress.city = "Paris"')
    queued = api.post("/segment/jobs", json={"segments": ["parisians"], "background": True})
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    assert queued.headers["location"] == f"/segment/jobs/{queued.json()['id']}"
    done = wait_until(lambda: (j := api.get(queued.headers["location"]).json())["status"] not in (
        "queued", "running") and j, "the job has ended", timeout=300)  # fmt: skip
    assert done["status"] == "success" and done["counts"]["parisians"]["qualified"] == 2
    assert [j["id"] for j in api.get("/segment/jobs").json()] == [done["id"]]
    ended = api.delete(f"/segment/jobs/{done['id']}")
    assert ended.status_code == 409 and ended.json()["code"] == "SEGMENT-0430-409"
    assert api.delete("/segment/jobs/nope").status_code == 404
    assert api.post("/segment/jobs", json={"segments": ["nobody"], "background": True}).status_code == 404
    wrong = api.post("/segment/jobs", json={"background": "yes"})
    assert wrong.status_code == 400 and "background" in wrong.json()["message"]
    assert [j["id"] for j in api.get("/segment/jobs").json()] == [done["id"]]  # nothing recorded by refusals

    assert api.get("/segment/schedule").status_code == 404
    for bad, field in [({"everyHours": 0}, "everyHours"), ({"everyHours": 169}, "everyHours"),
                       ({"everyHours": "6"}, "everyHours"), ({}, "everyHours"),
                       ({"everyHours": 6, "at": "25:00"}, "at"), ({"everyHours": 6, "at": "7:30"}, "at"),
                       ({"everyHours": 6, "at": 730}, "at"), ({"everyHours": 6, "rebuildProfiles": "yes"},
                                                              "rebuildProfiles"),
                       ({"everyHours": 6, "every": 3}, "every")]:  # fmt: skip
        answer = api.put("/segment/schedule", json=bad)
        assert answer.status_code == 400 and field in answer.json()["message"], (bad, answer.text)
        assert [p["path"] for p in answer.json()["details"]["problems"]] == [field], answer.text
        assert answer.json()["code"] == "SEGMENT-0431-400", answer.text  # the CLI's code for the same problem
    assert api.get("/segment/schedule").status_code == 404  # nothing was set by the refusals
    made = api.put("/segment/schedule", json={"everyHours": 6, "at": "01:30", "rebuildProfiles": True})
    assert made.status_code == 200 and made.json()["enabled"] and made.json()["nextRunAt"]
    assert api.get("/segment/schedule").json() == made.json()
    off = api.delete("/segment/schedule")
    assert off.status_code == 200 and off.json()["enabled"] is False and off.json()["nextRunAt"] is None
    assert api.get("/segment/schedule").json()["everyHours"] == 6


def test_a_clean_stop_of_the_server_leaves_no_job_running(api: Any, busy_shop: Workspace) -> None:
    server = start_api(create_app(busy_shop.settings))  # a server of this test's own, stopped in the test
    client = Api(server.base, api.token)
    try:
        queued = client.post("/segment/jobs", json={"background": True})
        assert queued.status_code == 202, queued.text
        job_id = queued.json()["id"]
        wait_until(lambda: _job(busy_shop, job_id)["status"] == "running", "the job runs", timeout=120)
    finally:
        client.client.close()
        server.stop()  # as `accord serve` stops on Ctrl-C or SIGTERM
    ended = _job(busy_shop, job_id)
    assert ended["status"] in ("cancelled", "success") and ended["finished"] is not None, ended
    if ended["status"] == "cancelled":  # asked before it wrote memberships
        assert ended["cancelRequested"] is True and _memberships(busy_shop) == {} and ended["counts"] == {}
    else:  # it was writing them when asked (or had ended before the stop): it finished
        assert len(ended["counts"]) == MANY, ended


def test_the_schedule_through_the_cli(cli: Any, shop: Workspace) -> None:
    assert cli("segment", "schedule", "show").code == 3
    for args, field in [(("--every-hours", "0"), "everyHours"), (("--every-hours", "200"), "everyHours"),
                        (("--at", "25:00"), "at"), (("--at", "noon"), "at")]:  # fmt: skip
        refused = cli("segment", "schedule", "set", *args, "--json")
        assert refused.code == 2 and refused.json()["error"]["details"]["problems"][0]["path"] == field
    assert cli("segment", "schedule", "set", "--every-hours", "six").code == 2  # not a number: named by the parser
    made = cli("segment", "schedule", "set", "--every-hours", "12", "--at", "06:00", "--rebuild-profiles", "--json")
    assert made.code == 0 and made.json()["rebuildProfiles"] and made.json()["at"] == "06:00"
    human = cli("segment", "schedule", "show")
    assert "every 12 h aligned on 06:00 UTC, profiles rebuilt first; next job at" in human.stdout
    assert cli("segment", "schedule", "disable", "--json").json()["enabled"] is False
    assert cli("segment", "schedule", "show").stdout.startswith("disabled")
