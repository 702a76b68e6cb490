"""Who owns a running job, a lock or a scratch folder: a process on a host, and whether it is still there.

A process of this host is known to be gone when its pid no longer exists (or is a zombie), or when
the process that has the pid now started after the owner was last seen (the pid was reused). A
process of another host cannot be asked: callers judge it by its heartbeat instead."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

PID_REUSE_MARGIN = 2.0  # seconds: process start times are known to the clock tick, boot time to the second


@dataclass(frozen=True)
class Owner:
    pid: int
    host: str
    seen: float | None = None
    """When the owner was known to run (epoch seconds): a process with its pid started later is another one."""

    @classmethod
    def me(cls) -> Owner:
        return cls(os.getpid(), socket.gethostname())

    @property
    def here(self) -> bool:
        """The owner runs on this host, so its pid can be looked at."""
        return self.host == socket.gethostname()

    @property
    def gone(self) -> bool:
        """Known to be dead: a process of this host that no longer runs. Never true for other hosts."""
        if not self.here:
            return False
        if not process_runs(self.pid):
            return True
        started = process_started(self.pid)
        return self.seen is not None and started is not None and started > self.seen + PID_REUSE_MARGIN


def process_runs(pid: int) -> bool:
    """Whether a process of this host runs (a killed child its parent has not waited for does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    try:  # a zombie still has its pid but will never work again
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def process_started(pid: int) -> float | None:
    """When a process of this host started (epoch seconds), where /proc tells; else None."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))  # fmt: skip
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")
