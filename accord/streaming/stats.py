"""What each process of a home took in and processed, for `GET /streaming/stats` and `accord streaming stats`.

`accord serve` takes messages in, and it or an `accord worker` processes them: each process counts its own.
Each publishes its figures every second to a file of its own under `home/streaming/stats/` (replaced whole,
owner-only), and removes it when it stops; whoever asks sums them. A file left by a killed process of this
machine is removed by the next reader; one of another machine (a shared home) counts while it is fresh.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from accord.jobs import process_runs

FOLDER = Path("streaming") / "stats"
FRESH_SECONDS = 60.0
"""A figures file of another machine older than this is no longer counted."""
COUNTERS = ("accepted", "refused", "processed", "deduplicated", "invalid", "batches", "profilesChanged",
            "membershipChanges", "evolvedFields", "discardedValues")  # fmt: skip
LATENCIES = ("ackMilliseconds", "endToEndSeconds")


def own_file(home: Path) -> Path:
    return home / FOLDER / f"{socket.gethostname()}-{os.getpid()}.json"


def publish(home: Path, figures: dict[str, Any]) -> None:
    """Replace this process's figures file (never half-written: written beside it, then renamed)."""
    target = own_file(home)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_suffix(".tmp")
    scratch.write_text(json.dumps({**figures, "pid": os.getpid(), "host": socket.gethostname(),
                                   "updatedAt": time.time()}))  # fmt: skip
    os.replace(scratch, target)


def withdraw(home: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        own_file(home).unlink()


def others(home: Path) -> list[dict[str, Any]]:
    """The figures other live processes of the home published (stale files of dead ones removed)."""
    folder = home / FOLDER
    if not folder.is_dir():
        return []
    mine, host, now = own_file(home), socket.gethostname(), time.time()
    found = []
    for path in folder.glob("*.json"):
        if path == mine:
            continue
        try:
            figures = json.loads(path.read_text())
        except (OSError, ValueError):  # being replaced, or cut short by a crash: the next second's will do
            continue
        if figures.get("host") == host and not process_runs(int(figures.get("pid") or 0)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        if figures.get("host") != host and now - float(figures.get("updatedAt") or 0) > FRESH_SECONDS:
            continue
        found.append(figures)
    return found


def combined(own: dict[str, Any], more: list[dict[str, Any]]) -> dict[str, Any]:
    """This process's figures with the others': counters summed; of each latency, the highest (the slowest
    process is the one to look at)."""
    out = dict(own)
    for figures in more:
        for name in COUNTERS:
            out[name] = int(out.get(name) or 0) + int(figures.get(name) or 0)
        for name in LATENCIES:
            mine, theirs = dict(out.get(name) or {}), figures.get(name) or {}
            for share, value in theirs.items():
                if value is not None and (mine.get(share) is None or value > mine[share]):
                    mine[share] = value
            out[name] = mine
    out["processes"] = 1 + len(more)
    return out
