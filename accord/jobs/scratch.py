"""Scratch folders of running jobs, named for their owner, and the sweep that removes those of dead owners.

Every job gets folders of its own (each engine connection its spill folder, each build its staging
folder, each upload its folder), named `LABEL~PID~HOST~TOKEN`: two jobs never write into one folder,
and whoever finds a folder whose owner is gone from this host may remove it. A job removes its own
folders when it ends, also on errors (`removed_at_end`); a killed one cannot, so the next job to
start sweeps them (`sweep`)."""

from __future__ import annotations

import contextvars
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from accord.jobs.owners import Owner

SEPARATOR = "~"


def scratch_name(label: str) -> str:
    """A fresh name for a scratch folder of this process: its label, then who owns it."""
    me = Owner.me()
    return SEPARATOR.join((label, str(me.pid), me.host, secrets.token_hex(4)))


def owner_of(name: str, seen: float | None = None) -> Owner | None:
    """The owner a scratch name says (known to run at `seen`), or None for a name that is not one."""
    parts = name.rsplit(SEPARATOR, 3)
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    return Owner(int(parts[1]), parts[2], seen)


def sweep(root: Path, stale_seconds: float, live_hosts: frozenset[str] = frozenset()) -> list[Path]:
    """Remove what dead processes left under `root`; returns what was removed.

    An entry of a process of this host goes when that process is gone (or its pid now belongs to a
    process started after the entry last changed). An entry of another host, or one that names no
    owner (an older Accord wrote it), goes once nothing in it has changed for `stale_seconds` and, for
    another host, no job of that host holds a live lock (`live_hosts`): that host cannot be asked
    whether its process runs, and its jobs' heartbeats say it works."""
    removed: list[Path] = []
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        return removed
    now = time.time()
    for entry in entries:
        try:
            changed = entry.lstat().st_mtime
            owner = owner_of(entry.name, changed)
            if owner is not None and owner.here:
                doomed = owner.gone
            elif owner is not None and owner.host in live_hosts:
                doomed = False
            else:
                doomed = now - _last_change(entry, changed) > stale_seconds
        except FileNotFoundError:  # its owner removed it meanwhile
            continue
        if doomed:
            _remove(entry)
            removed.append(entry)
    return removed


def _last_change(entry: Path, changed: float) -> float:
    """The latest modification time of `entry` and of what it holds."""
    if entry.is_dir() and not entry.is_symlink():
        for path in entry.rglob("*"):
            try:
                changed = max(changed, path.lstat().st_mtime)
            except FileNotFoundError:
                continue
    return changed


_tracked: contextvars.ContextVar[list[Path] | None] = contextvars.ContextVar("accord_job_scratch", default=None)


def track(path: Path) -> Path:
    """Note a scratch folder of the job under way (if any), so that it is removed when the job ends."""
    folders = _tracked.get()
    if folders is not None:
        folders.append(path)
    return path


@contextmanager
def removed_at_end() -> Iterator[None]:
    """Remove, when the block ends (also on errors), the scratch folders made within it and still there.

    A staging folder that was moved into place is no longer there; one left by a failure is."""
    if _tracked.get() is not None:  # a job within a job: the outer one cleans up
        yield
        return
    folders: list[Path] = []
    marker = _tracked.set(folders)
    try:
        yield
    finally:
        _tracked.reset(marker)
        for folder in folders:
            _remove(folder)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
