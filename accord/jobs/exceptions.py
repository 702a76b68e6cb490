"""Errors of jobs: a job that must run alone found another one running, or lost its lock while it ran."""

from __future__ import annotations

from datetime import datetime

from accord.errors import ConflictError


class JobRunningError(ConflictError):
    """Another process holds the lock this job needs; the message says who, since when, and what it runs."""

    code = "JOB-0409-409"

    def __init__(self, wanted: str, running: str, pid: int, host: str, since: datetime, waited: float) -> None:
        moment = since.strftime("%Y-%m-%d %H:%M:%S UTC")
        after = f" after waiting {waited:g} s" if waited else ""
        super().__init__(
            f"cannot start {wanted}{after}: {running} is already running (pid {pid} since {moment}, host {host}); "
            "try again when it has finished",
            job=wanted,
            running=running,
            pid=pid,
            host=host,
            since=since.isoformat(),
        )
        self.pid, self.host, self.since = pid, host, since


class LockLostError(ConflictError):
    """Another process took this job's lock over (it judged this one dead: silent past the stale bound);
    the job stops before it replaces anything, so that it does not undo what the other one made."""

    code = "JOB-0410-409"

    def __init__(self, purpose: str, lock: str) -> None:
        super().__init__(
            f"{purpose} stopped before replacing anything: another process took its lock over while it was "
            "silent (stopped, or cut off from the catalog, for longer than stale_run_seconds); run it again",
            job=purpose,
            lock=lock,
        )
