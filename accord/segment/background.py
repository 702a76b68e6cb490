"""Segment jobs in the background: queued at once, run by a process of their own or a server's thread.

`queue_job` refuses at once while another job holds the sandbox's lock (it names that job), checks the
segments exist, and records the job `queued`. The CLI then starts a detached `accord segment run --job
ID`, which survives the command that started it (its own session: a closed terminal does not stop it);
`accord serve` runs the job in a thread of its own. Either way the job's record says its status and
progress, and a cancellation reaches it through the catalog. A process that never starts, or dies, leaves
its job `queued` or `running` with an owner that is gone: the next job records it `failed`."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from accord.catalog import resolve_sandbox
from accord.jobs import JobRunningError, holder
from accord.lake import sandbox_lock
from accord.segment.definitions import find_segment
from accord.segment.job_control import hand_over, queue
from accord.segment.jobs import run_job
from accord.workspace import Workspace

log = logging.getLogger("accord.segment")


def queue_job(workspace: Workspace, sandbox: str, names: list[str] | None, trigger: str = "manual") -> str:
    """Record a job of these segments (None: all) to run in the background: its id.

    Raises `JobRunningError` (who runs, since when) while another job holds the sandbox's lock, and
    `NotFoundError` for a segment that does not exist, before anything is recorded."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        segment_ids = [find_segment(session, sandbox, name).id for name in names or []]
        found = holder(session, sandbox_lock(sandbox_id))
    if found is not None and not found.abandoned(workspace.settings.stale_run_seconds):
        raise JobRunningError(f"segment job in sandbox {sandbox}", found.purpose, found.owner.pid, found.owner.host,
                              found.since, 0)  # fmt: skip
    return queue(workspace, sandbox, segment_ids, trigger)


def job_log(workspace: Workspace, sandbox_id: str, job_id: str) -> Path:
    """Where a detached job's process writes what it says (kept only when it said something)."""
    return workspace.lake.root / sandbox_id / "segments" / "jobs" / f"{job_id}.log"


def spawn_job(workspace: Workspace, sandbox: str, job_id: str) -> int:
    """Start the detached process that runs the queued job `job_id` (`accord segment run --job`): its pid.

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


def run_in_thread(workspace: Workspace, sandbox: str, job_id: str) -> threading.Thread:
    """Run the queued job `job_id` in a thread of this process (a server's): how it ends is in its record."""

    def work() -> None:
        try:
            run_job(workspace, sandbox, job_id=job_id)
        except Exception as exc:  # recorded on the job; the thread only says it in the server's log
            log.warning("segment job %s in sandbox %s: %s", job_id, sandbox, getattr(exc, "message", exc))

    thread = threading.Thread(target=work, name=f"segment job {job_id}", daemon=True)
    thread.start()
    return thread


def run_detached(workspace: Workspace, sandbox: str, job_id: str) -> dict[str, Any]:
    """What the detached process of a queued job does: run it, then drop its log if it said nothing."""
    try:
        return run_job(workspace, sandbox, job_id=job_id)
    finally:
        with workspace.catalog.session() as session:
            output = job_log(workspace, resolve_sandbox(session, sandbox).id, job_id)
        if output.exists() and output.stat().st_size == 0:
            output.unlink()
