"""One record at a time: updating the stored graphs as a new record arrives (streaming needs this).

A record's identities are linked to its first one, as in the full build. Only the group of
identities that the record touches (the raw components of its identities: what the links a user kept
connect) is solved again, by the same rules in the same order as the full build (`solver.py`), and
written back whole. A property-based test holds the result to a full rebuild from the lake."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from accord.catalog import resolve_sandbox
from accord.engine import connect, to_arrow
from accord.identity.graph import SAME_RECORD, SEPARATOR, graph_folder, identity_rows
from accord.identity.namespaces import namespaces
from accord.identity.records import MAP_PRIMARY, OTHER, choose_profile_identity
from accord.identity.removals import removed
from accord.identity.rules import local_engine, normalize_identities
from accord.identity.rules_config import get_rules, namespace_ranks
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
    primary: tuple[str, str] | None = None
    """The identity the record names as its primary one, if any (its schema's primary identity field,
    else an identityMap entry marked primary): the record feeds its graph (`records.py`)."""


def identity_keys(nodes: list[str]) -> dict[str, int]:
    """The 64-bit keys of identities, the same the full build computes in the engine."""
    rows = local_engine().execute("SELECT n, hash(n) FROM unnest($1::VARCHAR[]) t(n)", [nodes]).fetchall()
    return {node: value - (1 << 64) if value >= (1 << 63) else value for node, value in rows}


def add_record(workspace: Workspace, sandbox: str, record: IdentityRecord) -> dict[str, Any]:
    """Add one record's identities to the stored graphs; returns the graph the record feeds (its profile
    identity's, `records.py`), or nothing to do. Identities are normalised as ingestion would.

    Applying the same record twice changes nothing (delivery may repeat)."""
    return add_records(workspace, sandbox, [record])[0]


def add_records(workspace: Workspace, sandbox: str, records: Sequence[IdentityRecord]) -> list[dict[str, Any]]:
    """`add_record` for many records, in their order, as one change of the stored graphs: the sandbox's
    namespaces, rules and removals read once, every identity normalised and keyed in one query per
    namespace, and every group written in one transaction."""
    if not records:
        return []
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        known = namespaces(session, sandbox_id)
        rules = get_rules(session, sandbox)
        removed_links, removed_nodes = removed(session, sandbox_id)
    context = _Context(known, rules, {tuple(p) for p in removed_links}, set(removed_nodes),  # type: ignore[misc]
                       {symbol: n.type.value for symbol, n in known.items()}, namespace_ranks(rules.priority, known),
                       workspace.settings.identity_graph_limit)  # fmt: skip
    asked: list[tuple[Any, str]] = []
    spans = []
    for record in records:
        named_primary = [record.primary] if record.primary and record.primary[0] in known else []
        kept = [p for p in record.identities if p[1] and p[0] in known and known[p[0]].builds_graph]
        spans.append((len(asked), len(named_primary), len(named_primary) + len(kept)))
        asked += [(known[ns], value) for ns, value in named_primary + kept]
    typed = normalize_identities(asked)
    keys = identity_keys(sorted({f"{t.namespace}{SEPARATOR}{t.id}" for t in typed if t.id}))
    store = GraphStore(graph_folder(workspace, sandbox_id))
    with store.session():
        # Most streamed records (events) carry one identity the graph knows already: such a record links
        # nothing and changes no group, so it is only marked applied. What is known is read for all at once.
        singles = set()
        for start, primaries, size in spans:
            names = {f"{t.namespace}{SEPARATOR}{t.id}" for t in typed[start + primaries : start + size] if t.id}
            if len(names) == 1:
                singles |= names
        state = _State(store.applied_of([r.record for r in records]), store.nodes_of(singles))
        fed = [_add(store, context, state, record, typed[start : start + size], primaries, keys)
               for record, (start, primaries, size) in zip(records, spans, strict=True)]  # fmt: skip
        store.mark_applied(state.marked)
        return fed


@dataclass(frozen=True)
class _Context:
    known: dict[str, Any]
    rules: Any
    removed_links: set[tuple[str, str]]
    removed_nodes: set[str]
    types: dict[str, str]
    ranks: dict[str, int]
    limit: int


@dataclass
class _State:
    """What one `add_records` call knows as it goes: the records applied, and the known identities that
    records of one identity name (kept true as groups are written)."""

    applied: set[str]
    nodes: dict[str, Node]
    marked: list[str] = field(default_factory=list)
    """Records that changed nothing, to be marked applied at the end, in the same transaction."""


def _add(store: GraphStore, context: _Context, state: _State, record: IdentityRecord, typed: list[Any],
         primaries: int, keys: dict[str, int]) -> dict[str, Any]:  # fmt: skip
    primary = typed[0].pair if primaries else None
    pairs = sorted({t.pair for t in typed[primaries:] if t.id})
    if not pairs:
        return {"record": record.record, "graphId": None, "identities": 0}
    candidates = [(MAP_PRIMARY if pair == primary else OTHER, *pair) for pair in pairs]
    namespace, value = choose_profile_identity(candidates, context.ranks)
    fed_name = f"{namespace}{SEPARATOR}{value}"
    if record.record in state.applied:  # the graph it feeds now, for a caller that finishes what it began
        fed_now = state.nodes.get(fed_name) or store.node(fed_name)
        return {"record": record.record, "graphId": str(fed_now.graph) if fed_now else None, "identities": 0,
                "alreadyApplied": True}  # fmt: skip
    state.applied.add(record.record)
    if len(pairs) == 1 and fed_name in state.nodes:  # one identity, known: no link, no group changes
        state.marked.append(record.record)
        return {"record": record.record, "graphId": str(state.nodes[fed_name].graph), "identities": 0}
    named = {f"{ns}{SEPARATOR}{value}": (ns, value) for ns, value in pairs}
    current = {name: store.node(name) for name in named}
    group = {n.node: n for n in store.raw_members({n.raw for n in current.values() if n is not None})}
    group.update({name: Node(name, *named[name], keys[name], 0, 0) for name in named if name not in group})
    links = {(x.a, x.b): x for x in store.links_touching(set(group))}
    anchor = min(named)
    for other in sorted(set(named) - {anchor}):
        links[(anchor, other)] = _seen_again(links.get((anchor, other)), group[anchor], group[other], record)
    marked = mark_removed(list(links.values()), context.removed_links, context.removed_nodes)  # type: ignore[arg-type]
    raw, graph, solved = solve({n.key: n.node for n in group.values()}, marked, context.rules.unique,
                               context.limit, context.types)  # fmt: skip
    nodes = [replace(n, graph=graph[n.key], raw=raw[n.key]) for n in group.values()]
    store.write(nodes, solved, record.record)
    state.nodes.update((n.node, n) for n in nodes)
    fed = group[fed_name]
    return {"record": record.record, "graphId": str(graph[fed.key]), "identities": len(group)}


def _seen_again(link: Link | None, a: Node, b: Node, record: IdentityRecord) -> Link:
    """A link between two identities of the record: new, or one more record for an existing one."""
    if link is None:
        return Link(a.node, b.node, a.key, b.key, record.seen, record.seen, 1, record.record, record.dataset,
                    record.batch, SAME_RECORD)  # fmt: skip
    # The first record is the earliest seen, then the smallest record id (as the full build's `record_links`)
    first = link.first_seen is None or (record.seen, record.record) < (link.first_seen, link.record)
    return replace(
        link, records=link.records + 1,
        first_seen=record.seen if first else link.first_seen,
        last_seen=record.seen if link.last_seen is None or record.seen > link.last_seen else link.last_seen,
        record=record.record if first else link.record, dataset=record.dataset if first else link.dataset,
        batch=record.batch if first else link.batch,
    )  # fmt: skip


def records_of_batch(workspace: Workspace, sandbox: str, batch_id: str) -> list[IdentityRecord]:
    """The identity records of one committed batch, read from the lake (to replay it one record at a time)."""
    with workspace.catalog.session() as session:
        ranks = namespace_ranks(get_rules(session, sandbox).priority, namespaces(session, resolve_sandbox(
            session, sandbox).id))  # fmt: skip
    con = connect(workspace.settings)
    try:
        rows = identity_rows(workspace, con, sandbox, batch_id)
        if rows is None:
            return []
        found = to_arrow(con, rows).to_pylist()
    finally:
        con.disconnect()
    marks: dict[str, list[tuple[int, str, str]]] = {}
    for row in found:
        marks.setdefault(row["record"], []).append((row["primary"], row["namespace"], row["id"]))
    records = []
    for row in {row["record"]: row for row in found}.values():
        marked = marks[row["record"]]
        named = [m for m in marked if m[0] != OTHER]
        primary = choose_profile_identity(named, ranks) if named else None
        identities = tuple((namespace, value) for _mark, namespace, value in marked)
        records.append(IdentityRecord(row["record"], row["dataset"], row["batch"], row["seen"], identities, primary))
    return sorted(records, key=lambda r: r.record)


def graph_identities(workspace: Workspace, sandbox: str, graphs: set[int]) -> dict[int, list[tuple[str, str]]]:
    """The identities (namespace, id) of each of these graphs, as stored now (snapshot and updates)."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
    found = GraphStore(graph_folder(workspace, sandbox_id)).members_of(graphs)
    return {graph: [(n.namespace, n.id) for n in found.get(graph, [])] for graph in graphs}
