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
from sqlalchemy import select

from accord.catalog import SegmentDefinitionRecord, resolve_sandbox, utcnow
from accord.errors import NotFoundError
from accord.segment.computed_streaming import ComputedFold
from accord.segment.definitions import resolved_tree, segment_names
from accord.segment.evaluator import compile_python
from accord.segment.memberships import NONE, STATUSES, Arrays, MembershipFiles, micros
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


def overlay_changes(workspace: Workspace, sandbox_id: str) -> dict[str, Arrays]:
    """The memberships streaming changed since the last batch job, by segment id."""
    path = overlay_file(workspace, sandbox_id)
    if not path.exists():
        return {}
    with closing(sqlite3.connect(path)) as db:
        db.executescript(TABLES)
        rows = db.execute("SELECT segment, graph, status, lastQualificationTime, exitedAt FROM memberships "
                          "ORDER BY segment, graph").fetchall()  # fmt: skip
    grouped: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row[1:])

    def stamp(value: str | None) -> int:
        return micros(datetime.fromisoformat(value)) if value else int(NONE)

    return {segment: Arrays(np.array([r[0] for r in found], np.int64),
                            np.array([STATUSES.index(r[1]) for r in found], np.int8),
                            np.array([stamp(r[2]) for r in found], np.int64),
                            np.array([stamp(r[3]) for r in found], np.int64))
            for segment, found in grouped.items()}  # fmt: skip


@dataclass(frozen=True)
class StreamingDefinition:
    id: str
    name: str
    qualifies: Callable[[dict[str, Any], datetime], bool]


class StreamingEvaluator:
    """The streaming definitions of a sandbox, compiled once; `evaluate` handles one changed profile."""

    def __init__(self, workspace: Workspace, sandbox: str) -> None:
        from accord.segment.jobs import paths_read, segments_folder

        self.workspace = workspace
        with workspace.catalog.session() as session:
            sandbox_id = resolve_sandbox(session, sandbox).id
            records = session.scalars(select(SegmentDefinitionRecord).where(
                SegmentDefinitionRecord.sandbox_id == sandbox_id,
                SegmentDefinitionRecord.streaming.is_(True)).order_by(SegmentDefinitionRecord.name))  # fmt: skip
            trees = [(r.id, r.name, resolved_tree(session, sandbox_id, r)) for r in records]
        self.definitions = [StreamingDefinition(id_, name, compile_python(tree)) for id_, name, tree in trees]
        paths: dict[str, set[str]] = {"profile": set(), "event": set()}
        self.reads_events = any([paths_read(tree, paths) for _id, _name, tree in trees])
        """Whether a definition reads the events (else a changed profile's events need not be read)."""
        fold = ComputedFold(workspace, sandbox)
        self.computed = fold if fold.reads(paths["profile"]) else None
        """Computed attributes the definitions read, brought up to date from each changed profile's events."""
        if self.computed is not None:
            self.reads_events = True
        self.event_columns = frozenset(path.split(".")[0] for path in paths["event"] | {"timestamp"}) | (
            self.computed.event_columns if self.computed is not None else frozenset())  # fmt: skip
        """The events' top-level fields the definitions read (the others need not be read)."""
        self.files = MembershipFiles(segments_folder(workspace, sandbox_id))
        self.segment_ids = [d.id for d in self.definitions]
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
        found = self.files.of(graph, self.segment_ids)
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
        if self.computed is not None:
            profile = self.computed.apply(graph, profile, moment)
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
    from accord.segment.jobs import segments_folder

    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        names = segment_names(session, sandbox_id)
    found = MembershipFiles(segments_folder(workspace, sandbox_id)).of(graph, list(names))
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


def evaluate_changed_profile(workspace: Workspace, sandbox: str, namespace: str, identity: str) -> dict[str, Any]:
    """A profile changed: evaluate the streaming segments on it now (looked up by any identity)."""
    from accord.profile import get_profile

    found = get_profile(workspace, sandbox, namespace, identity, events_limit=1000)
    if found["graphId"] is None:
        raise NotFoundError(f"{namespace}:{identity} is in no identity graph yet: build them first",
                            code="SEGMENT-0414-404")  # fmt: skip
    evaluator = StreamingEvaluator(workspace, sandbox)
    try:
        changes = evaluator.evaluate(int(found["graphId"]), {"attributes": found["attributes"],
                                                            "events": found["events"]["items"]})  # fmt: skip
        return {"graphId": found["graphId"], "evaluated": [d.name for d in evaluator.definitions], "changes": changes}
    finally:
        evaluator.close()
