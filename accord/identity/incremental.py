"""One record at a time: updating the stored graphs as a new record arrives (streaming needs this).

A record's identities are linked to its first one, as in the full build. Only the group of
identities that the record touches (the raw components of its identities: what the links a user kept
connect) is solved again, by the same rules in the same order as the full build (`solver.py`), and
written back whole. A property-based test holds the result to a full rebuild from the lake."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from accord.catalog import resolve_sandbox
from accord.engine import connect, raw_connection
from accord.identity.graph import SAME_RECORD, SEPARATOR, graph_folder, identity_rows
from accord.identity.namespaces import namespaces
from accord.identity.removals import removed
from accord.identity.rules_config import get_rules
from accord.identity.solver import Link, mark_removed, solve
from accord.identity.store import GraphStore, Node
from accord.workspace import Workspace


@dataclass(frozen=True)
class IdentityRecord:
    """The identities of one record, and where and when it was seen."""

    record: str
    dataset: str
    batch: str
    seen: datetime
    identities: tuple[tuple[str, str], ...]


_hasher = threading.local()


def identity_keys(nodes: list[str]) -> dict[str, int]:
    """The 64-bit keys of identities, the same the full build computes in the engine.

    Lookups call this once each: every thread keeps one small DuckDB connection for it (opening one
    costs more than a whole lookup)."""
    con = getattr(_hasher, "con", None)
    if con is None:
        con = _hasher.con = raw_connection(threads=1)
    rows = con.execute("SELECT n, hash(n) FROM unnest($1::VARCHAR[]) t(n)", [nodes]).fetchall()
    return {node: value - (1 << 64) if value >= (1 << 63) else value for node, value in rows}


def add_record(workspace: Workspace, sandbox: str, record: IdentityRecord) -> dict[str, Any]:
    """Add one record's identities to the stored graphs; returns the record's graph, or nothing to do.

    Applying the same record twice changes nothing (delivery may repeat)."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        known = namespaces(session, sandbox_id)
        rules = get_rules(session, sandbox)
        removed_links, removed_nodes = removed(session, sandbox_id)
    types = {symbol: n.type.value for symbol, n in known.items()}
    pairs = sorted({(ns, value) for ns, value in record.identities if value and ns in known and known[ns].builds_graph})
    if not pairs:
        return {"record": record.record, "graphId": None, "identities": 0}
    store = GraphStore(graph_folder(workspace, sandbox_id))
    if store.applied(record.record):
        return {"record": record.record, "graphId": None, "identities": 0, "alreadyApplied": True}
    named = {f"{ns}{SEPARATOR}{value}": (ns, value) for ns, value in pairs}
    current = {name: store.node(name) for name in named}
    group = {n.node: n for n in store.raw_members({n.raw for n in current.values() if n is not None})}
    keys = identity_keys([name for name in named if name not in group])
    group.update({name: Node(name, *named[name], key, 0, 0) for name, key in keys.items()})
    links = {(x.a, x.b): x for x in store.links_touching(set(group))}
    anchor = min(named)
    for other in sorted(set(named) - {anchor}):
        links[(anchor, other)] = _seen_again(links.get((anchor, other)), group[anchor], group[other], record)
    marked = mark_removed(list(links.values()), {tuple(p) for p in removed_links}, set(removed_nodes))  # type: ignore[misc]
    raw, graph, solved = solve({n.key: n.namespace for n in group.values()}, marked, rules.unique,
                               workspace.settings.identity_graph_limit, types)  # fmt: skip
    nodes = [replace(n, graph=graph[n.key], raw=raw[n.key]) for n in group.values()]
    store.write(nodes, solved, record.record)
    return {"record": record.record, "graphId": str(graph[group[anchor].key]), "identities": len(group)}


def _seen_again(link: Link | None, a: Node, b: Node, record: IdentityRecord) -> Link:
    """A link between two identities of the record: new, or one more record for an existing one."""
    if link is None:
        return Link(a.node, b.node, a.key, b.key, record.seen, record.seen, 1, record.record, record.dataset,
                    record.batch, SAME_RECORD)  # fmt: skip
    first = link.first_seen is None or record.seen < link.first_seen
    return replace(
        link, records=link.records + 1,
        first_seen=record.seen if first else link.first_seen,
        last_seen=record.seen if link.last_seen is None or record.seen > link.last_seen else link.last_seen,
        record=record.record if first else link.record, dataset=record.dataset if first else link.dataset,
        batch=record.batch if first else link.batch,
    )  # fmt: skip


def records_of_batch(workspace: Workspace, sandbox: str, batch_id: str) -> list[IdentityRecord]:
    """The identity records of one committed batch, read from the lake (to replay it one record at a time)."""
    con = connect(workspace.settings)
    try:
        rows = identity_rows(workspace, con, sandbox)
        if rows is None:
            return []
        found = con.to_pyarrow(rows.filter(rows.batch == batch_id)).to_pylist()
    finally:
        con.disconnect()
    records: dict[str, IdentityRecord] = {}
    for row in found:
        current = records.get(row["record"])
        identities = (*(current.identities if current else ()), (row["namespace"], row["id"]))
        records[row["record"]] = IdentityRecord(row["record"], row["dataset"], row["batch"], row["seen"], identities)
    return sorted(records.values(), key=lambda r: r.record)
