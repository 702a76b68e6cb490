"""Where the graphs of a sandbox are kept: the snapshot of the last full build, plus the updates since.

The full build writes `nodes.parquet` and `links.parquet` (`graph.py`). One-record updates
(`incremental.py`) write each group of identities they re-solve, whole, into `overlay.db` (SQLite,
one transaction per record). A reader takes an identity or a link from the overlay when it is there,
and from the snapshot otherwise; the next full build replaces both."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from accord.identity.solver import Link

OVERLAY_TABLES = """
CREATE TABLE IF NOT EXISTS nodes (node TEXT PRIMARY KEY, namespace TEXT NOT NULL, id TEXT NOT NULL,
    key INTEGER NOT NULL, graph INTEGER NOT NULL, raw INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nodes_graph ON nodes (graph);
CREATE INDEX IF NOT EXISTS nodes_raw ON nodes (raw);
CREATE TABLE IF NOT EXISTS links (a TEXT NOT NULL, b TEXT NOT NULL, a_key INTEGER NOT NULL, b_key INTEGER NOT NULL,
    first_seen TEXT, last_seen TEXT, records INTEGER NOT NULL, record TEXT, dataset TEXT, batch TEXT, rule TEXT,
    active INTEGER NOT NULL, dropped_by TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS links_b ON links (b);
CREATE TABLE IF NOT EXISTS applied (record TEXT PRIMARY KEY) WITHOUT ROWID;
"""

LINK_COLUMNS = ("a", "b", "a_key", "b_key", "first_seen", "last_seen", "records", "record", "dataset", "batch", "rule",
                "active", "dropped_by")  # fmt: skip


@dataclass(frozen=True)
class Node:
    node: str
    namespace: str
    id: str
    key: int
    graph: int
    raw: int


class GraphStore:
    """Read and update the stored graphs of one sandbox (a folder of the lake)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.nodes_file = folder / "nodes.parquet"
        self.links_file = folder / "links.parquet"
        self.overlay_file = folder / "overlay.db"
        self._shared: sqlite3.Connection | None = None

    @contextmanager
    def session(self) -> Iterator[None]:
        """Many reads and writes in one connection and one transaction (many records applied at once): all of
        them are stored, or none."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.overlay_file, timeout=30)) as db:
            db.executescript(OVERLAY_TABLES)
            with db:
                self._shared = db
                try:
                    yield
                finally:
                    self._shared = None

    def exists(self) -> bool:
        return self.nodes_file.exists() or self.overlay_file.exists()

    @contextmanager
    def _overlay(self, write: bool = False) -> Iterator[sqlite3.Connection | None]:
        if self._shared is not None:
            yield self._shared
            return
        if not write and not self.overlay_file.exists():
            yield None
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.overlay_file, timeout=30)) as db:
            if write:
                db.executescript(OVERLAY_TABLES)
            with db:  # one transaction
                yield db

    def _snapshot_nodes(self, filters: list[Any]) -> list[Node]:
        if not self.nodes_file.exists():
            return []
        table = pq.read_table(
            self.nodes_file, filters=filters, columns=["node", "namespace", "id", "key", "graph", "raw"]
        )
        return [
            Node(r["node"], r["namespace"], r["id"], r["key"], int(r["graph"]), r["raw"]) for r in table.to_pylist()
        ]

    def _overlay_nodes(self, db: sqlite3.Connection | None, where: str, values: list[Any]) -> list[Node]:
        if db is None:
            return []
        sql = "SELECT node, namespace, id, key, graph, raw FROM nodes WHERE " + where
        return [Node(*row) for row in db.execute(sql, (json.dumps(values),))]

    def _merge(self, db: sqlite3.Connection | None, overlay: list[Node], snapshot: list[Node]) -> list[Node]:
        """Overlay rows win; a snapshot row counts only when the overlay has not re-solved its identity."""
        if db is None or not snapshot:
            return overlay + snapshot
        names = [n.node for n in snapshot]
        sql = "SELECT node FROM nodes WHERE node IN (SELECT value FROM json_each(?))"
        replaced = {row[0] for row in db.execute(sql, (json.dumps(names),))}
        return overlay + [n for n in snapshot if n.node not in replaced]

    def node(self, node: str) -> Node | None:
        with self._overlay() as db:
            found = self._overlay_nodes(db, "node IN (SELECT value FROM json_each(?))", [node])
        if found:
            return found[0]
        snapshot = self._snapshot_nodes([("node", "=", node)])
        return snapshot[0] if snapshot else None

    def nodes_of(self, names: set[str]) -> dict[str, Node]:
        """The stored identities among these, by name (those not stored are left out)."""
        if not names:
            return {}
        with self._overlay() as db:
            overlay = self._overlay_nodes(db, "node IN (SELECT value FROM json_each(?))", sorted(names))
        found = {n.node: n for n in overlay}
        rest = sorted(names - set(found))
        if rest:
            found.update((n.node, n) for n in self._snapshot_nodes([("node", "in", rest)]))
        return found

    def members(self, graph: int) -> list[Node]:
        """The identities of one graph."""
        with self._overlay() as db:
            overlay = self._overlay_nodes(db, "graph IN (SELECT value FROM json_each(?))", [graph])
            return self._merge(db, overlay, self._snapshot_nodes([("graph", "=", str(graph))]))

    def members_of(self, graphs: set[int]) -> dict[int, list[Node]]:
        """The identities of many graphs, by graph."""
        if not graphs:
            return {}
        with self._overlay() as db:
            overlay = self._overlay_nodes(db, "graph IN (SELECT value FROM json_each(?))", sorted(graphs))
            snapshot = self._snapshot_nodes([("graph", "in", [str(g) for g in sorted(graphs)])])
            found: dict[int, list[Node]] = {}
            for node in self._merge(db, overlay, snapshot):
                found.setdefault(node.graph, []).append(node)
        return found

    def raw_members(self, raws: set[int]) -> list[Node]:
        """The identities of the groups that the links a user kept connect (before the linking rules)."""
        if not raws:
            return []
        with self._overlay() as db:
            overlay = self._overlay_nodes(db, "raw IN (SELECT value FROM json_each(?))", sorted(raws))
            return self._merge(db, overlay, self._snapshot_nodes([("raw", "in", sorted(raws))]))

    def links_touching(self, nodes: set[str]) -> list[Link]:
        """Every link with an end among these identities, active or not."""
        if not nodes:
            return []
        names = sorted(nodes)
        found: dict[tuple[str, str], Link] = {}
        if self.links_file.exists():
            table = pq.read_table(self.links_file, columns=list(LINK_COLUMNS),
                                  filters=[[("a", "in", names)], [("b", "in", names)]])  # fmt: skip
            for row in table.to_pylist():
                found[(row["a"], row["b"])] = Link(**row)
        with self._overlay() as db:
            if db is not None:
                sql = (f"SELECT {', '.join(LINK_COLUMNS)} FROM links WHERE a IN (SELECT value FROM json_each(?1)) "
                       "OR b IN (SELECT value FROM json_each(?1))")  # fmt: skip
                for row in db.execute(sql, (json.dumps(names),)):
                    values = dict(zip(LINK_COLUMNS, row, strict=True))
                    values["active"] = bool(values["active"])
                    for stamp in ("first_seen", "last_seen"):
                        values[stamp] = datetime.fromisoformat(values[stamp]) if values[stamp] else None
                    found[(values["a"], values["b"])] = Link(**values)
        return list(found.values())

    def applied_of(self, records: list[str]) -> set[str]:
        """Which of these records were applied already."""
        with self._overlay() as db:
            if db is None or not records:
                return set()
            sql = "SELECT record FROM applied WHERE record IN (SELECT value FROM json_each(?))"
            return {row[0] for row in db.execute(sql, (json.dumps(records),))}

    def mark_applied(self, records: list[str]) -> None:
        """Mark records applied that changed no group."""
        if records:
            with self._overlay(write=True) as db:
                assert db is not None
                db.executemany("INSERT OR IGNORE INTO applied VALUES (?)", [(r,) for r in records])

    def write(self, nodes: list[Node], links: list[Link], record: str) -> None:
        """Store one re-solved group and mark the record applied, in one transaction."""
        with self._overlay(write=True) as db:
            assert db is not None
            db.executemany("INSERT OR REPLACE INTO nodes VALUES (?, ?, ?, ?, ?, ?)",
                           [(n.node, n.namespace, n.id, n.key, n.graph, n.raw) for n in nodes])  # fmt: skip
            rows = [(x.a, x.b, x.a_key, x.b_key, _iso(x.first_seen), _iso(x.last_seen), x.records, x.record, x.dataset,
                     x.batch, x.rule, int(x.active), x.dropped_by) for x in links]  # fmt: skip
            db.executemany(f"INSERT OR REPLACE INTO links VALUES ({', '.join('?' * len(LINK_COLUMNS))})", rows)
            db.execute("INSERT OR IGNORE INTO applied VALUES (?)", (record,))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
