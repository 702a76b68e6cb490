"""Who owns a running job, a lock or a scratch folder: a process on a host, and whether it is still there.

A process of this host is known to be gone when its pid no longer exists (or is a zombie). A process
of another host cannot be asked: callers judge it by its heartbeat instead."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Owner:
    pid: int
    host: str

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
        return self.here and not process_runs(self.pid)


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
