"""The deterministic identity graph: identities seen in the same record are linked.

Built as a pipeline of named steps over the lake, in the engine:
1. `identity_rows`: every identity of every record of the profile-enabled datasets (identity
   descriptors and identityMap), with the record's dataset, batch and time; namespaces of
   non-people and partner ids build no graph and are left out;
2. `record_links`: within a record, each identity is linked to the record's first one, and each
   link keeps why it exists (first and last record, dataset, batch, time, rule);
3. `components`: graphs are the connected components of the links (label propagation);
4. `apply_unique_rule`: a graph holds at most one identity of each unique namespace;
5. `apply_graph_limit`: a graph holds at most so many identities;
(every tie broken by a total order, the same as the one-record solver's: `solver.py`, docs/identity.md)
6. `record_graphs`: the one graph each record with several identities feeds, its profile identity's
   (`records.py`; the profile store is built on it);
then the nodes, links and record graphs are written to the lake in one swap. Lookups and
explanations read them, with the one-record updates since (`store.py`, `incremental.py`)."""

from __future__ import annotations

import shutil
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
from sqlalchemy import select

from accord.catalog import BatchRecord, DatasetRecord, resolve_sandbox
from accord.engine import connect, copy_to_parquet, values_table
from accord.errors import NotFoundError
from accord.identity.namespaces import SEPARATOR, namespaces
from accord.identity.records import profile_identities, record_identities
from accord.identity.removals import removed
from accord.identity.rules import resolve_identity
from accord.identity.rules_config import get_rules, namespace_ranks
from accord.identity.solver import TYPE_EVICTION_ORDER, Link, eviction_order, unique_rule_order
from accord.identity.store import GraphStore
from accord.jobs import ensure_held
from accord.lake import open_dataset, replace_folder, sandbox_job
from accord.schema import resolve_schema_by_id
from accord.workspace import Workspace

SAME_RECORD = "same record"


@dataclass(frozen=True)
class GraphSummary:
    identities: int
    links: int
    graphs: int
    largest: int
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)
    """Seconds per step of the build."""

    def to_document(self) -> dict[str, Any]:
        steps = {k: round(v, 3) for k, v in self.steps.items()}
        return {"identities": self.identities, "links": self.links, "graphs": self.graphs, "largest": self.largest,
                "seconds": round(self.seconds, 3), "steps": steps}  # fmt: skip


class _Laps:
    """Seconds spent in each step, for the summary."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self._last = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.steps[step] = self.steps.get(step, 0.0) + now - self._last
        self._last = now


def graph_folder(workspace: Workspace, sandbox_id: str) -> Path:
    return workspace.lake.root / sandbox_id / "identity"


BATCH_TIMES = "acc_batch_times"


def identity_rows(workspace: Workspace, con: Any, sandbox: str, batch: str | None = None) -> ir.Table | None:
    """Step 1: (record, dataset, batch, seen, single, namespace, id, primary) for every identity of every
    record (`records.record_identities`); `seen` is an event's time, or when a profile record's batch
    was committed. With `batch`, the records of that batch only (only its files are read)."""
    parts: list[ir.Table] = []
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        known = namespaces(session, sandbox_id)
        query = select(DatasetRecord).where(DatasetRecord.sandbox_id == sandbox_id,
                                            DatasetRecord.profile_enabled.is_(True))  # fmt: skip
        committed = select(BatchRecord).where(BatchRecord.sandbox_id == sandbox_id, BatchRecord.status == "success")
        if batch is not None:
            query = query.where(DatasetRecord.id == select(BatchRecord.dataset_id).where(
                BatchRecord.id == batch).scalar_subquery())  # fmt: skip
            committed = committed.where(BatchRecord.id == batch)
        datasets = list(session.scalars(query))
        plans = [(d.name, d.id, resolve_schema_by_id(session, d.schema_id)) for d in datasets]
        times = {b.id: b.completed_at for b in session.scalars(committed)}
    if not times:
        return None
    # the tables are named alike in every call (the connection is the caller's own), so that the reads of one
    # batch after another compile alike (`engine.compiled`)
    batch_times = values_table(con, BATCH_TIMES, {"batch_id": ("VARCHAR", list(times)), "completed": (
        "VARCHAR", [t.isoformat() if t else None for t in times.values()])})  # fmt: skip
    for index, (name, dataset_id, schema) in enumerate(plans):
        table, _ = open_dataset(workspace, con, sandbox, name, provenance=True, table_name=f"acc_lake_{index}",
                                batches=None if batch is None else set(times))  # fmt: skip
        # only the columns identities come from: the expression (and its compilation) stays small
        needed = {d.path.split(".")[0] for d in schema.identities} | {"identityMap", "timestamp", "_acc_batch",
                                                                      "_acc_record"}  # fmt: skip
        table = table.select(*[c for c in table.columns if c in needed])
        table = table.join(batch_times, table._acc_batch == batch_times.batch_id, how="left")
        seen = (table.timestamp if schema.class_name == "experienceevent" and "timestamp" in table.columns
                else table.completed.cast("timestamp('UTC')"))  # fmt: skip
        rows = record_identities(table, schema, dataset_id, known, seen)
        if rows is not None:
            parts.append(rows)
    if not parts:
        return None
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def record_links(rows: ir.Table) -> ir.Table:
    """Step 2: links between identities of one record, with the reason each exists."""
    keyed = rows.mutate(node=rows.namespace.concat(SEPARATOR, rows.id))
    anchored = keyed.mutate(anchor=keyed.node.min().over(group_by=keyed.record))
    pairs = anchored.filter(anchored.node != anchored.anchor)
    links = pairs.group_by(a=pairs.anchor, b=pairs.node).aggregate(
        first_seen=pairs.seen.min(), last_seen=pairs.seen.max(), records=pairs.record.nunique())  # fmt: skip
    # The first record: the earliest seen, then the smallest id. Found by joins rather than by an argmin
    # over a (seen, record) struct, whose per-link states the engine cannot spill (out of memory at 3M people)
    earliest = pairs.join(links, [pairs.anchor == links.a, pairs.node == links.b,
                                  (pairs.seen == links.first_seen) | links.first_seen.isnull()])  # fmt: skip
    chosen = earliest.group_by(ca=earliest.a, cb=earliest.b).aggregate(record=earliest.record.min())
    origin = pairs.join(chosen, [pairs.anchor == chosen.ca, pairs.node == chosen.cb, pairs.record == chosen.record])
    origin = origin.group_by(oa=origin.ca, ob=origin.cb).aggregate(record=origin.record.min(),
                                                                   dataset=origin.dataset.min(),
                                                                   batch=origin.batch.min())  # fmt: skip
    joined = links.join(origin, [links.a == origin.oa, links.b == origin.ob])
    return joined.select(a=links.a, b=links.b, first_seen=links.first_seen, last_seen=links.last_seen,
                         records=links.records, record=origin.record, dataset=origin.dataset, batch=origin.batch,
                         rule=ibis.literal(SAME_RECORD))  # fmt: skip


def mark_removed(links: ir.Table, removed_links: list[tuple[str, str]], removed_nodes: list[str]) -> ir.Table:
    """Step 2b: links a user removed (or that touch an identity a user removed) no longer count."""
    pairs = [f"{a}{SEPARATOR}{SEPARATOR}{b}" for a, b in removed_links]
    pair = ibis.least(links.a, links.b).concat(SEPARATOR, SEPARATOR, ibis.greatest(links.a, links.b))
    by_link = pair.isin(pairs) if pairs else ibis.literal(False)
    by_node = (links.a.isin(removed_nodes) | links.b.isin(removed_nodes)) if removed_nodes else ibis.literal(False)
    reason = ibis.cases((by_link, "removed by a user"), (by_node, "identity removed by a user"),
                        else_=ibis.null().cast("string"))  # fmt: skip
    return links.mutate(active=~(by_link | by_node), dropped_by=reason)


def components(con: Any, nodes: ir.Table, links: ir.Table, max_rounds: int = 100) -> ir.Table:
    """Step 3: the graph of each node, the smallest node key of its component (label propagation).

    It runs on 64-bit keys of the identities (hashes): joins on integers are several times faster
    than on text, and 4 million identities collide with a probability of about 4 in 10 million."""
    both = links.select(src=links.a_key, dst=links.b_key).union(links.select(src=links.b_key, dst=links.a_key))
    # A fresh connection per build: every step gets its own table (ibis' overwrite is not needed).
    edges = con.create_table("_graph_edges", both)
    # Only identities with links take part; the others are graphs of their own
    linked = edges.select(node=edges.src).distinct()
    labels = con.create_table("_graph_labels_0", linked.select(node=linked.node, label=linked.node))
    for round_number in range(1, max_rounds + 1):
        neighbour = edges.join(labels, edges.dst == labels.node).group_by(node=edges.src).aggregate(
            best=labels.label.min())  # fmt: skip
        joined = labels.join(neighbour, labels.node == neighbour.node)
        smaller = ibis.ifelse(neighbour.best < labels.label, neighbour.best, labels.label)
        updated = con.create_table(f"_graph_labels_{round_number}", joined.select(
            node=labels.node, label=smaller, changed=(neighbour.best < labels.label).cast("int8")))  # fmt: skip
        labels = updated.select("node", "label")
        if not con.execute(updated.changed.sum()):
            break
    alone = nodes.anti_join(labels, nodes.key == labels.node)
    return con.create_table("_graph_labels", labels.union(alone.select(node=alone.key, label=alone.key)))


def apply_unique_rule(
    con: Any, nodes: ir.Table, links: ir.Table, labels: ir.Table, unique: tuple[str, ...]
) -> tuple[ir.Table, ir.Table]:
    """Step 4: no graph may hold two identities of a unique namespace; the most recent links win.

    Only the graphs that break the rule (found in the engine) are solved again, in Python: their
    links are taken in `unique_rule_order` (most recent first, ties by the identities' names) into a
    union-find that refuses any merge putting two identities of one unique namespace together.
    Refused links stay, marked inactive with why."""
    active = links
    if not unique:
        return labels, active
    tagged = nodes.join(labels, nodes.key == labels.node).select(key=nodes.key, namespace=nodes.namespace,
                                                                 node=nodes.node, label=labels.label)  # fmt: skip
    holders = tagged.filter(tagged.namespace.isin(list(unique)))
    counts = holders.group_by(["label", "namespace"]).aggregate(n=holders.count())
    broken = counts.filter(counts.n > 1).select("label").distinct()
    if con.execute(broken.count()) == 0:
        return labels, active
    in_broken = con.create_table("_graph_broken", tagged.join(broken, "label").select("key", "namespace"))
    members = in_broken.to_pyarrow()
    involved = links.filter(links.active).join(in_broken, links.a_key == in_broken.key)
    involved_links = involved.select(links.a_key, links.b_key, links.a, links.b, links.first_seen,
                                     links.last_seen).to_pyarrow().to_pylist()  # fmt: skip
    namespace_of = dict(zip(members["key"].to_pylist(), members["namespace"].to_pylist(), strict=True))
    parent = {key: key for key in namespace_of}
    held: dict[int, dict[str, int]] = {k: ({ns: k} if ns in unique else {}) for k, ns in namespace_of.items()}

    def find(key: int) -> int:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    dropped: list[dict[str, Any]] = []
    in_order = sorted(involved_links, key=lambda x: unique_rule_order(x["last_seen"], x["first_seen"], x["a"], x["b"]))
    for link in in_order:
        left, right = find(link["a_key"]), find(link["b_key"])
        if left == right:
            continue
        clash = next((ns for ns in held[left] if ns in held[right] and held[left][ns] != held[right][ns]), None)
        if clash is not None:
            dropped.append({"a_key": link["a_key"], "b_key": link["b_key"], "dropped_by": f"unique namespace {clash}"})
            continue
        parent[right] = left
        held[left] = held[left] | held.pop(right)
    roots: dict[int, int] = {}
    for key in namespace_of:
        root = find(key)
        roots[root] = min(roots.get(root, key), key)
    repaired = ibis.memtable({"node": list(namespace_of), "label": [roots[find(k)] for k in namespace_of]},
                             schema={"node": "int64", "label": "int64"})  # fmt: skip
    kept = labels.anti_join(repaired, labels.node == repaired.node)
    new_labels = con.create_table("_graph_labels_final", kept.select("node", "label").union(repaired))
    if not dropped:
        return new_labels, active
    marks = ibis.memtable(dropped, schema={"a_key": "int64", "b_key": "int64", "dropped_by": "string"})
    joined = links.left_join(marks, [links.a_key == marks.a_key, links.b_key == marks.b_key])
    others = [links[c] for c in links.columns if c not in ("active", "dropped_by")]
    marked = joined.select(*others, active=links.active & marks.dropped_by.isnull(),
                           dropped_by=ibis.coalesce(links.dropped_by, marks.dropped_by))  # fmt: skip
    return new_labels, con.create_table("_graph_links_final", marked)


def apply_graph_limit(
    con: Any, nodes: ir.Table, links: ir.Table, labels: ir.Table, limit: int, types: dict[str, str]
) -> tuple[ir.Table, ir.Table]:
    """Step 5: a graph holds at most `limit` identities; past it they leave in `eviction_order` (cookies,
    then devices, then the rest; the longest unseen first). An evicted identity stands alone, and its
    links are kept, marked."""
    sizes = labels.group_by("label").aggregate(size=labels.count())
    oversized = sizes.filter(sizes.size > limit).select("label")
    if con.execute(oversized.count()) == 0:
        return labels, links
    seen = links.select(key=links.a_key, seen=links.last_seen).union(
        links.select(key=links.b_key, seen=links.last_seen)
    )
    last_seen = seen.group_by("key").aggregate(seen=seen.seen.max())
    named = nodes.select(key=nodes.key, namespace=nodes.namespace, name=nodes.node)
    crowded = labels.join(oversized, "label").join(named, labels.node == named.key)
    crowded = crowded.left_join(last_seen, crowded.node == last_seen.key)
    rows = crowded.select(node=crowded.node, label=crowded.label, namespace=crowded.namespace,
                          name=crowded.name, seen=crowded.seen).to_pyarrow().to_pylist()  # fmt: skip
    by_graph: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_graph.setdefault(row["label"], []).append(row)
    evicted: list[int] = []
    relabel: dict[int, int] = {}
    for members in by_graph.values():
        order = sorted(members, key=lambda m: eviction_order(
            TYPE_EVICTION_ORDER.get(types.get(m["namespace"], ""), 3), m["seen"], m["name"]))  # fmt: skip
        leaving, staying = order[: len(members) - limit], order[len(members) - limit :]
        evicted.extend(m["node"] for m in leaving)
        relabel.update({m["node"]: m["node"] for m in leaving})  # alone, under its own key
        label = min(m["node"] for m in staying)  # the graph's label may have been one that left
        relabel.update({m["node"]: label for m in staying})
    repaired = ibis.memtable({"node": list(relabel), "label": list(relabel.values())},
                             schema={"node": "int64", "label": "int64"})  # fmt: skip
    kept = labels.anti_join(repaired, labels.node == repaired.node)
    new_labels = con.create_table("_graph_labels_limited", kept.select("node", "label").union(repaired))
    gone = ibis.memtable({"k": evicted}, schema={"k": "int64"})
    touched = links.a_key.isin(gone.k) | links.b_key.isin(gone.k)
    marked = links.mutate(
        active=links.active & ~touched,
        dropped_by=ibis.ifelse(touched & links.active, ibis.literal(f"graph limit of {limit} identities"),
                               links.dropped_by),
    )  # fmt: skip
    return new_labels, con.create_table("_graph_links_limited", marked)


def record_graphs(rows: ir.Table, labels: ir.Table, ranks: dict[str, int]) -> ir.Table:
    """Step 6: the one graph each record with several identities (`rows`) feeds: the graph of its profile
    identity (`records.profile_identities`), even when the rules left its other identities in other
    graphs. A record with one identity has its identity's graph: readers join on that."""
    chosen = profile_identities(rows, ranks)
    chosen = chosen.mutate(key=chosen.node.hash())
    joined = chosen.join(labels, chosen.key == labels.node)
    return joined.select(record=joined.record, dataset=joined.dataset, graph=joined.label)


def build_graph(workspace: Workspace, sandbox: str) -> GraphSummary:
    """Rebuild every identity graph of a sandbox from the lake, and swap it in whole.

    Holds the sandbox's lock (see `accord.lake.sandbox_job`): no other job replaces what it reads."""
    with sandbox_job(workspace, sandbox, "identity graph build"):
        return _build_graph(workspace, sandbox)


def _build_graph(workspace: Workspace, sandbox: str) -> GraphSummary:
    started = time.perf_counter()
    con = connect(workspace.settings)
    try:
        with workspace.catalog.session() as session:
            sandbox_id = resolve_sandbox(session, sandbox).id
        target = graph_folder(workspace, sandbox_id)
        staging = workspace.lake.staging(f"identity-{sandbox_id}")
        rows = identity_rows(workspace, con, sandbox)
        if rows is None:
            shutil.rmtree(target, ignore_errors=True)
            return GraphSummary(0, 0, 0, 0, time.perf_counter() - started)
        lap = _Laps()
        solved = solve_graphs(con, workspace, sandbox, rows, lap)
        copy_to_parquet(con, solved.nodes, str(staging / "nodes.parquet"))
        copy_to_parquet(con, solved.links, str(staging / "links.parquet"))
        lap("write graph")
        copy_to_parquet(con, solved.records, str(staging / "records.parquet"))
        lap("record graphs")
        node_rows = solved.nodes
        counts = con.to_pyarrow(node_rows.group_by("graph").aggregate(size=node_rows.count()).aggregate(
            graphs=ibis._.count(), largest=ibis._.size.max(), identities=ibis._.size.sum()))  # fmt: skip
        link_count = con.execute(solved.links.count())
    finally:
        con.disconnect()
    ensure_held(workspace.catalog)  # a job taken over while it was stopped must not undo its successor's
    replace_folder(staging, target)
    row = counts.to_pylist()[0]
    return GraphSummary(int(row["identities"] or 0), int(link_count), int(row["graphs"] or 0),
                        int(row["largest"] or 0), time.perf_counter() - started, lap.steps)  # fmt: skip


@dataclass(frozen=True)
class SolvedGraphs:
    """The graphs of some identity rows, as tables of the connection, in the shapes the graph files keep."""

    nodes: ir.Table
    """(node, namespace, id, graph, key, raw): `nodes.parquet`."""
    links: ir.Table
    """Every link with why it exists and whether it counts: `links.parquet`."""
    records: ir.Table
    """(record, dataset, graph) of each record with several identities: `records.parquet`."""


def solve_graphs(con: Any, workspace: Workspace, sandbox: str, rows: ir.Table, lap: Any = None,
                 within: ir.Table | None = None) -> SolvedGraphs:  # fmt: skip
    """Steps 2 to 6 over identity rows (`identity_rows`): links, components, the linking rules, record graphs.

    `within` (a table of `node`) limits the proposed links taken in to those between its identities: a caller
    that solves again only some groups of identities (a privacy delete) passes every row that names one of
    them, and the groups come out as a full build makes them."""
    from accord.identity.matching import match_links

    step = lap or (lambda _name: None)
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        rules = get_rules(session, sandbox)
        removed_links, removed_nodes = removed(session, sandbox_id)
        known = namespaces(session, sandbox_id)
    types = {symbol: n.type.value for symbol, n in known.items()}
    # Records with one identity only add nodes: only those with several are kept, row by row
    several = rows.filter(~rows.single)
    several = con.create_table("_identity_rows", several.mutate(
        key=several.namespace.concat(SEPARATOR, several.id).hash()))  # fmt: skip
    step("identity rows")
    alone = rows.filter(rows.single)
    unique = several.select("namespace", "id").union(alone.select("namespace", "id"), distinct=True)
    node = unique.namespace.concat(SEPARATOR, unique.id)
    nodes = con.create_table("_graph_nodes", unique.mutate(node=node, key=node.hash()))
    step("nodes")
    linked = record_links(several)
    proposed = match_links(con, workspace, sandbox_id)
    if proposed is not None:  # links a matching job proposed count as links of their own kind
        if within is not None:
            proposed = proposed.filter(proposed.a.isin(within.node) & proposed.b.isin(within.node))
        linked = linked.union(proposed.cast(linked.schema()))
    keyed_links = linked.mutate(a_key=linked.a.hash(), b_key=linked.b.hash())
    links = con.create_table("_graph_links", mark_removed(keyed_links, removed_links, removed_nodes))
    step("links")
    raw = components(con, nodes, links.filter(links.active))
    step("components")
    labels, links = apply_unique_rule(con, nodes, links, raw, rules.unique)
    labels, links = apply_graph_limit(con, nodes, links, labels, workspace.settings.identity_graph_limit, types)
    step("rules")
    raw_of = con.create_table("_graph_raw", raw.select(raw_node=raw.node, raw=raw.label))
    node_rows = con.create_table("_graph_node_rows", nodes.join(labels, nodes.key == labels.node).join(
        raw_of, nodes.key == raw_of.raw_node).select(node=nodes.node, namespace=nodes.namespace, id=nodes.id,
                                                     graph=labels.label.cast("string"), key=nodes.key,
                                                     raw=raw_of.raw))  # fmt: skip
    ranks = namespace_ranks(rules.priority, known)
    return SolvedGraphs(node_rows, links, record_graphs(several, labels, ranks))


def graph_of(workspace: Workspace, sandbox: str, namespace: str, identity: str) -> dict[str, Any]:
    """The graph an identity belongs to: its identities and the links between them, with reasons.

    The identity is normalised as ingestion normalises its namespace (`Ann@X.io ` finds `ann@x.io`)."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        datasets = {row.id: row.name for row in session.execute(select(DatasetRecord.id, DatasetRecord.name).where(
            DatasetRecord.sandbox_id == sandbox_id))}  # fmt: skip
        known = namespaces(session, sandbox_id)
        ranks = namespace_ranks(get_rules(session, sandbox).priority, known)
    typed = resolve_identity(known, namespace, identity)
    store = GraphStore(graph_folder(workspace, sandbox_id))
    if not store.exists():
        raise NotFoundError("no identity graph yet: build it with `accord identity build`", code="IDENTITY-0410-404")
    found = store.node(f"{typed.namespace}{SEPARATOR}{typed.id}")
    if found is None:
        raise NotFoundError(f"no identity {typed.checked().describe()} in any graph", code="IDENTITY-0411-404",
                            namespace=typed.namespace, id=typed.id)  # fmt: skip
    members = store.members(found.graph)
    names = {n.node for n in members}
    return graph_document(found.graph, [(n.namespace, n.id) for n in members], store.links_touching(names), datasets,
                          ranks)  # fmt: skip


def graph_document(graph: int, members: list[tuple[str, str]], links: list[Link], datasets: dict[str, str],
                   ranks: dict[str, int]) -> dict[str, Any]:  # fmt: skip
    """A graph as `graph_of` answers it, from its identities (namespace, id) and every link with an end among
    them: the links that count, those dropped (by the linking rules or a user), and its primary identity by
    the namespaces' ranks; `datasets` names the datasets by id."""
    members = sorted(members)
    names = {f"{namespace}{SEPARATOR}{value}" for namespace, value in members}
    links = sorted(links, key=lambda x: (x.a, x.b))
    primary = min(members, key=lambda n: (ranks.get(n[0], len(ranks)), n[0], n[1]))
    return {
        "graphId": str(graph),
        "primary": {"namespace": primary[0], "id": primary[1]},
        "identities": [{"namespace": namespace, "id": value} for namespace, value in members],
        "links": [_link_document(x, datasets) for x in links if x.active and x.a in names and x.b in names],
        "droppedLinks": [_link_document(x, datasets) | {"droppedBy": x.dropped_by} for x in links if not x.active],
    }


def _link_document(link: Link, datasets: dict[str, str]) -> dict[str, Any]:
    """A link for people: its dataset by name, as profiles show their sources (the graph keeps the id)."""
    a_ns, a_id = link.a.split(SEPARATOR, 1)
    b_ns, b_id = link.b.split(SEPARATOR, 1)
    return {"from": {"namespace": a_ns, "id": a_id}, "to": {"namespace": b_ns, "id": b_id}, "rule": link.rule,
            "firstSeen": link.first_seen.isoformat() if link.first_seen else None,
            "lastSeen": link.last_seen.isoformat() if link.last_seen else None, "records": link.records,
            "record": link.record, "batch": link.batch,
            "dataset": datasets.get(link.dataset, link.dataset)}  # fmt: skip


def explain(workspace: Workspace, sandbox: str, first: tuple[str, str], second: tuple[str, str]) -> dict[str, Any]:
    """Why two identities are in one graph: the chain of links from one to the other."""
    with workspace.catalog.session() as session:
        known = namespaces(session, resolve_sandbox(session, sandbox).id)
    first, second = (resolve_identity(known, *pair).pair for pair in (first, second))  # as ingestion stores them
    graph = graph_of(workspace, sandbox, *first)
    target = {"namespace": second[0], "id": second[1]}
    if target not in graph["identities"]:
        return {"sameGraph": False, "chain": []}
    neighbours: dict[tuple[str, str], list[tuple[tuple[str, str], dict[str, Any]]]] = {}
    for link in graph["links"]:
        a = (link["from"]["namespace"], link["from"]["id"])
        b = (link["to"]["namespace"], link["to"]["id"])
        neighbours.setdefault(a, []).append((b, link))
        neighbours.setdefault(b, []).append((a, link))
    previous: dict[tuple[str, str], tuple[tuple[str, str], dict[str, Any]] | None] = {first: None}
    queue = deque([first])
    while queue:
        current = queue.popleft()
        if current == second:
            break
        for following, link in neighbours.get(current, []):
            if following not in previous:
                previous[following] = (current, link)
                queue.append(following)
    chain = []
    step = second
    while previous.get(step) is not None:
        before, link = previous[step]  # type: ignore[misc]
        chain.append(link)
        step = before
    return {"sameGraph": True, "graphId": graph["graphId"], "chain": list(reversed(chain))}
