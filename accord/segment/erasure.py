"""Erasing people from audience memberships (privacy deletes): every segment's file, the history of every job,
and what streaming evaluation changed since (`stream.db`) lose the rows of their profiles (graph ids).

A membership file is written again without them and renamed into place (`memberships.write`), as a job
writes it; a history file likewise, keeping its job's time and segment. The streaming overlay's rows go
with a secure delete, then the file is compacted (`accord.secure_delete`). The caller holds the sandbox's
lock: segment jobs, which replace these files, do not run meanwhile."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from accord.catalog import resolve_sandbox
from accord.home import write_whole
from accord.secure_delete import compact, securely
from accord.segment import memberships
from accord.segment.jobs import segments_folder
from accord.segment.streaming import TABLES, overlay_file

if TYPE_CHECKING:
    from accord.workspace import Workspace


@dataclass
class MembershipsErased:
    memberships: int = 0
    history: int = 0
    streaming: int = 0
    """Rows of the streaming overlay (current memberships and change events)."""
    log_emptied: bool = True
    """Whether the overlay's write-ahead log was emptied (a reader holding it open keeps it)."""

    def to_document(self) -> dict[str, Any]:
        return {"memberships": self.memberships, "history": self.history, "streaming": self.streaming}


def forget_memberships(workspace: Workspace, sandbox: str, graphs: set[int]) -> MembershipsErased:
    """Take the rows of these profiles out of every membership file, history file and the streaming overlay."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
    folder = segments_folder(workspace, sandbox_id)
    erased = MembershipsErased()
    if not graphs:
        return erased
    doomed = pa.array(sorted(graphs), pa.int64())
    for path in sorted((folder / "memberships").glob("*.arrow")):
        table = memberships.read(path)
        if table is None:
            continue
        gone = pc.is_in(table["graph"], value_set=doomed)
        count = int(pc.sum(gone).as_py() or 0)
        if count:
            kept = memberships.Arrays.of_table(table.filter(pc.invert(gone)))
            memberships.write(path, kept)
            erased.memberships += count
    for path in sorted((folder / "history").glob("*/*.arrow")):
        erased.history += _without(path, doomed)
    overlay = overlay_file(workspace, sandbox_id)
    if overlay.exists():
        erased.streaming, erased.log_emptied = _overlay_without(overlay, sorted(graphs))
    return erased


def _without(path: Path, doomed: pa.Array) -> int:
    """A history file without the rows of these profiles, renamed into place; how many rows left it."""
    table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    gone = pc.is_in(table["graph"], value_set=doomed)
    count = int(pc.sum(gone).as_py() or 0)
    if not count:
        return 0
    kept = table.filter(pc.invert(gone))
    options = pa.ipc.IpcWriteOptions(compression="lz4")

    def write(partial: Path) -> None:
        with pa.OSFile(str(partial), "wb") as sink, pa.ipc.new_file(sink, table.schema, options=options) as writer:
            writer.write_table(kept)

    write_whole(path, write)
    return count


def _overlay_without(path: Path, graphs: list[int]) -> tuple[int, bool]:
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as db:
        db.executescript(TABLES)
        listed = json.dumps(graphs)
        with securely(db):
            db.execute("BEGIN IMMEDIATE")
            removed = db.execute("DELETE FROM memberships WHERE graph IN (SELECT value FROM json_each(?))",
                                 (listed,)).rowcount  # fmt: skip
            removed += db.execute("DELETE FROM events WHERE graph IN (SELECT value FROM json_each(?))",
                                  (listed,)).rowcount  # fmt: skip
            db.execute("COMMIT")
        return removed, compact(db) if removed else True


def memberships_of(workspace: Workspace, sandbox: str, graphs: set[int]) -> dict[str, Any]:
    """A person's memberships (by segment name, as lookups give them) and their history, per profile."""
    from accord.segment.jobs import history
    from accord.segment.streaming import profile_memberships

    return {str(graph): {"memberships": profile_memberships(workspace, sandbox, graph),
                         "history": history(workspace, sandbox, graph)} for graph in sorted(graphs)}  # fmt: skip
