"""The profile store: every person's fragments and events, laid out for lookups and for segmentation.

`build_profiles` runs after a graph build, in the engine, as named steps:
1. `identities`: every identity's key and graph, sorted by key, and every graph's identities; then
   `links`: every graph's links (`LINKS`);
2. `fragments`: the records of each profile dataset with the graph (person) they feed, sorted by graph;
3. `events`: the experience events within their dataset's time-to-live, sorted by graph, newest first;
4. `merged`: every person's attributes merged by the default merge policy (one row per graph, for
   everyone with a fragment or an event: segmentation reads it);
and written in one swap, with a manifest of the batches it was built from. Fragments, events and
identities are Arrow IPC files, read memory-mapped: a lookup finds its rows by binary search, so it
costs the same for ten people or ten million. A lookup uses the store only while its manifest
still matches the committed batches; otherwise it reads the lake directly (`lookup.py`).

Each step stays within the engine's memory limit whatever the number of people: fragments, events
and the merge run in partitions of graph ids when their rows would not fit at once (`partitions.py`),
and give the same store as in one pass."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
from sqlalchemy import select

from accord.catalog import BatchRecord, DatasetRecord, resolve_sandbox
from accord.engine import arrow_tables, connect, field_at
from accord.errors import NotFoundError
from accord.jobs import ensure_held
from accord.lake import cutoff, file_version, open_dataset, replace_folder, sandbox_job
from accord.profile.partitions import (
    MERGE_MEMORY_PER_INPUT,
    SORT_MEMORY_PER_INPUT,
    bounds,
    distinct_sorted,
    measure,
    plan,
    sorted_parts,
    write_arrow,
    write_parquet,
)
from accord.profile.policies import MergePolicy, resolve_policy
from accord.schema import resolve_schema_by_id
from accord.workspace import Workspace

EPOCH = "1970-01-01 00:00:00+00"
SEPARATOR = "\x1f"


@dataclass(frozen=True)
class ProfileSummary:
    profiles: int
    fragments: int
    events: int
    seconds: float
    steps: dict[str, float]
    partitions: dict[str, int] = field(default_factory=dict)
    """In how many partitions of graph ids each step ran, at most (more than one when its rows would not
    fit in the engine's memory limit at once)."""

    def to_document(self) -> dict[str, Any]:
        steps = {k: round(v, 3) for k, v in self.steps.items()}
        return {"profiles": self.profiles, "fragments": self.fragments, "events": self.events,
                "seconds": round(self.seconds, 3), "steps": steps, "partitions": self.partitions}  # fmt: skip


@dataclass(frozen=True)
class _Dataset:
    id: str
    name: str
    class_name: str
    ttl_days: int | None
    sole: tuple[str, str] | None
    """(namespace, path) of the one identity of each record, for datasets with one identity field only."""


def store_folder(workspace: Workspace, sandbox_id: str) -> Path:
    return workspace.lake.root / sandbox_id / "profile"


def committed_batches(
    session: Any, sandbox_id: str, with_schemas: bool = True
) -> tuple[list[_Dataset], dict[str, Any]]:
    """The profile-enabled datasets of a sandbox, and the committed batches of those datasets.

    Without `with_schemas` (lookups, which only need ids, names and time-to-live) the datasets' schemas
    are not resolved: `class_name` and `sole` are left empty."""
    enabled = list(session.scalars(select(DatasetRecord).where(
        DatasetRecord.sandbox_id == sandbox_id, DatasetRecord.profile_enabled.is_(True))))  # fmt: skip
    datasets = [_Dataset(r.id, r.name, "", r.ttl_days, None) for r in enabled]
    if with_schemas:
        from accord.identity import namespaces, sole_identity

        linking = [symbol for symbol, n in namespaces(session, sandbox_id).items() if n.builds_graph]
        datasets = []
        for record in enabled:
            schema = resolve_schema_by_id(session, record.schema_id)
            sole = sole_identity(schema, linking)
            datasets.append(_Dataset(record.id, record.name, schema.class_name, record.ttl_days,
                                     (sole.namespace, sole.path) if sole is not None else None))  # fmt: skip
    ids = [d.id for d in datasets]
    batches = {b.id: b.completed_at for b in session.scalars(select(BatchRecord).where(
        BatchRecord.dataset_id.in_(ids), BatchRecord.status == "success"))}  # fmt: skip
    return datasets, batches


def _read_mapped(path: Path) -> pa.Table:
    """An Arrow IPC file as a table over its memory-mapped pages (nothing is read until used)."""
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def _leaves(value: Any, dtype: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    if dtype.is_struct():
        return [leaf for name, sub in dtype.items() for leaf in _leaves(value[name], sub, (*path, name))]
    return [(path, value)]


def _nest(paths: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    """Leaf columns back into the nested struct columns they came from."""
    tree: dict[str, Any] = {}
    for path, value in paths.items():
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value

    def build(node: dict[str, Any]) -> Any:
        return ibis.struct({k: build(v) if isinstance(v, dict) else v for k, v in node.items()})

    return {k: build(v) if isinstance(v, dict) else v for k, v in tree.items()}


def filled_paths(table: pa.Table) -> set[tuple[str, ...]]:
    """The leaf paths (into struct columns) of an Arrow table that hold a value in at least one row."""
    found: set[tuple[str, ...]] = set()

    def walk(array: pa.Array, path: tuple[str, ...]) -> None:
        if pa.types.is_struct(array.type):  # flatten: a field is null where its struct is
            for field_type, child in zip(array.type, array.flatten(), strict=True):
                walk(child, (*path, field_type.name))
        elif array.null_count < len(array):
            found.add(path)

    for name in table.column_names:
        for chunk in table[name].chunks:
            walk(chunk, (name,))
    return found


def merge_fragments(
    fragments: list[tuple[ir.Table, str]], policy: MergePolicy, filled: list[set[tuple[str, ...]]] | None = None
) -> ir.Table:
    """Step 4: one row per graph, each attribute taken from the fragment the policy prefers.

    The same rule as `merge.merge`, in the engine: the preferred fragment is the one of the
    highest-precedence dataset (dataset precedence), then the latest ingested, then the highest
    record id; the first preferred fragment with a value wins each attribute. `filled`, when given,
    names for each fragment table the attribute paths that hold a value in some row: the others are
    null without being merged (schemas declare many fields that the data leaves empty)."""
    rank = {dataset_id: len(policy.datasets) - index for index, dataset_id in enumerate(policy.datasets)}
    parts: list[tuple[ir.Table, str, dict[tuple[str, ...], Any]]] = []
    types: dict[tuple[str, ...], Any] = {}
    for index, (table, dataset_id) in enumerate(fragments):
        attributes = [c for c in table.columns if not c.startswith("_acc_") and c not in ("graph", "identityMap")]
        found = dict(leaf for c in attributes for leaf in _leaves(table[c], table[c].type(), (c,)))
        types.update({path: value.type() for path, value in found.items() if path not in types})
        if filled is not None:
            found = {path: value for path, value in found.items() if path in filled[index]}
        parts.append((table, dataset_id, found))
    merging = [path for path in types if any(path in leaves for _, _, leaves in parts)]
    selected = []
    for table, dataset_id, leaves in parts:
        columns = {"\x1f".join(path): (leaves[path].cast(types[path]) if path in leaves
                                       else ibis.null().cast(types[path])) for path in merging}  # fmt: skip
        selected.append(table.select(
            graph=table.graph, precedence=ibis.literal(rank.get(dataset_id, 0) if policy.kind == "dataset_precedence"
                                                       else 0),
            ingested=table._acc_ingested.fill_null(ibis.literal(EPOCH).cast("timestamp('UTC')")),
            record=table._acc_record, **columns))  # fmt: skip
    union = selected[0].union(*selected[1:]) if len(selected) > 1 else selected[0]
    # preferences are only compared within a graph: ranking within each graph lets the engine sort and
    # spill graph by graph, where one ranking of all fragments held them all in memory at once
    ordered = union.mutate(preference=ibis.row_number().over(group_by=union.graph, order_by=[
        union.precedence, union.ingested, union.record]))  # fmt: skip
    names = ["\x1f".join(path) for path in merging]
    merged = ordered.group_by("graph").aggregate(**{
        name: ordered[name].argmax(ordered.preference, where=ordered[name].notnull()) for name in names})  # fmt: skip
    nested = _nest({path: merged["\x1f".join(path)] if path in merging else ibis.null().cast(dtype)
                    for path, dtype in types.items()})  # fmt: skip
    return merged.select(graph=merged.graph, **nested)


def dataset_rows(table: ir.Table, dataset: _Dataset, node_keys: ir.Table, records: ir.Table,
                 times: ir.Table) -> ir.Table:  # fmt: skip
    """Steps 2 and 3 for one dataset (read with provenance): its rows with the graph (person) each feeds; a
    profile dataset's with when their batch was ingested (`_acc_ingested`), an event dataset's within its
    time-to-live and without provenance (events are shown without it: 40 % less to write).

    `node_keys` (`key`, `graph`) gives the graph of each identity, `records` (`record`, `dataset`, `graph`)
    that of each record with several identities, `times` (`batch_id`, `completed`) when each batch was
    committed. A caller that passes only some identities and records gets only the rows that feed theirs."""
    columns = {c: table[c] for c in table.columns}
    if dataset.sole is not None:  # one identity per record: its graph is the identity's
        namespace, path = dataset.sole
        value = field_at(table, path)
        keyed = table.mutate(_acc_key=ibis.literal(namespace).concat(SEPARATOR, value).hash())
        joined = keyed.join(node_keys, keyed._acc_key == node_keys.key)
        rows = joined.select(graph=joined.graph, **{c: joined[c] for c in table.columns})
    else:
        mine = records.filter(records.dataset == dataset.id)
        joined = table.join(mine, table._acc_record == mine.record)
        rows = joined.select(graph=joined.graph, **{c: joined[c] for c in table.columns})
    if dataset.class_name == "profile":
        rows = rows.join(times, rows._acc_batch == times.batch_id)
        return rows.select(graph=rows.graph, _acc_ingested=rows.completed.cast("timestamp('UTC')"),
                           **{c: rows[c] for c in columns})  # fmt: skip
    expiry = cutoff(dataset.ttl_days)
    if expiry is not None:
        rows = rows.filter(rows.timestamp.cast("timestamp('UTC')") >= ibis.literal(expiry))
    return rows.drop("_acc_batch", "_acc_record")


def _merge_in_partitions(
    con: Any, people: np.ndarray, fragments: list[tuple[Path, str]], policy: MergePolicy, target: Path
) -> tuple[int, int]:
    """Step 4, partition by partition of graph ids: everyone's merged attributes, in one Parquet file.

    A partition's fragments are slices of the fragment files (sorted by graph), mapped and handed to the
    engine without a copy, and let go before the next partition. Returns how many profiles were written,
    and in how many partitions."""
    size = sum(path.stat().st_size for path, _ in fragments)
    graphs = [_read_mapped(path)["graph"].to_numpy() for path, _ in fragments]
    rows = sum(len(column) for column in graphs)
    layout = plan(con, people, rows, size / max(rows, 1), MERGE_MEMORY_PER_INPUT)
    cuts = layout.cuts
    people_bounds = bounds(people, cuts)
    fragment_bounds = [bounds(column, cuts) for column in graphs]
    del graphs  # copies of the graph columns: not kept through the merge

    def parts() -> Iterator[ir.Table]:
        for part in range(len(cuts) + 1):
            inputs = {"_people": pa.table({"graph": people[people_bounds[part] : people_bounds[part + 1]]})}
            for index, ((path, _), edges) in enumerate(zip(fragments, fragment_bounds, strict=True)):
                start, end = int(edges[part]), int(edges[part + 1])
                inputs[f"_fragments_{index}"] = _read_mapped(path).slice(start, end - start)
            with arrow_tables(con, inputs) as tables:  # this partition's rows only, let go after it
                everyone = tables["_people"]
                if fragments:
                    slices = [(tables[f"_fragments_{index}"], dataset_id) for index, (_, dataset_id)
                              in enumerate(fragments)]  # fmt: skip
                    filled = [filled_paths(inputs[f"_fragments_{index}"]) for index in range(len(fragments))]
                    merged = merge_fragments(slices, policy, filled)
                    everyone = everyone.left_join(merged, everyone.graph == merged.graph).drop("graph_right")
                yield everyone.order_by("graph")

    return write_parquet(con, parts(), target, layout.batch_rows), layout.partitions


def build_profiles(workspace: Workspace, sandbox: str) -> ProfileSummary:
    """Rebuild the profile store of a sandbox from the lake and its identity graphs.

    Holds the sandbox's lock (see `accord.lake.sandbox_job`): no other job replaces what it reads."""
    with sandbox_job(workspace, sandbox, "profile store build"):
        return _build_profiles(workspace, sandbox)


def _build_profiles(workspace: Workspace, sandbox: str) -> ProfileSummary:
    from accord.identity import graph_folder

    started = time.perf_counter()
    steps: dict[str, float] = {}
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        policy = resolve_policy(session, sandbox, None)
        datasets, batches = committed_batches(session, sandbox_id)
    graphs = graph_folder(workspace, sandbox_id)
    if not (graphs / "records.parquet").exists():
        raise NotFoundError("no identity graph to build profiles on: run `accord profile rebuild`",
                            code="PROFILE-0412-404")  # fmt: skip
    staging = workspace.lake.staging(f"profile-{sandbox_id}")
    con = connect(workspace.settings)
    counts = {"fragments": 0, "events": 0, "profiles": 0}
    partitions: dict[str, int] = {}
    try:
        records = con.read_parquet(str(graphs / "records.parquet"))
        nodes = con.read_parquet(str(graphs / "nodes.parquet"))
        node_keys = con.create_table("_node_keys", nodes.select(key=nodes.key, graph=nodes.graph.cast("int64")))
        times = ibis.memtable({"batch_id": list(batches), "completed": [t.isoformat() if t else None
                                                                         for t in batches.values()]})  # fmt: skip
        clock = time.perf_counter()
        keyed_nodes = nodes.select(key=nodes.key, node=nodes.node, graph=nodes.graph.cast("int64"))
        write_arrow(con, [keyed_nodes.order_by("key")], staging / "identities.arrow")
        write_arrow(con, [keyed_nodes.select("graph", "node").order_by(["graph", "node"])], staging / "members.arrow")
        # every graph comes from a fragment or an event: the people are the graphs of the identities
        people = distinct_sorted(_read_mapped(staging / "members.arrow")["graph"].to_numpy())
        steps["identities"] = time.perf_counter() - clock
        clock = time.perf_counter()
        write_arrow(con, [links_by_graph(con, graphs)], staging / LINKS)
        steps["links"] = time.perf_counter() - clock
        fragments: list[tuple[Path, str]] = []
        for dataset in datasets:
            clock = time.perf_counter()
            table, _ = open_dataset(workspace, con, sandbox, dataset.name, provenance=True)
            rows = dataset_rows(table, dataset, node_keys, records, times)
            if dataset.class_name == "profile":
                parts = plan(con, people, *measure(con, table), SORT_MEMORY_PER_INPUT)
                fragments.append((staging / f"fragments-{dataset.id}.arrow", dataset.id))
                ordered = sorted_parts(rows, ["graph"], parts.cuts)
                counts["fragments"] += write_arrow(con, ordered, fragments[-1][0], parts.batch_rows)
                kind = "fragments"
            else:
                parts = plan(con, people, *measure(con, table.drop("_acc_batch", "_acc_record")),
                             SORT_MEMORY_PER_INPUT)  # fmt: skip
                ordered = sorted_parts(rows, ["graph", ibis.desc("timestamp")], parts.cuts)
                counts["events"] += write_arrow(con, ordered, staging / f"events-{dataset.id}.arrow", parts.batch_rows)
                kind = "events"
            steps[kind] = steps.get(kind, 0.0) + time.perf_counter() - clock
            partitions[kind] = max(partitions.get(kind, 1), parts.partitions)
        clock = time.perf_counter()
        counts["profiles"], partitions["merged"] = _merge_in_partitions(con, people, fragments, policy,
                                                                        staging / "profiles.parquet")  # fmt: skip
        steps["merged"] = time.perf_counter() - clock
        clock = time.perf_counter()
        _write_fingerprints(con, staging)
        steps["fingerprints"] = time.perf_counter() - clock
    finally:
        con.disconnect()
    manifest = {"policy": policy.name, "batches": sorted(batches), "datasets": {d.id: d.name for d in datasets},
                "builtAt": time.time(),
                "graphBuilt": (graphs / "records.parquet").stat().st_mtime_ns, **counts}  # fmt: skip
    (staging / "manifest.json").write_text(json.dumps(manifest))
    ensure_held(workspace.catalog)
    replace_folder(staging, store_folder(workspace, sandbox_id))
    return ProfileSummary(counts["profiles"], counts["fragments"], counts["events"], time.perf_counter() - started,
                          steps, partitions)  # fmt: skip


LINKS = "links.arrow"
"""The links of each graph (`graph` and the columns of the graphs' `links.parquet`), sorted by graph: a link
between two graphs (one the linking rules or a user dropped) is under both."""


def links_by_graph(con: Any, graphs: Path) -> ir.Table:
    """Every link of the graph files in `graphs` under the graph of each of its ends, in the order of `LINKS`:
    a person's links are found by binary search (`ProfileStore.links_of`), where the graph files are scanned."""
    links = con.read_parquet(str(graphs / "links.parquet"))
    nodes = con.read_parquet(str(graphs / "nodes.parquet"))
    columns = links.columns
    of_a = nodes.select(_acc_key_a=nodes.key, _acc_a=nodes.node, _acc_graph_a=nodes.graph.cast("int64"))
    of_b = nodes.select(_acc_key_b=nodes.key, _acc_b=nodes.node, _acc_graph_b=nodes.graph.cast("int64"))
    # joined on the identities' keys (a number: cheap to hash) and names (keys of two identities may collide)
    ends = links.join(of_a, [links.a_key == of_a._acc_key_a, links.a == of_a._acc_a]).join(
        of_b, [links.b_key == of_b._acc_key_b, links.b == of_b._acc_b])  # fmt: skip
    same = ends._acc_graph_a == ends._acc_graph_b
    under = ibis.ifelse(same, ibis.array([ends._acc_graph_a]), ibis.array([ends._acc_graph_a, ends._acc_graph_b]))
    return ends.select(graph=under.unnest(), **{c: ends[c] for c in columns}).order_by("graph")


FINGERPRINTS = "fingerprints.arrow"
"""Each profile's fingerprint (`graph`, `fingerprint`), sorted by graph."""


def _write_fingerprints(con: Any, staging: Path) -> None:
    """Each profile's fingerprint: a hash of its merged row and of its identities. A profile whose fingerprint
    is the same in two builds did not change between them: an incremental activation reads only the others."""
    from accord.engine import sql_string

    with arrow_tables(con, {"_fingerprint_nodes": _read_mapped(staging / "members.arrow")}):
        # the row as a whole (`p`, a struct of every column); the identities whatever their order (xor)
        rows = con.sql(f"SELECT p.graph, hash(p, i.nodes) AS fingerprint "
                       f"FROM read_parquet({sql_string(str(staging / 'profiles.parquet'))}) AS p LEFT JOIN "
                       "(SELECT graph, bit_xor(hash(node)) AS nodes FROM _fingerprint_nodes GROUP BY graph) AS i "
                       "USING (graph)")  # fmt: skip
        write_arrow(con, [rows.order_by("graph")], staging / FINGERPRINTS)


class ProfileStore:
    """A built profile store, opened memory-mapped; opened once per folder and build."""

    _cache: dict[Path, tuple[tuple[int, int, int], ProfileStore]] = {}
    _lock = threading.Lock()

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.manifest = json.loads((folder / "manifest.json").read_text())
        self.identities = _read_mapped(folder / "identities.arrow")
        self.keys = self.identities["key"].to_numpy()
        self.graphs = self.identities["graph"].to_numpy()
        self.members = self._sorted(folder / "members.arrow")
        self.fragments = {p.stem.split("-", 1)[1]: self._sorted(p) for p in folder.glob("fragments-*.arrow")}
        self.events = {p.stem.split("-", 1)[1]: self._sorted(p) for p in folder.glob("events-*.arrow")}
        self.links = self._sorted(folder / LINKS) if (folder / LINKS).exists() else None
        """None in a store built before it kept the links: they are read from the graphs."""

    def _sorted(self, path: Path) -> tuple[pa.Table, np.ndarray]:
        table = _read_mapped(path)
        return table, table["graph"].to_numpy()

    @classmethod
    def open(cls, folder: Path) -> ProfileStore | None:
        stamp = file_version(folder / "manifest.json")
        if stamp is None:
            return None
        with cls._lock:
            cached = cls._cache.get(folder)
            if cached is None or cached[0] != stamp:
                cached = (stamp, cls(folder))
                cls._cache[folder] = cached
            return cached[1]

    def graph_of(self, key: int, node: str) -> int | None:
        index = int(np.searchsorted(self.keys, key))
        while index < len(self.keys) and self.keys[index] == key:
            if self.identities["node"][index].as_py() == node:
                return int(self.graphs[index])
            index += 1
        return None

    def identities_of(self, graph: int) -> list[str]:
        """Every identity of a graph."""
        return [row["node"] for row in self.rows(self.members, graph)[1]]

    def links_of(self, graph: int) -> list[dict[str, Any]] | None:
        """Every link with an end in a graph (the columns of the graphs' links), or None when the store keeps none."""
        if self.links is None:
            return None
        return [{k: v for k, v in row.items() if k != "graph"} for row in self.rows(self.links, graph)[1]]

    @staticmethod
    def rows(
        table: tuple[pa.Table, np.ndarray], graph: int, limit: int | None = None, since: Any = None
    ) -> tuple[int, list[dict[str, Any]]]:
        """How many rows a graph has in a sorted file, and the first `limit` of them.

        With `since` (events, sorted newest first within a graph), only rows at or after it count."""
        data, graphs = table
        start, end = int(np.searchsorted(graphs, graph, "left")), int(np.searchsorted(graphs, graph, "right"))
        if since is not None and end > start:
            stamps = data["timestamp"].slice(start, end - start).to_numpy()
            end = start + int(np.count_nonzero(stamps >= np.datetime64(since.replace(tzinfo=None), "us")))
        count = end - start
        taken = count if limit is None else min(count, limit)
        return count, data.slice(start, taken).to_pylist() if taken else []
