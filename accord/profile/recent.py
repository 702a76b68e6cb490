"""The recent events of the profile event datasets, kept in memory between streaming micro-batches.

Streaming evaluation reads the events of the last day of each changed person (`lookup.recent_profiles`).
Read from the lake, each micro-batch's read scans every file of the event datasets: its cost grows with
the lake (a third of a micro-batch's time after half a minute of streaming). `RecentEvents` reads each
committed batch once, and keeps its events by their record's profile identity (the identity whose graph a
record feeds, `identity.profile_identities`): a person's events are then those kept under any of their
identities, as the graph has them now, which is what the lake read finds.

What it keeps is what the lake holds: at each refresh it reads the batches committed since (by any process:
streamed, or ingested from files), and it starts again from the lake when a batch it read is gone, or when
what decides a record's profile identity or the events' fields (namespaces, their ranks, the datasets, their
time-to-live, the fields asked for) changed. It keeps only the fields asked for, and no event older than
asked; past `most_rows` events it gives up, and the lake is read as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from accord.catalog import BatchRecord
from accord.engine import to_arrow
from accord.identity import SEPARATOR, profile_identities, record_identities
from accord.lake import open_dataset
from accord.workspace import Workspace

FORGET_EVERY = timedelta(minutes=10)
MOST_ROWS = 500_000
"""Events kept at most; past it, the lake is read instead."""


def since_filter(found: Any, since: Any, dataset_id: str) -> Any:
    """The events at or after their dataset's oldest time in `since` (a table of `dataset_id`, `oldest`; none
    listed: all). The time is read from a table, not written in the query, so that the query is the same
    at every call and compiles once (`engine.compiled`)."""
    oldest = since.filter(since.dataset_id == dataset_id).oldest.max().as_scalar()
    return found.filter((found.timestamp.cast("timestamp('UTC')") >= oldest) | oldest.isnull())


@dataclass
class RecentEvents:
    """See the module's docstring; one per sandbox, used by one thread (the streaming processor)."""

    fields: frozenset[str]
    most_rows: int = MOST_ROWS
    by_node: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Events by their record's profile identity (`namespace` U+001F `id`), each with `dataset` and `timestamp`."""
    batches: dict[str, int | None] = field(default_factory=dict)
    """The batches read, with their record counts then."""
    rows: int = 0
    state: Any = None
    """What the kept events depend on (see the module's docstring)."""
    gave_up: bool = False
    forgot: datetime | None = None
    """When `forget_before` last let events go."""

    def refresh(self, workspace: Workspace, sandbox: str, con: Any, known: dict[str, Any], ranks: dict[str, int],
                datasets: list[tuple[str, str, Any, int | None]], since: Any) -> bool:  # fmt: skip
        """Read the batches committed since the last refresh (their events at or after their dataset's oldest
        time in `since`, a table of the connection: `since_filter`); whether the kept events can be used."""
        events = [(d, n, s, t) for d, n, s, t in datasets if s.class_name != "profile"]
        state = (tuple(sorted(ranks.items())), tuple(sorted(known)), tuple((d, n, t) for d, n, _s, t in events),
                 tuple(sorted(self.fields)))  # fmt: skip
        with workspace.catalog.session() as session:
            query = select(BatchRecord.id, BatchRecord.dataset_id, BatchRecord.output_record_count).where(
                BatchRecord.dataset_id.in_([d for d, *_ in events]), BatchRecord.status == "success")  # fmt: skip
            committed = {batch: (dataset, count) for batch, dataset, count in session.execute(query)}
        # a batch gone, or rewritten (rows taken out of it: its count changed, its rows renumbered): read again
        if state != self.state or any(committed.get(b, (None, None))[1] != n for b, n in self.batches.items()):
            self.by_node, self.batches, self.rows, self.state, self.gave_up = {}, {}, 0, state, False
        if self.gave_up:
            return False
        for index, (dataset_id, name, schema, _ttl) in enumerate(events):
            new = {b for b, (d, _n) in committed.items() if d == dataset_id and b not in self.batches}
            if not new:
                continue
            table, _ = open_dataset(workspace, con, sandbox, name, provenance=True, batches=new,
                                    table_name=f"acc_recent_{index}")  # fmt: skip
            rows = record_identities(table, schema, dataset_id, known)
            if rows is not None:
                chosen = profile_identities(rows, ranks)
                keep = [c for c in table.columns if c in self.fields or c == "timestamp"]
                recent = since_filter(table, since, dataset_id)
                owned = recent.join(chosen, recent._acc_record == chosen.record).select(
                    *[recent[c] for c in keep], _acc_node=chosen.node)  # fmt: skip
                for row in to_arrow(con, owned).to_pylist():
                    node = row.pop("_acc_node")
                    row["dataset"] = name
                    self.by_node.setdefault(node, []).append(row)
                    self.rows += 1
            self.batches |= {b: committed[b][1] for b in new}
            if self.rows > self.most_rows:
                self.by_node, self.rows, self.gave_up = {}, 0, True
                return False
        return True

    def events(self, people: dict[int, list[tuple[str, str]]], oldest: dict[str, datetime], names: dict[str, str],
               newest: int) -> dict[int, list[dict[str, Any]]]:  # fmt: skip
        """Each graph's events kept under its identities, at or after their dataset's oldest time: of each
        dataset, the newest `newest`, as the lake read gives them."""
        since = {names[d]: t for d, t in oldest.items()}
        found: dict[int, list[dict[str, Any]]] = {}
        for graph, identities in people.items():
            by_dataset: dict[str, list[dict[str, Any]]] = {}
            for ns, value in identities:
                for e in self.by_node.get(f"{ns}{SEPARATOR}{value}", ()):
                    if e["timestamp"] is not None and e["timestamp"] >= since[e["dataset"]]:
                        by_dataset.setdefault(e["dataset"], []).append(e)
            mine: list[dict[str, Any]] = []
            for events in by_dataset.values():
                events.sort(key=lambda e: e["timestamp"], reverse=True)
                mine.extend(dict(e) for e in events[:newest])
            if mine:
                found[graph] = mine
        return found

    def forget_before(self, moment: datetime) -> None:
        """Let go of the events older than `moment` (no read asks for them any more); at most every
        `FORGET_EVERY` (it walks every event kept)."""
        if self.forgot is not None and moment - self.forgot < FORGET_EVERY:
            return
        self.forgot = moment
        for node in list(self.by_node):
            kept = [e for e in self.by_node[node] if e["timestamp"] is not None and e["timestamp"] >= moment]
            self.rows -= len(self.by_node[node]) - len(kept)
            if kept:
                self.by_node[node] = kept
            else:
                del self.by_node[node]
