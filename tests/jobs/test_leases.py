"""Locks of jobs, raced for by real processes: one holds, the others wait or are told who holds it.

Each racer is a real process taking the lock through `accord.jobs.hold` on a real catalog. They
start together on a signal (a file the test creates once all are ready) and hold the lock until the
test lets them go, so that who meets whom never depends on timing."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from accord.catalog import Catalog, JobLeaseRecord
from accord.jobs import JobRunningError, hold, holder
from accord.settings import Settings
from accord.workspace import initialise
from tests.databases import PostgresServer
from tests.processes import wait_until

RACER = """
import json, sys, time
from collections.abc import Iterator
from pathlib import Path
from accord.catalog import Catalog
from accord.jobs import JobRunningError, hold

url, folder, name, wait, stale = sys.argv[1], Path(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
catalog = Catalog(url)
(folder / f"ready-{name}").touch()
while not (folder / "go").exists():
    time.sleep(0.01)
try:
    with hold(catalog, "the-lock", f"racer {name}", wait_seconds=wait, stale_seconds=stale) as lease:
        began = time.time()
        (folder / f"holding-{name}").touch()
        while not (folder / f"release-{name}").exists():
            if lease.lost:
                (folder / f"lost-{name}").touch()
            time.sleep(0.01)
        print(json.dumps({"won": True, "began": began, "ended": time.time(), "lost": lease.lost}), flush=True)
except JobRunningError as error:
    print(json.dumps({"won": False, "pid": error.pid, "message": error.message}), flush=True)
"""


class Race:
    def __init__(self, folder: Path, url: str) -> None:
        self.folder, self.url = folder, url
        self.racers: dict[str, subprocess.Popen[str]] = {}

    def enter(self, name: str, wait: float = 0, stale: float = 1800) -> subprocess.Popen[str]:
        process = subprocess.Popen([sys.executable, "-c", RACER, self.url, str(self.folder), name, str(wait),
                                    str(stale)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        self.racers[name] = process
        return process

    def go(self) -> None:
        for name, process in self.racers.items():
            wait_until(lambda n=name: (self.folder / f"ready-{n}").exists(), f"racer {name} is ready", process=process)
        (self.folder / "go").touch()

    def holding(self) -> str | None:
        return next((n for n in self.racers if (self.folder / f"holding-{n}").exists()), None)

    def release(self, name: str) -> None:
        (self.folder / f"release-{name}").touch()

    def result(self, name: str) -> dict[str, Any]:
        stdout, stderr = self.racers[name].communicate(timeout=300)
        assert self.racers[name].returncode == 0, stderr
        return json.loads(stdout)

    def stop(self) -> None:
        for process in self.racers.values():
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.communicate()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def catalog_settings(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    """The catalog on SQLite, or in an empty database of its own on a real PostgreSQL server."""
    if request.param == "sqlite":
        yield settings
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"leases_{os.getpid()}_{next(_databases)}"
    yield settings.model_copy(update={"database_url": server.create_database(name)})
    server.drop_database(name)


_databases = itertools.count()


@pytest.fixture
def race(catalog_settings: Settings, tmp_path: Path) -> Any:
    initialise(catalog_settings)
    started = Race(tmp_path, catalog_settings.catalog_url)
    yield started
    started.stop()


def test_one_of_several_processes_racing_for_a_lock_holds_it(race: Race) -> None:
    for name in "abcd":
        race.enter(name)
    race.go()
    winner = wait_until(race.holding, "one racer holds the lock")
    losers = [name for name in "abcd" if name != winner]
    for name in losers:
        found = race.result(name)
        assert found["won"] is False and found["pid"] == race.racers[winner].pid
        assert f"racer {winner} is already running (pid {race.racers[winner].pid} since " in found["message"]
    race.release(winner)
    assert race.result(winner)["won"] is True


def test_processes_that_wait_take_the_lock_in_turn_never_together(race: Race) -> None:
    for name in "abc":
        race.enter(name, wait=300)
    race.go()
    order: list[str] = []
    results = []
    for _ in "abc":
        name = wait_until(lambda: next((n for n in "abc" if n not in order and (race.folder / f"holding-{n}").exists()),
                                       None), "the next racer holds the lock")  # fmt: skip
        order.append(name)
        race.release(name)
        results.append(race.result(name))
    assert sorted(order) == list("abc") and all(r["won"] for r in results)
    spans = sorted((r["began"], r["ended"]) for r in results)
    assert all(earlier[1] <= later[0] for earlier, later in pairwise(spans))


def test_a_lock_whose_holder_was_killed_is_taken_at_once(race: Race) -> None:
    first = race.enter("first")
    race.go()
    wait_until(lambda: race.holding() == "first", "the first racer holds the lock", process=first)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate()
    second = race.enter("second")  # does not wait: a dead process holds nothing
    wait_until(lambda: (race.folder / "holding-second").exists(), "the second racer holds the lock", process=second)
    catalog = Catalog(race.url)
    with catalog.session() as session:
        found = holder(session, "the-lock")
        assert found is not None and found.owner.pid == second.pid and found.purpose == "racer second"
    catalog.dispose()
    race.release("second")
    assert race.result("second")["won"] is True


def test_a_silent_holder_is_taken_over_after_the_stale_bound_and_knows_it(race: Race) -> None:
    """The path for a holder on another host, whose pid cannot be looked at: only its heartbeat tells."""
    stale = 4.0
    stopped = race.enter("stopped", stale=stale)
    race.go()
    wait_until(lambda: race.holding() == "stopped", "the racer holds the lock", process=stopped)
    os.kill(stopped.pid, signal.SIGSTOP)  # alive, but its heartbeat is silent, as a hung process's
    silent_since = time.time()
    try:
        late = race.enter("late", wait=300, stale=stale)
        wait_until(lambda: (race.folder / "holding-late").exists(), "the late racer takes the lock over", process=late)
    finally:
        os.kill(stopped.pid, signal.SIGCONT)
    wait_until(lambda: (race.folder / "lost-stopped").exists(), "the resumed racer sees its lock was taken over")
    race.release("stopped")
    assert race.result("stopped")["lost"] is True
    catalog = Catalog(race.url)
    with catalog.session() as session:  # the resumed racer gave back nothing that was no longer its
        found = holder(session, "the-lock")
        assert found is not None and found.owner.pid == late.pid
    catalog.dispose()
    race.release("late")
    taken = race.result("late")
    beat_every = stale / 6  # the holder beat at most this long before it fell silent
    assert taken["won"] is True and taken["began"] - silent_since >= stale - beat_every - 0.2


def test_a_thread_holding_a_lock_takes_it_again_and_another_thread_cannot(settings: Settings) -> None:
    initialise(settings)
    catalog = Catalog(settings.catalog_url)
    refused: list[JobRunningError] = []

    def other() -> None:
        try:
            with hold(catalog, "the-lock", "other thread", wait_seconds=0, stale_seconds=1800):
                pass
        except JobRunningError as error:
            refused.append(error)

    with (
        hold(catalog, "the-lock", "outer job", wait_seconds=0, stale_seconds=1800) as outer,
        hold(catalog, "the-lock", "inner job", wait_seconds=0, stale_seconds=1800) as inner,
    ):
        assert inner is outer
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(refused) == 1 and refused[0].pid == os.getpid() and "outer job is already running" in refused[0].message
    with catalog.session() as session:
        assert holder(session, "the-lock") is None  # given back once, by the outer hold
    catalog.dispose()


def test_a_lock_whose_pid_now_belongs_to_a_newer_process_is_taken_at_once(settings: Settings) -> None:
    """A holder killed long ago whose pid the system gave to another process: the process that has the pid
    now started after the lock was taken, so it holds nothing; the lock is taken without waiting."""
    initialise(settings)
    catalog = Catalog(settings.catalog_url)
    newcomer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        here = socket.gethostname()
        with catalog.session() as session:
            session.add(JobLeaseRecord(name="reused", token="t" * 24, purpose="a job killed an hour ago",
                                       pid=newcomer.pid, host=here, started_at=an_hour_ago))  # fmt: skip
            session.add(JobLeaseRecord(name="alive", token="u" * 24, purpose="the newcomer's own job",
                                       pid=newcomer.pid, host=here))  # fmt: skip
        with hold(catalog, "reused", "the next job", wait_seconds=0, stale_seconds=1800), catalog.session() as session:
            found = holder(session, "reused")
            assert found is not None and found.owner.pid == os.getpid()
        with pytest.raises(JobRunningError), hold(catalog, "alive", "the next job", wait_seconds=0, stale_seconds=1800):
            pass
    finally:
        newcomer.kill()
        newcomer.wait()
        catalog.dispose()
