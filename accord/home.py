"""Accord's home: a folder, kept readable by its owner only.

Kept apart from the workspace, which imports the catalog's ORM, so that the list commands' quick
path (`accord.catalog.reading`) checks and protects the home as every other command does."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accord.errors import InvalidInputError

if TYPE_CHECKING:
    from accord.settings import Settings


def check_home(settings: Settings) -> None:
    """The home, if it exists, is a folder (a file named as the home is a typo worth saying)."""
    if settings.home.exists() and not settings.home.is_dir():
        raise InvalidInputError(f"Accord's home {settings.home} is a file, not a folder: give --home or "
                                "ACCORD_HOME a folder", code="ACCORD-0011-400", path=str(settings.home))  # fmt: skip


OWNER_ONLY = 0o077
"""The umask Accord works under: what it creates is readable by its owner only (0700 folders, 0600 files)."""


def protect(settings: Settings) -> None:
    """Keep the home (and a lake outside it) readable by the owner only, whatever the caller's umask.

    The umask is set for the whole process: the engine (Parquet, spill files) and SQLite (the
    catalog's -wal and -shm files) create files themselves, out of reach of a chmod. A home made by
    an older Accord, or under a wider umask, is tightened once: everything under it loses its group
    and other permission bits, then the home itself becomes 0700."""
    os.umask(OWNER_ONLY)
    for folder in {settings.home, Path(settings.lake_url.removeprefix("file://"))}:
        _tighten(folder.expanduser())


def _tighten(folder: Path) -> None:
    try:
        mode = folder.stat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode) or not mode & OWNER_ONLY:
        return
    for parent, folders, files in os.walk(folder):
        for name in folders + files:
            path = os.path.join(parent, name)
            # another process may remove a file meanwhile; another user's file is not ours to change
            with contextlib.suppress(FileNotFoundError, PermissionError):
                entry = os.lstat(path)
                if not stat.S_ISLNK(entry.st_mode) and entry.st_mode & OWNER_ONLY:
                    os.chmod(path, stat.S_IMODE(entry.st_mode) & ~OWNER_ONLY)
    os.chmod(folder, stat.S_IMODE(mode) & ~OWNER_ONLY)


def write_whole(path: Path, write: Callable[[Path], Any]) -> None:
    """A file under the home written under a hidden name beside it by `write`, then renamed over `path`: another
    process reads the old file or the new one, never half of one; a failed write is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
