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


def owner_of(name: str) -> Owner | None:
    """The owner a scratch name says, or None for a name that is not one."""
    parts = name.rsplit(SEPARATOR, 3)
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    return Owner(int(parts[1]), parts[2])


def sweep(root: Path, stale_seconds: float) -> list[Path]:
    """Remove what dead processes of this host left under `root`; returns what was removed.

    Entries that name no owner (an older Accord wrote them) are removed once nothing has touched them
    for `stale_seconds`. Entries of other hosts are left to their own host."""
    removed: list[Path] = []
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        return removed
    now = time.time()
    for entry in entries:
        owner = owner_of(entry.name)
        try:
            doomed = owner.gone if owner is not None else now - entry.lstat().st_mtime > stale_seconds
        except FileNotFoundError:  # its owner removed it meanwhile
            continue
        if doomed:
            _remove(entry)
            removed.append(entry)
    return removed


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
