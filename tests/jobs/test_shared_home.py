"""Jobs that share a home, run as real `accord` processes: at once, stopped, and killed.

A stopped process (SIGSTOP) holds its lock as a long job would, so that a second caller meets it
for certain; a killed one (SIGKILL) leaves what a crash leaves."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.api import create_app
from accord.settings import Settings
from tests.jobs.conftest import Home, Lone, lookups, store_contents
from tests.processes import files_under, finish, kill, run, start, wait_until
from tests.servers import start_api


def _scratch(home: Home) -> list[Path]:
    """Everything in the folders where jobs spill, stage and receive uploads."""
    return [*files_under(home.path / "tmp"), *sorted((home.lake / "_staging").glob("*")),
            *sorted((home.lake / "_uploads").glob("*"))]  # fmt: skip


def _holds_sandbox(home: Home, pid: int) -> dict[str, Any] | None:
    return next((lease for lease in home.leases() if lease["name"] == f"sandbox:{home.sandbox_id}"
                 and lease["pid"] == pid), None)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("memory", ["2GB", "40MB"], ids=["default-memory", "low-memory-spilling"])
def test_rebuilds_at_once_make_what_a_lone_rebuild_makes(shop_home: Home, lone_run: Lone, memory: str) -> None:
    env = shop_home.env(duckdb_memory_limit=memory, job_wait_seconds="900")
    for trial in range(3):
        both = [start(env, "profile", "rebuild", "--json"), start(env, "profile", "rebuild", "--json")]
        results = [finish(process) for process in both]
        assert [r.code for r in results] == [0, 0], (trial, [r.stderr for r in results])
        assert [r.json()["profiles"]["profiles"] for r in results] == [lone_run.summary["profiles"]["profiles"]] * 2
        assert store_contents(shop_home) == lone_run.contents, trial
        assert _scratch(shop_home) == [], trial  # each process spilled and staged in folders of its own, now gone
        assert shop_home.leases() == []
    assert lookups(shop_home) == lone_run.lookups


@contextmanager
def _api(home: Home, **settings: Any) -> Iterator[httpx.Client]:
    """The API on the shared home, in a thread of the test."""
    server = start_api(create_app(Settings(home=home.path, duckdb_threads=1, scheduler=False, **settings)))
    try:
        with httpx.Client(base_url=server.base, timeout=120,
                          headers={"Authorization": f"Bearer {home.token}"}) as client:  # fmt: skip
            yield client
    finally:
        server.stop()


def _serve(home: Home) -> tuple[subprocess.Popen[str], int]:
    """A real `accord serve` process on a port the system chose, which it names when it listens."""
    server = start(home.env(), "serve", "--port", "0")
    assert server.stderr is not None
    ready, _, _ = select.select([server.stderr], [], [], 60)
    said = server.stderr.readline() if ready else ""
    found = re.search(r"Accord API on http://127\.0\.0\.1:(\d+)", said)
    assert found is not None, f"accord serve did not say where it listens: {said!r}"
    return server, int(found[1])


@pytest.mark.slow
def test_every_job_that_replaces_the_sandboxs_folders_is_told_who_runs(
    shop_home: Home, lone_run: Lone, tmp_path: Path
) -> None:
    fields = [{"path": "person.name.firstName", "comparison": "name"}, {"path": "homeAddress.city"}]
    matching = {"datasets": ["crm"], "fields": fields, "blocking": [["homeAddress.city"]]}
    (tmp_path / "rules.json").write_text(json.dumps(matching))
    holder = start(shop_home.env(), "profile", "rebuild", "--json")
    lease = wait_until(lambda: _holds_sandbox(shop_home, holder.pid), "the rebuild holds the lock", process=holder)
    os.kill(holder.pid, signal.SIGSTOP)  # a long rebuild, for as long as this test needs
    batch = shop_home.batches("crm")[0]["id"]
    expected = (
        f"profile rebuild in sandbox prod is already running (pid {holder.pid} since {lease['started_at'][:19]} UTC"
    )
    try:
        quick = shop_home.env(job_wait_seconds="0")
        for command in (["profile", "rebuild"], ["identity", "build"], ["segment", "run"], ["dataset", "purge", "web"],
                        ["dataset", "delete-records", "crm", "--id", "C1"], ["batch", "delete", batch],
                        ["identity", "match", "--file", str(tmp_path / "rules.json")]):  # fmt: skip
            result = run(quick, *command, "--json")
            assert result.code == 4, (command, result.stdout, result.stderr)
            error = result.json()["error"]
            assert error["code"] == "JOB-0409-409" and expected in error["message"], (command, error)
            assert error["details"]["pid"] == holder.pid
        waited = run(shop_home.env(job_wait_seconds="2"), "segment", "run")
        assert waited.code == 4 and "after waiting 2" in waited.stderr and f"(pid {holder.pid} since" in waited.stderr
        told = f"segment job in sandbox prod waits for profile rebuild in sandbox prod (pid {holder.pid} on"
        assert told in waited.stderr  # while it waits, not only when it gives up
        assert "Traceback" not in waited.stderr
        with _api(shop_home, job_wait_seconds=0) as client:
            calls = [("POST", "/profiles/rebuild", None), ("POST", "/identity/graph/build", None),
                     ("POST", "/segment/jobs", {}), ("POST", "/datasets/web/purge", None),
                     ("POST", "/datasets/crm/records/delete", {"ids": ["C1"]}),
                     ("DELETE", f"/batches/{batch}", None), ("POST", "/identity/matching", matching)]  # fmt: skip
            for method, path, body in calls:
                response = client.request(method, path, json=body)
                assert response.status_code == 409, (path, response.text)
                assert response.json()["code"] == "JOB-0409-409" and expected in response.json()["message"], path
    finally:
        os.kill(holder.pid, signal.SIGCONT)
    assert finish(holder).code == 0
    assert shop_home.batch(batch)["status"] == "success"  # nothing was deleted meanwhile
    assert store_contents(shop_home) == lone_run.contents
    assert shop_home.leases() == []


@pytest.mark.slow
def test_a_killed_rebuild_leaves_nothing_behind(shop_home: Home, lone_run: Lone) -> None:
    victim = start(shop_home.env(duckdb_memory_limit="40MB"), "profile", "rebuild")
    wait_until(lambda: files_under(shop_home.path / "tmp") and files_under(shop_home.lake / "_staging"),
               "the rebuild has spilled and staged files", process=victim)  # fmt: skip
    kill(victim)
    assert files_under(shop_home.path / "tmp") and files_under(shop_home.lake / "_staging")  # what a crash leaves
    assert _holds_sandbox(shop_home, victim.pid)  # and the lock of a process that is gone
    after = run(shop_home.env(job_wait_seconds="0"), "profile", "rebuild", "--json")
    assert after.code == 0, after.stderr  # the dead process's lock did not block it
    assert _scratch(shop_home) == []
    assert store_contents(shop_home) == lone_run.contents


@pytest.mark.slow
@pytest.mark.parametrize("command", [["identity", "build"], ["segment", "run"], ["dataset", "purge", "web"],
                                     ["dataset", "delete-records", "crm", "--id", "nobody"]], ids=" ".join)  # fmt: skip
def test_a_job_killed_while_it_holds_the_sandboxs_lock_blocks_nothing(
    shop_home: Home, lone_run: Lone, command: list[str]
) -> None:
    before = len(shop_home.segment_jobs())
    victim = start(shop_home.env(), *command)

    def at_work() -> bool:
        if not _holds_sandbox(shop_home, victim.pid):
            return False
        return command[0] != "segment" or any(j["status"] == "running" for j in shop_home.segment_jobs()[before:])

    wait_until(at_work, "the job holds the lock and is at work", process=victim)
    kill(victim)
    after = run(shop_home.env(job_wait_seconds="0"), "segment", "run", "--json")
    assert after.code == 0, after.stdout + after.stderr
    assert _scratch(shop_home) == [] and shop_home.leases() == []
    jobs = shop_home.segment_jobs()[before:]
    if command[0] == "segment":  # the killed job's record says so
        assert [(j["status"], j["error"]) for j in jobs] == [("failed", "interrupted: the process running it stopped"),
                                                             ("success", None)]  # fmt: skip
    assert all(j["status"] != "running" for j in shop_home.segment_jobs())


def _loading(home: Home, dataset: str, before: set[str]) -> dict[str, Any] | None:
    """The batch being ingested now (not one that was there `before`)."""
    return next((b for b in home.batches(dataset) if b["status"] == "loading" and b["id"] not in before), None)


def _ids(home: Home, dataset: str) -> set[str]:
    return {b["id"] for b in home.batches(dataset)}


def _staged(home: Home, batch_id: str) -> list[Path]:
    return [p for folder in (home.lake / "_staging").glob(f"{batch_id}*") for p in files_under(folder)]


def _big_file(folder: Path, rows: int) -> Path:
    import duckdb

    path = folder / "big.csv.gz"
    duckdb.connect().execute(f"COPY (SELECT 'First' || (i % 5000) AS first, 'p' || i || '@x.io' AS email "
                             f"FROM range({rows}) t(i)) TO '{path}' (HEADER, COMPRESSION gzip)")  # fmt: skip
    return path


MAPPING = "mappings:\n  - source: first\n    destination: person.name.firstName\n" \
          "  - source: email\n    destination: personalEmail.address\n"  # fmt: skip


def _killed_while_loading(home: Home, tmp_path: Path) -> dict[str, Any]:
    """A large ingestion killed while its batch is loading, with files staged: the batch."""
    big = _big_file(tmp_path, 400_000)
    (tmp_path / "map.yaml").write_text(MAPPING)
    before = _ids(home, "bulk")
    victim = start(home.env(), "ingest", str(big), "-d", "bulk", "-m", str(tmp_path / "map.yaml"))
    batch: dict[str, Any] = wait_until(
        lambda: (b := _loading(home, "bulk", before)) and _staged(home, b["id"]) and b,
        "the batch is loading, with staged files", process=victim,
    )  # fmt: skip
    kill(victim)
    return batch


@pytest.mark.slow
def test_a_killed_ingestion_is_closed_by_the_next_job_and_can_be_deleted(shop_home: Home, tmp_path: Path) -> None:
    batch = _killed_while_loading(shop_home, tmp_path)
    assert shop_home.batch(batch["id"])["status"] == "loading" and _staged(shop_home, batch["id"])
    (tmp_path / "one.csv").write_text("first,email\nAnn,ann@x.io\n")
    other = run(shop_home.env(), "ingest", str(tmp_path / "one.csv"), "-d", "bulk", "-m", str(tmp_path / "map.yaml"))
    assert other.code == 0, other.stderr  # any job's start closes what the killed one left
    closed = shop_home.batch(batch["id"])
    assert closed["status"] == "failed" and "abandoned" in closed["error"]
    assert _scratch(shop_home) == []
    assert not list((shop_home.lake / shop_home.sandbox_id / "datasets").glob(f"*/batch={batch['id']}*"))
    deleted = run(shop_home.env(), "batch", "delete", batch["id"], "--json")
    assert deleted.code == 0, deleted.stdout + deleted.stderr
    assert deleted.json()["status"] == "deleted"


@pytest.mark.slow
def test_a_batch_whose_ingestion_was_killed_is_deleted_at_once(shop_home: Home, tmp_path: Path) -> None:
    batch = _killed_while_loading(shop_home, tmp_path)
    deleted = run(shop_home.env(), "batch", "delete", batch["id"], "--json")
    assert deleted.code == 0, deleted.stdout + deleted.stderr
    assert deleted.json()["status"] == "deleted"
    assert _scratch(shop_home) == []


@pytest.mark.slow
def test_a_killed_upload_through_the_api_is_closed_by_the_next_job(shop_home: Home, tmp_path: Path) -> None:
    big = _big_file(tmp_path, 400_000)
    before = _ids(shop_home, "bulk")
    server, port = _serve(shop_home)
    base = f"http://127.0.0.1:{port}"

    def upload() -> None:
        try:
            with big.open("rb") as body:
                httpx.post(f"{base}/datasets/bulk/batches", files={"file": ("big.csv.gz", body)},
                           data={"mapping": '{"mappings": [{"source": "first", "destination": '
                                            '"person.name.firstName"}]}'},
                           headers={"Authorization": f"Bearer {shop_home.token}"}, timeout=600)  # fmt: skip
        except httpx.HTTPError:  # the server is killed under it
            return

    client = threading.Thread(target=upload, daemon=True)
    client.start()
    batch = wait_until(lambda: (b := _loading(shop_home, "bulk", before)) and _staged(shop_home, b["id"]) and b,
                       "the uploaded batch is loading", process=server)  # fmt: skip
    assert list((shop_home.lake / "_uploads").iterdir())  # the upload's copy, beside the batch's staging
    kill(server)
    client.join(60)
    deleted = run(shop_home.env(), "batch", "delete", batch["id"], "--json")
    assert deleted.code == 0, deleted.stdout + deleted.stderr
    assert deleted.json()["status"] == "deleted"
    assert _scratch(shop_home) == []


@pytest.mark.slow
def test_a_job_taken_over_while_stopped_replaces_nothing_when_it_resumes(shop_home: Home, lone_run: Lone) -> None:
    """A rebuild stopped past the stale bound is taken over; resumed, it stops before any swap, so the
    store its successor made stays as it was (it would otherwise be replaced by an older build)."""
    env = shop_home.env(stale_run_seconds="10", job_wait_seconds="120")
    stopped = start(env, "profile", "rebuild", "--json")
    wait_until(lambda: _holds_sandbox(shop_home, stopped.pid), "the rebuild holds the lock", process=stopped)
    os.kill(stopped.pid, signal.SIGSTOP)
    successor = run(env, "profile", "rebuild", "--json")  # waits until the lock is stale, then takes it over
    assert successor.code == 0, successor.stderr
    made = {name: (shop_home.lake / shop_home.sandbox_id / name).stat().st_ino for name in ("identity", "profile")}
    os.kill(stopped.pid, signal.SIGCONT)
    resumed = finish(stopped)
    assert resumed.code == 4, (resumed.stdout, resumed.stderr)
    assert resumed.json()["error"]["code"] == "JOB-0410-409"
    assert {name: (shop_home.lake / shop_home.sandbox_id / name).stat().st_ino for name in made} == made
    assert store_contents(shop_home) == lone_run.contents
    assert [lease for lease in shop_home.leases() if lease["pid"] == stopped.pid] == []  # it let go of what it held
