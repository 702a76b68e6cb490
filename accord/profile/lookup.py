"""Profile lookup by any identity: merged attributes, identities, fragments and recent events."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import ibis
from sqlalchemy import select

from accord.catalog import BatchRecord, DatasetRecord, resolve_sandbox
from accord.engine import connect, to_arrow, values_table
from accord.errors import InvalidInputError, NotFoundError
from accord.identity import (
    SEPARATOR,
    Link,
    TypedIdentity,
    carries_any,
    get_rules,
    graph_document,
    graph_folder,
    graph_of,
    namespace_ranks,
    namespaces,
    profile_identities,
    record_identities,
    resolve_identity,
)
from accord.lake import cutoff, jsonable, open_dataset
from accord.profile.merge import Fragment, merge
from accord.profile.policies import resolve_policy
from accord.profile.recent import RecentEvents, since_filter
from accord.profile.store import ProfileStore, committed_batches, store_folder
from accord.schema import resolve_schema_by_id
from accord.segment import profile_computed_values, profile_memberships
from accord.workspace import Workspace

MAX_FRAGMENTS = 5000
NEWEST_EVENTS = 1000
"""A person's events at most that streaming evaluation reads (the newest)."""
EVENTS_GUARDRAIL = 5000
"""Profiles with more events than this are flagged (the reference product's guardrail)."""


WANTED, SINCE = "acc_wanted", "acc_since"


def _wanted(con: Any, people: dict[int, list[tuple[str, str]]], oldest: dict[str, datetime]) -> tuple[Any, Any]:
    """The people's identities (namespace, value, node, graph) and each dataset's oldest time read, as two
    tables of the connection (the caller's own), named alike in every call: the queries that read them are
    the same for other people and other times, and compile once (`engine.compiled`)."""
    rows = [(ns, value, f"{ns}{SEPARATOR}{value}", graph) for graph, ids in people.items() for ns, value in ids]
    namespaces_, values, nodes, graphs = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [], [])
    wanted = values_table(con, WANTED, {"namespace": ("VARCHAR", namespaces_), "value": ("VARCHAR", values),
                                        "node": ("VARCHAR", nodes), "graph": ("BIGINT", graphs)})  # fmt: skip
    since = values_table(con, SINCE, {"dataset_id": ("VARCHAR", list(oldest)),
                                      "oldest": ("TIMESTAMPTZ", list(oldest.values()))})  # fmt: skip
    return wanted, since


def _owned(found: Any, schema: Any, dataset_id: str, known: dict[str, Any], ranks: dict[str, int],
           wanted: Any) -> Any | None:  # fmt: skip
    """The rows (of those that carry one of the wanted identities) whose profile identity is one of them,
    with the graph they feed (`_acc_graph`): a record feeds only the profile of its profile identity's
    graph, whatever else it carries. None: the dataset's records carry no identity."""
    rows = record_identities(found, schema, dataset_id, known)
    if rows is None:
        return None
    chosen = profile_identities(rows, ranks)
    mine = chosen.join(wanted, chosen.node == wanted.node).select(_acc_mine=chosen.record, _acc_graph=wanted.graph)
    return found.join(mine, found._acc_record == mine._acc_mine).drop("_acc_mine")


def get_profile(
    workspace: Workspace, sandbox: str, namespace: str, identity: str, merge_policy: str | None = None,
    events_limit: int = 20, events_offset: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """The profile of the person an identity belongs to, merged by a merge policy.

    Read from the profile store while it is current (built on the committed batches and the graph of
    now); otherwise, and without identity stitching, from the lake directly (slower, never stale)."""
    if not (1 <= events_limit <= 1000 and events_offset >= 0):
        raise InvalidInputError("events: limit 1..1000, offset 0 or more", code="PROFILE-0401-400")
    with workspace.catalog.session() as session:
        policy = resolve_policy(session, sandbox, merge_policy)
        sandbox_id = resolve_sandbox(session, sandbox).id
        datasets, ingested = committed_batches(session, sandbox_id, with_schemas=False)
        known = namespaces(session, sandbox_id)
    typed = resolve_identity(known, namespace, identity)  # as ingestion would have stored it
    namespace, identity = typed.pair
    store = current_store(workspace, sandbox_id, ingested) if policy.stitching == "graph" else None
    if store is not None:
        ttl = {d.id: d.ttl_days for d in datasets}
        found = _from_store(store, typed, ingested, ttl, events_limit + events_offset)
    else:
        found = _from_lake(workspace, sandbox, policy, namespace, identity, events_limit + events_offset)
    graph_id, identities, fragments, events, total_events = found
    if not fragments and not total_events:
        raise NotFoundError(f"no profile holds {typed.checked().describe()}", code="PROFILE-0410-404",
                            namespace=namespace, id=identity)  # fmt: skip
    attributes, sources = merge(fragments, policy)
    events.sort(key=lambda e: e.get("timestamp") or "", reverse=True)
    page = [{k: v for k, v in e.items() if not k.startswith("_acc_") and k != "graph"}
            for e in events[events_offset:][:events_limit]]  # fmt: skip
    origins = [
        {"dataset": f.dataset, "batch": f.batch, "record": f.record,
         "ingested": f.ingested.isoformat() if f.ingested else None}
        for f in fragments
    ]  # fmt: skip
    return jsonable(
        {
            "identity": {"namespace": namespace, "id": identity},
            "mergePolicy": policy.name,
            "graphId": graph_id,
            "identities": [{"namespace": ns, "id": value} for ns, value in identities],
            "attributes": attributes,
            "sources": sources,
            "fragments": origins,
            "events": {"total": total_events, "offset": events_offset, "items": page},
            "segmentMembership": _memberships(workspace, sandbox, graph_id),
            "computedAttributes": _computed(workspace, sandbox, graph_id),
            "flags": [f"more than {EVENTS_GUARDRAIL:,} events"] if total_events > EVENTS_GUARDRAIL else [],
            "readFrom": "store" if store is not None else "lake",
        }
    )


def identity_graph(workspace: Workspace, sandbox: str, namespace: str, identity: str) -> dict[str, Any]:
    """The identity graph of the person an identity belongs to, as `identity.graph_of` answers it.

    Read from the profile store while it is current (its identities and links by binary search, whatever
    the number of people); otherwise from the graph files, as `graph_of` reads them."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        _datasets, ingested = committed_batches(session, sandbox_id, with_schemas=False)
        known = namespaces(session, sandbox_id)
        ranks = namespace_ranks(get_rules(session, sandbox).priority, known)
        names = {row.id: row.name for row in session.execute(
            select(DatasetRecord.id, DatasetRecord.name).where(DatasetRecord.sandbox_id == sandbox_id))}  # fmt: skip
    typed = resolve_identity(known, namespace, identity)
    store = current_store(workspace, sandbox_id, ingested)
    if store is None or store.links is None:  # not current, or built before it kept links: as the graphs have it
        return graph_of(workspace, sandbox, namespace, identity)
    graph = store.graph_of(typed.key, f"{typed.namespace}{SEPARATOR}{typed.id}")
    if graph is None:
        raise NotFoundError(f"no identity {typed.checked().describe()} in any graph", code="IDENTITY-0411-404",
                            namespace=typed.namespace, id=typed.id)  # fmt: skip
    members = [tuple(node.split(SEPARATOR, 1)) for node in store.identities_of(graph)]
    links = [Link(**row) for row in store.links_of(graph) or []]
    return graph_document(graph, members, links, names, ranks)  # type: ignore[arg-type]


def _memberships(workspace: Workspace, sandbox: str, graph_id: str | None) -> dict[str, Any]:
    """The person's audience memberships (by segment name), once segment jobs have run."""
    return profile_memberships(workspace, sandbox, int(graph_id)) if graph_id is not None else {}


def _computed(workspace: Workspace, sandbox: str, graph_id: str | None) -> list[dict[str, Any]]:
    """The person's computed attributes (segmentation computes them: they are PQL aggregations of events)."""
    return profile_computed_values(workspace, sandbox, int(graph_id) if graph_id is not None else None)


Found = tuple[str | None, list[tuple[str, str]], list[Fragment], list[dict[str, Any]], int]


def current_store(workspace: Workspace, sandbox_id: str, ingested: dict[str, Any]) -> ProfileStore | None:
    """The profile store, if it was built on exactly the committed batches and the graphs of now."""
    store = ProfileStore.open(store_folder(workspace, sandbox_id))
    if store is None or store.manifest["batches"] != sorted(ingested):
        return None
    graphs = graph_folder(workspace, sandbox_id)
    if (graphs / "overlay.db").exists() or not (graphs / "records.parquet").exists():
        return None  # one-record updates since: the store no longer matches the graphs
    return store if store.manifest.get("graphBuilt") == (graphs / "records.parquet").stat().st_mtime_ns else None


def _from_store(
    store: ProfileStore, typed: TypedIdentity, ingested: dict[str, Any], ttl: dict[str, int | None], newest: int
) -> Found:  # fmt: skip
    graph = store.graph_of(typed.key, f"{typed.namespace}{SEPARATOR}{typed.id}")
    if graph is None:
        return None, [typed.pair], [], [], 0
    identities = [tuple(n.split(SEPARATOR, 1)) for n in store.identities_of(graph)]
    names = store.manifest["datasets"]
    fragments = []
    for dataset_id, table in store.fragments.items():
        for row in store.rows(table, graph)[1]:
            batch, record = row.pop("_acc_batch"), row.pop("_acc_record")
            row.pop("graph"), row.pop("_acc_ingested")
            fragments.append(Fragment(dataset_id, names.get(dataset_id, dataset_id), batch, record,
                                      ingested.get(batch), row))  # fmt: skip
    events: list[dict[str, Any]] = []
    total = 0
    for dataset_id, table in store.events.items():
        count, rows = store.rows(table, graph, newest, cutoff(ttl.get(dataset_id)))
        total += count
        events.extend({**r, "dataset": names.get(dataset_id, dataset_id)} for r in rows)
    return str(graph), sorted(identities), fragments, events, total  # type: ignore[arg-type]


LakeSources = tuple[dict[str, Any], dict[str, int], list[tuple[str, str, Any, int | None]], dict[str, Any]]


def _lake_sources(session: Any, sandbox: str) -> LakeSources:
    """What reading profiles from the lake needs of the catalog: the namespaces, their ranks, the profile
    datasets (id, name, schema, time-to-live) and when each committed batch was."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    known = namespaces(session, sandbox_id)
    ranks = namespace_ranks(get_rules(session, sandbox).priority, known)
    enabled = select(DatasetRecord).where(
        DatasetRecord.sandbox_id == sandbox_id, DatasetRecord.profile_enabled.is_(True)
    )
    datasets = [(d.id, d.name, resolve_schema_by_id(session, d.schema_id), d.ttl_days)
                for d in session.scalars(enabled)]  # fmt: skip
    committed = select(BatchRecord).where(BatchRecord.sandbox_id == sandbox_id, BatchRecord.status == "success")
    return known, ranks, datasets, {b.id: b.completed_at for b in session.scalars(committed)}


def _from_lake(workspace: Workspace, sandbox: str, policy: Any, namespace: str, identity: str, newest: int) -> Found:
    """The person's records read from the lake: those whose profile identity is in the identity's graph
    (graph stitching), or is the identity itself (no stitching)."""
    with workspace.catalog.session() as session:
        known, ranks, datasets, ingested = _lake_sources(session, sandbox)
    identities = [(namespace, identity)]
    graph_id = None
    if policy.stitching == "graph":
        try:
            graph = graph_of(workspace, sandbox, namespace, identity)
            identities = [(i["namespace"], i["id"]) for i in graph["identities"]]
            graph_id = graph["graphId"]
        except NotFoundError:
            pass  # not in a graph (yet): the identity alone
    fragments: list[Fragment] = []
    events: list[dict[str, Any]] = []
    total_events = 0
    oldest = {dataset_id: expiry for dataset_id, _n, schema, ttl_days in datasets
              if schema.class_name != "profile" and (expiry := cutoff(ttl_days)) is not None}  # fmt: skip
    present = {namespace for namespace, _value in identities}
    con = connect(workspace.settings)
    try:
        wanted, since = _wanted(con, {0: identities}, oldest)
        for index, (dataset_id, name, schema, _ttl) in enumerate(datasets):
            table, _ = open_dataset(workspace, con, sandbox, name, provenance=True, table_name=f"acc_lake_{index}")
            condition = carries_any(table, schema, wanted, known, present)
            if condition is None:
                continue
            found = table.filter(condition)
            if schema.class_name != "profile":  # expired events are no longer part of the profile
                found = since_filter(found, since, dataset_id)
            owned = _owned(found, schema, dataset_id, known, ranks, wanted)
            if owned is None:
                continue
            owned = owned.drop("_acc_graph")
            if schema.class_name == "profile":
                for row in to_arrow(con, owned.limit(MAX_FRAGMENTS)).to_pylist():
                    batch, record = row.pop("_acc_batch"), row.pop("_acc_record")
                    fragments.append(Fragment(dataset_id, name, batch, record, ingested.get(batch), row))
            else:
                total_events += int(to_arrow(con, owned.count().as_table()).column(0)[0].as_py())
                newest_rows = owned.order_by(ibis.desc("timestamp")).limit(newest)
                events.extend({**r, "dataset": name} for r in to_arrow(con, newest_rows).to_pylist())
    finally:
        con.disconnect()
    return graph_id, identities, fragments, events, total_events


def recent_profiles(workspace: Workspace, sandbox: str, people: dict[int, list[tuple[str, str]]],
                    since: datetime, event_fields: Collection[str] | None = None,
                    recent: RecentEvents | None = None) -> dict[int, dict[str, Any]]:  # fmt: skip
    """Many profiles at once, for streaming evaluation: each graph's merged attributes (default merge policy)
    and its events since `since` (of each event dataset, the newest 1,000), by graph; values as the engine gives them
    (timestamps are datetimes). `people` maps each graph to its identities. With `event_fields`, the events
    carry only these top-level fields (and `timestamp`), and none are read when it is empty.

    One query per profile dataset for all of them: a row is read when it carries one of the identities
    and its profile identity is one of them (as `get_profile` reads the lake); events older than `since`
    are skipped by the engine, so a micro-batch's evaluation does not read the whole history. With `recent`
    (kept by the caller from one call to the next, for the same `event_fields`), the events are taken from it
    once it has read the batches committed since (`recent.py`)."""
    if not people:
        return {}
    with workspace.catalog.session() as session:
        policy = resolve_policy(session, sandbox, None)
        known, ranks, datasets, ingested = _lake_sources(session, sandbox)
    oldest = {dataset_id: max(since, cutoff(ttl_days) or since) for dataset_id, _n, schema, ttl_days in datasets
              if schema.class_name != "profile"}  # fmt: skip
    present = {namespace for identities in people.values() for namespace, _value in identities}
    fragments: dict[int, list[Fragment]] = {}
    events: dict[int, list[dict[str, Any]]] = {}
    con = connect(workspace.settings)
    try:
        wanted, since_table = _wanted(con, people, oldest)
        kept = recent is not None and bool(event_fields) and recent.refresh(workspace, sandbox, con, known, ranks,
                                                                            datasets, since_table)  # fmt: skip
        if kept:
            assert recent is not None
            events = recent.events(people, oldest, {d: n for d, n, *_ in datasets}, NEWEST_EVENTS)
        for index, (dataset_id, name, schema, _ttl) in enumerate(datasets):
            if schema.class_name != "profile" and (kept or (event_fields is not None and not event_fields)):
                continue
            table, _ = open_dataset(workspace, con, sandbox, name, provenance=True, table_name=f"acc_lake_{index}")
            condition = carries_any(table, schema, wanted, known, present)
            if condition is None:
                continue
            found = table.filter(condition)
            if schema.class_name != "profile":
                found = since_filter(found, since_table, dataset_id)
            owned = _owned(found, schema, dataset_id, known, ranks, wanted)
            if owned is None:
                continue
            if schema.class_name == "profile":
                for row in to_arrow(con, owned).to_pylist():
                    graph, batch, record = row.pop("_acc_graph"), row.pop("_acc_batch"), row.pop("_acc_record")
                    fragments.setdefault(graph, []).append(Fragment(dataset_id, name, batch, record,
                                                                    ingested.get(batch), row))  # fmt: skip
            else:
                place = ibis.row_number().over(group_by=owned._acc_graph, order_by=ibis.desc(owned.timestamp))
                newest = owned.mutate(_acc_place=place).filter(lambda t: t._acc_place < NEWEST_EVENTS).drop(
                    "_acc_place")  # fmt: skip
                if event_fields is not None:  # only what is asked for is read and handed over
                    keep = {*event_fields, "timestamp", "_acc_graph", "_acc_batch", "_acc_record"}
                    newest = newest.select(*[c for c in newest.columns if c in keep])
                for row in to_arrow(con, newest).to_pylist():
                    graph = row.pop("_acc_graph")
                    row.pop("_acc_batch"), row.pop("_acc_record")
                    events.setdefault(graph, []).append({**row, "dataset": name})
    finally:
        con.disconnect()
    return {graph: {"attributes": merge(fragments.get(graph, []), policy)[0], "events": events.get(graph, [])}
            for graph in people}  # fmt: skip
