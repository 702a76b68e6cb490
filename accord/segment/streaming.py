"""Streaming evaluation: when a profile changes, its streaming definitions are evaluated again.

Only definitions that can stream (attribute conditions, events within 24 hours: see `checker.py`)
are evaluated, each compiled once into Python closures. A profile's current memberships are read
from the last batch job's file (memory-mapped, found by binary search) and from the changes made
since by streaming (`stream.db`, SQLite); a change of status is written there and emitted as a
membership change event, in one transaction, for destinations to consume."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import select

from accord.catalog import SegmentDefinitionRecord, resolve_sandbox, utcnow
from accord.segment.definitions import resolved_tree
from accord.segment.evaluator import compile_python
from accord.workspace import Workspace

TABLES = """
CREATE TABLE IF NOT EXISTS memberships (graph INTEGER NOT NULL, segment TEXT NOT NULL, status TEXT NOT NULL,
    lastQualificationTime TEXT, exitedAt TEXT, PRIMARY KEY (graph, segment)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, graph INTEGER NOT NULL,
    segment TEXT NOT NULL, status TEXT NOT NULL, at TEXT NOT NULL);
"""


def overlay_file(workspace: Workspace, sandbox_id: str) -> Path:
    from accord.segment.jobs import segments_folder

    return segments_folder(workspace, sandbox_id) / "stream.db"


def read_overlay(path: Path) -> pa.Table:
    """The memberships streaming changed since the last batch job."""
    from accord.segment.jobs import MEMBERSHIP_SCHEMA

    if not path.exists():
        return MEMBERSHIP_SCHEMA.empty_table()
    with closing(sqlite3.connect(path)) as db:
        db.executescript(TABLES)
        rows = db.execute("SELECT graph, segment, status, lastQualificationTime, exitedAt FROM memberships").fetchall()
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [() for _ in MEMBERSHIP_SCHEMA.names]
    parsed = [list(columns[0]), list(columns[1]), list(columns[2]),
              [datetime.fromisoformat(v) if v else None for v in columns[3]],
              [datetime.fromisoformat(v) if v else None for v in columns[4]]]  # fmt: skip
    return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(parsed, MEMBERSHIP_SCHEMA, strict=True)],
                                schema=MEMBERSHIP_SCHEMA)  # fmt: skip


@dataclass(frozen=True)
class StreamingDefinition:
    id: str
    name: str
    qualifies: Callable[[dict[str, Any], datetime], bool]


class _Memberships:
    """The last batch job's memberships, memory-mapped and indexed by profile; reopened when replaced."""

    _lock = threading.Lock()
    _cache: dict[Path, tuple[int, _Memberships]] = {}

    def __init__(self, path: Path) -> None:
        self.table = pa.ipc.open_file(pa.memory_map(str(path))).read_all() if path.exists() else None
        self.graphs = self.table["graph"].to_numpy() if self.table is not None else np.array([], dtype=np.int64)

    @classmethod
    def open(cls, path: Path) -> _Memberships:
        stamp = path.stat().st_mtime_ns if path.exists() else 0
        with cls._lock:
            cached = cls._cache.get(path)
            if cached is None or cached[0] != stamp:
                cached = (stamp, cls(path))
                cls._cache[path] = cached
            return cached[1]

    def of(self, graph: int) -> dict[str, dict[str, Any]]:
        if self.table is None:
            return {}
        start, end = int(np.searchsorted(self.graphs, graph, "left")), int(np.searchsorted(self.graphs, graph, "right"))
        return {row["segment"]: row for row in self.table.slice(start, end - start).to_pylist()}


class StreamingEvaluator:
    """The streaming definitions of a sandbox, compiled once; `evaluate` handles one changed profile."""

    def __init__(self, workspace: Workspace, sandbox: str) -> None:
        from accord.segment.jobs import memberships_file

        self.workspace = workspace
        with workspace.catalog.session() as session:
            sandbox_id = resolve_sandbox(session, sandbox).id
            records = session.scalars(select(SegmentDefinitionRecord).where(
                SegmentDefinitionRecord.sandbox_id == sandbox_id,
                SegmentDefinitionRecord.streaming.is_(True)).order_by(SegmentDefinitionRecord.name))  # fmt: skip
            self.definitions = [
                StreamingDefinition(r.id, r.name, compile_python(resolved_tree(session, sandbox_id, r)))
                for r in records
            ]
        self.memberships_path = memberships_file(workspace, sandbox_id)
        self.overlay = overlay_file(workspace, sandbox_id)
        self.overlay.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.overlay, check_same_thread=False, timeout=30)
        self._db.executescript(TABLES)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._write = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def current(self, graph: int) -> dict[str, dict[str, Any]]:
        found = _Memberships.open(self.memberships_path).of(graph)
        for segment, status, qualified, exited in self._db.execute(
            "SELECT segment, status, lastQualificationTime, exitedAt FROM memberships WHERE graph = ?", (graph,)
        ):
            found[segment] = {"segment": segment, "status": status, "lastQualificationTime": qualified,
                              "exitedAt": exited}  # fmt: skip
        return found

    def evaluate(self, graph: int, profile: dict[str, Any], now: datetime | None = None) -> list[dict[str, Any]]:
        """Evaluate the streaming definitions on a changed profile; returns the membership change events."""
        moment = now or utcnow()
        current = self.current(graph)
        person = {**profile, "graph": graph}
        changes = []
        for definition in self.definitions:
            inside = definition.qualifies(person, moment)
            status = (current.get(definition.id) or {}).get("status")
            was_in = status in ("realized", "existing")
            if inside and not was_in:
                changes.append((definition, "realized"))
            elif was_in and not inside:
                changes.append((definition, "exited"))
        if not changes:
            return []
        stamp = moment.isoformat()
        events = []
        with self._write, self._db:
            for definition, status in changes:
                qualified = stamp if status == "realized" else (current.get(definition.id) or {}).get(
                    "lastQualificationTime")  # fmt: skip
                qualified = qualified.isoformat() if isinstance(qualified, datetime) else qualified
                exited = stamp if status == "exited" else None
                self._db.execute("INSERT OR REPLACE INTO memberships VALUES (?, ?, ?, ?, ?)",
                                 (graph, definition.id, status, qualified, exited))  # fmt: skip
                self._db.execute("INSERT INTO events (graph, segment, status, at) VALUES (?, ?, ?, ?)",
                                 (graph, definition.id, status, stamp))  # fmt: skip
                events.append({"graphId": str(graph), "segmentId": definition.id, "segment": definition.name,
                               "status": status, "at": stamp})  # fmt: skip
        return events


def profile_memberships(workspace: Workspace, sandbox: str, graph: int) -> dict[str, dict[str, Any]]:
    """A profile's memberships by segment name: the last batch job's, with streaming's changes since."""
    from accord.segment.jobs import memberships_file

    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        names = dict(session.execute(select(SegmentDefinitionRecord.id, SegmentDefinitionRecord.name).where(
            SegmentDefinitionRecord.sandbox_id == sandbox_id)).all())  # fmt: skip
    found = _Memberships.open(memberships_file(workspace, sandbox_id)).of(graph)
    path = overlay_file(workspace, sandbox_id)
    if path.exists():
        with closing(sqlite3.connect(path)) as db:
            db.executescript(TABLES)
            for segment, status, qualified, exited in db.execute(
                "SELECT segment, status, lastQualificationTime, exitedAt FROM memberships WHERE graph = ?", (graph,)
            ):
                found[segment] = {"status": status, "lastQualificationTime": qualified, "exitedAt": exited}
    out = {}
    for segment_id, row in found.items():
        if segment_id in names:  # a deleted segment's memberships are not shown
            stamp = row.get("lastQualificationTime")
            out[names[segment_id]] = {"id": segment_id, "status": row["status"], "lastQualificationTime":
                                      stamp.isoformat() if isinstance(stamp, datetime) else stamp}  # fmt: skip
    return dict(sorted(out.items()))


def membership_events(workspace: Workspace, sandbox: str, after: int = 0, limit: int = 1000) -> dict[str, Any]:
    """Membership change events emitted by streaming evaluation, oldest first, after an event id."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
    path = overlay_file(workspace, sandbox_id)
    if not path.exists():
        return {"items": [], "next": after}
    with closing(sqlite3.connect(path)) as db:
        db.executescript(TABLES)
        rows = db.execute("SELECT id, graph, segment, status, at FROM events WHERE id > ? ORDER BY id LIMIT ?",
                          (after, limit)).fetchall()  # fmt: skip
    items = [{"id": r[0], "graphId": str(r[1]), "segmentId": r[2], "status": r[3], "at": r[4]} for r in rows]
    return {"items": items, "next": items[-1]["id"] if items else after}
