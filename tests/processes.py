"""Real `accord` processes for the tests of jobs that share a home: started, waited on, stopped, killed.

Every process is a child of the test and is stopped by its process id; a killed one is waited for,
so that it does not linger as a zombie (a zombie's pid still exists)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCORD = str(Path(sys.executable).with_name("accord"))


def environment(home: Path, **settings: str) -> dict[str, str]:
    """The environment of an `accord` process on `home`: ACCORD_* from `settings` (upper-cased names)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    return {**clean, "ACCORD_HOME": str(home), "ACCORD_DUCKDB_THREADS": "1", "ACCORD_SCHEDULER": "false",
            **{f"ACCORD_{k.upper()}": v for k, v in settings.items()}}  # fmt: skip


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        import json

        return json.loads(self.stdout)


_started: list[subprocess.Popen[str]] = []


def start(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    """Start `accord ARGS` in the background."""
    process = subprocess.Popen([ACCORD, *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    _started.append(process)
    return process


def stop_all() -> None:
    """Kill and wait for the processes a test started and left running (a failing test stops midway)."""
    while _started:
        process = _started.pop()
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)  # also ends a stopped process
            process.wait(timeout=60)
        for stream in (process.stdout, process.stderr):
            if stream is not None and not stream.closed:
                stream.close()


def finish(process: subprocess.Popen[str], timeout: float = 600) -> Finished:
    """Wait for a process started by `start` and collect what it said."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(process)
        raise
    return Finished(process.returncode, stdout, stderr)


def run(env: dict[str, str], *args: str, timeout: float = 600) -> Finished:
    """Run `accord ARGS` to its end."""
    return finish(start(env, *args), timeout)


def kill(process: subprocess.Popen[str]) -> None:
    """kill -9, then wait for it (so that its pid is gone)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 300,
               process: subprocess.Popen[str] | None = None) -> Any:  # fmt: skip
    """Poll `condition` until it returns something true, and return it; fail after `timeout` seconds,
    or as soon as `process` (the one expected to bring the condition about) has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if process is not None and process.poll() is not None:
            stdout, stderr = process.communicate()
            raise AssertionError(f"the process ended (code {process.returncode}) before {what}: {stdout} {stderr}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting until {what}")


def files_under(folder: Path) -> list[Path]:
    """Every file below `folder` (none if it does not exist)."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
