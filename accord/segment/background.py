"""Segment jobs in the background: one rule to start them, run by a process of their own or a server's worker.

`start_background_job` is that rule, whoever asks: it refuses at once while a job of the sandbox is queued or
running (naming it, its process and since when) or another job holds the sandbox's lock, checks the segments
exist, records the job `queued`, and hands it to a runner that starts it elsewhere and returns: `spawn_job`
(the CLI: a detached `accord segment run --job ID`, in a session of its own, so that a closed terminal does
not stop it) or a server's `JobWorkers` (a few threads of `accord serve`). The check and the record are one
step: a sandbox's starts take turns on a lease of their own, so that of two starts at once one is refused.
Either way the job's record says its status and progress, and a cancellation reaches it through the catalog.
A process that never starts, or dies, leaves its job `queued` or `running` with an owner that is gone: the
next job records it `failed`."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import suppress
from pathlib import Path
from typing import Any

from accord.catalog import resolve_sandbox
from accord.errors import AccordError, TransientError
from accord.jobs import JobRunningError, hold, holder
from accord.lake import sandbox_lock
from accord.segment.definitions import find_segment
from accord.segment.job_control import (
    JobUnderWayError,
    cancel_job,
    fail_queued,
    hand_over,
    job_document,
    job_under_way,
    queue,
)
from accord.segment.jobs import run_job
from accord.workspace import Workspace

log = logging.getLogger("accord.segment")

Runner = Callable[[Workspace, str, str], object]
"""Starts the queued job (workspace, sandbox, job id) elsewhere and returns at once."""

START_WAIT_SECONDS = 10.0
"""How long a start waits for another start of the sandbox (it holds their lease for a few milliseconds)."""


def start_lock(sandbox_id: str) -> str:
    """The lease that a sandbox's background starts take turns on (not the sandbox's lock: a job's process
    taking that lock at the same moment must not find it held by a start)."""
    return f"segment-start:{sandbox_id}"


def queue_job(workspace: Workspace, sandbox: str, names: list[str] | None, trigger: str = "manual") -> str:
    """Record a job of these segments (None: all) to run in the background: its id.

    Raises `JobUnderWayError` while a job of the sandbox is queued or running, `JobRunningError` (who, since
    when) while another job holds the sandbox's lock, and `NotFoundError` for a segment that does not exist,
    before anything is recorded. Two calls at once: one is refused, naming the other's job."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        segment_ids = [find_segment(session, sandbox, name).id for name in names or []]
    stale = workspace.settings.stale_run_seconds
    with hold(workspace.catalog, start_lock(sandbox_id), f"a segment job's start in sandbox {sandbox}",
              wait_seconds=START_WAIT_SECONDS, stale_seconds=stale):  # fmt: skip
        with workspace.catalog.session() as session:
            current = job_under_way(session, sandbox_id, stale)
            found = holder(session, sandbox_lock(sandbox_id))
        if current is not None:
            raise JobUnderWayError(sandbox, current)
        if found is not None and not found.abandoned(stale):
            raise JobRunningError(f"segment job in sandbox {sandbox}", found.purpose, found.owner.pid,
                                  found.owner.host, found.since, 0)  # fmt: skip
        return queue(workspace, sandbox, segment_ids, trigger)


def start_background_job(workspace: Workspace, sandbox: str, names: list[str] | None, runner: Runner,
                         trigger: str = "manual") -> dict[str, Any]:  # fmt: skip
    """Queue a job of these segments (None: all) and have `runner` start it: the job as queued.

    Refused as `queue_job` says. A runner that cannot start it (no process, a server stopping) leaves it
    `failed`, with why, and raises `TransientError`."""
    job_id = queue_job(workspace, sandbox, names, trigger)
    queued = job_document(workspace, sandbox, job_id)  # as started: a worker may take it up at once
    try:
        runner(workspace, sandbox, job_id)
    except (OSError, RuntimeError) as exc:
        fail_queued(workspace, job_id, f"could not be started: {exc}")
        raise TransientError(f"segment job {job_id} could not be started: {exc}; try again",
                             code="SEGMENT-0434-503", job=job_id) from None  # fmt: skip
    return queued


def job_log(workspace: Workspace, sandbox_id: str, job_id: str) -> Path:
    """Where a detached job's process writes what it says (kept only when it said something)."""
    return workspace.lake.root / sandbox_id / "segments" / "jobs" / f"{job_id}.log"


def spawn_job(workspace: Workspace, sandbox: str, job_id: str) -> int:
    """Runner: start the detached process that runs the queued job `job_id` (`accord segment run --job`): its pid.

    It opens the same home, in the same folder and environment as this process (so the same settings)."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
    output = job_log(workspace, sandbox_id, job_id)
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "accord", "--home", str(Path(workspace.settings.home).resolve()),
               "--sandbox", sandbox, "segment", "run", "--job", job_id]  # fmt: skip
    with output.open("ab") as sink:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                                   cwd=os.getcwd(), start_new_session=True, close_fds=True)  # fmt: skip
    hand_over(workspace, job_id, process.pid)
    return process.pid


def run_detached(workspace: Workspace, sandbox: str, job_id: str) -> dict[str, Any]:
    """What the detached process of a queued job does: run it, then drop its log if it said nothing."""
    try:
        return run_job(workspace, sandbox, job_id=job_id)
    finally:
        with workspace.catalog.session() as session:
            output = job_log(workspace, resolve_sandbox(session, sandbox).id, job_id)
        if output.exists() and output.stat().st_size == 0:
            output.unlink()


class JobWorkers:
    """A server's threads for background segment jobs: at most `workers` run at once (the others wait, `queued`;
    a sandbox has one job under way at most). `run` is a runner for `start_background_job`.

    `close` (the server stops) asks every job under way to stop, a queued one at once, a running one at its next
    step (one writing memberships finishes), and waits for them: a clean stop leaves no job `running`."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="segment-job")
        self._under_way: dict[str, tuple[Workspace, str, Future[None]]] = {}
        self._guard = threading.Lock()

    def run(self, workspace: Workspace, sandbox: str, job_id: str) -> None:
        """Runner: run the queued job in a thread when one is free. `RuntimeError` once closed."""
        with self._guard:  # the job's end (which forgets it) waits until it is known
            future = self._pool.submit(self._work, workspace, sandbox, job_id)
            self._under_way[job_id] = (workspace, sandbox, future)

    def _work(self, workspace: Workspace, sandbox: str, job_id: str) -> None:
        try:
            run_job(workspace, sandbox, job_id=job_id)
        except AccordError as exc:  # recorded on the job; the server's log says it too
            log.warning("segment job %s in sandbox %s: %s", job_id, sandbox, exc.message)
        except Exception:
            log.exception("segment job %s in sandbox %s: internal error", job_id, sandbox)
        finally:
            with self._guard:
                self._under_way.pop(job_id, None)

    def under_way(self) -> list[str]:
        """The ids of the jobs given to these threads that have not ended."""
        with self._guard:
            return list(self._under_way)

    def close(self, patience: float = 10.0) -> list[str]:
        """Stop taking jobs, ask those under way to stop, and wait for them; the ids of those asked.

        A job still at work after `patience` seconds is logged, then waited for: it stops at its next step."""
        with self._guard:
            under_way = dict(self._under_way)
            self._pool.shutdown(wait=False, cancel_futures=True)  # a job not begun is cancelled just below
        for job_id, (workspace, sandbox, _) in under_way.items():
            with suppress(AccordError):  # it ended meanwhile
                cancel_job(workspace, sandbox, job_id)
        _, pending = wait([future for *_, future in under_way.values()], timeout=patience)
        if pending:
            log.warning("waiting for segment jobs %s to stop at their next step",
                        ", ".join(job_id for job_id, (*_, f) in under_way.items() if f in pending))  # fmt: skip
        self._pool.shutdown(wait=True)
        return list(under_way)
