"""The profile store after a privacy delete: the people whose graphs changed, taken out and made again in place.

A delete erases rows from the lake and solves again the graphs of the groups of identities they touched
(`identity.erasure`). The store then loses every row of the graphs those groups were, and gains the rows of
the graphs they are now, built by the very expressions of the full build (`store.dataset_rows`) from the
rows that still name them: identities, members, fragments and events. Every file stays sorted as the build
sorts it; the large ones are written again from slices of the old file (memory-mapped, copied as they are
written: see `_write_ipc`) with the new rows in their places, the kept fragments' record ids renumbered as
the lake's are (`lake.Renumbering`). Merged profiles and fingerprints are made again for everyone, by the
build's own merge: a tie between two fragments of one batch is broken by record id, which the renumbering
may turn. The links by graph are made again whole from the graph files as the erasure left them. The
manifest follows (counts, the graph it was built on), and the folder is swapped in whole.

A store that was not built on the graphs of before (a graph build since, or a merge policy made default
since) is built again in full instead: it did not hold what the splice would take out."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from accord.catalog import resolve_sandbox
from accord.engine import arrow_tables, connect, to_arrow
from accord.jobs import ensure_held
from accord.lake import open_dataset, replace_folder
from accord.profile.partitions import distinct_sorted, write_arrow
from accord.profile.policies import resolve_policy
from accord.profile.store import (
    FINGERPRINTS,
    LINKS,
    _merge_in_partitions,
    _read_mapped,
    _write_fingerprints,
    build_profiles,
    committed_batches,
    dataset_rows,
    links_by_graph,
    store_folder,
)

if TYPE_CHECKING:
    from accord.identity.erasure import GraphChange
    from accord.lake.erasure import Renumbering
    from accord.workspace import Workspace


@dataclass(frozen=True)
class StoreChange:
    """What the store lost and gained."""

    how: str
    """`spliced` (the changed people only), `rebuilt` (in full: see the module's docstring) or `none` (no store)."""
    profiles_removed: int = 0
    profiles_added: int = 0
    fragments_removed: int = 0
    events_removed: int = 0
    seconds: float = 0.0

    def to_document(self) -> dict[str, Any]:
        return {"how": self.how, "profilesRemoved": self.profiles_removed, "profilesAdded": self.profiles_added,
                "fragmentsRemoved": self.fragments_removed, "eventsRemoved": self.events_removed,
                "seconds": round(self.seconds, 3)}  # fmt: skip


def follow_graphs(workspace: Workspace, sandbox: str, change: GraphChange, renumbering: Renumbering) -> StoreChange:
    """Bring the profile store in line with graphs solved again (`identity.solve_again`) over a lake some rows
    were erased from. The caller holds the sandbox's lock."""
    started = time.perf_counter()
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        policy = resolve_policy(session, sandbox, None)
        datasets, _batches = committed_batches(session, sandbox_id)
    folder = store_folder(workspace, sandbox_id)
    if not (folder / "manifest.json").exists():
        return StoreChange("none")
    manifest = json.loads((folder / "manifest.json").read_text())
    if manifest.get("graphBuilt") != change.built_on or manifest.get("policy") != policy.name:
        summary = build_profiles(workspace, sandbox)
        return StoreChange("rebuilt", profiles_added=summary.profiles, seconds=time.perf_counter() - started)
    from accord.identity import graph_folder

    staging = workspace.lake.staging(f"privacy-profile-{sandbox_id}")
    removed = np.array(sorted(change.old_graphs), dtype=np.int64)
    nodes = change.nodes
    keyed = pa.table({"key": nodes["key"].cast(pa.int64()), "node": nodes["node"],
                      "graph": pc.cast(nodes["graph"], pa.int64())})  # fmt: skip
    counts = {"fragments": 0, "events": 0}
    removed_rows = {"fragments": 0, "events": 0}
    _identities(folder, staging, removed, keyed)
    members = keyed.select(["graph", "node"]).sort_by([("graph", "ascending"), ("node", "ascending")])
    _write_interleaved(folder / "members.arrow", staging / "members.arrow", removed, members)
    people = np.unique(members["graph"].to_numpy())
    batches = set(manifest["batches"])
    con = connect(workspace.settings)
    try:
        built_on = {b: t for b, t in _batches.items() if b in batches}
        times = ibis.memtable({"batch_id": list(built_on), "completed": [t.isoformat() if t else None
                                                                         for t in built_on.values()]},
                              schema={"batch_id": "string", "completed": "string"})  # fmt: skip
        with arrow_tables(con, {"_erasure_nodes": keyed.select(["key", "graph"]),
                                "_erasure_records": change.records}) as tables:  # fmt: skip
            for dataset in datasets:
                kind = "fragments" if dataset.class_name == "profile" else "events"
                old = folder / f"{kind}-{dataset.id}.arrow"
                if not old.exists():
                    continue
                table, _ = open_dataset(workspace, con, sandbox, dataset.name, provenance=True, batches=batches)
                rows = dataset_rows(table, dataset, tables["_erasure_nodes"], tables["_erasure_records"], times)
                order = ["graph"] if kind == "fragments" else ["graph", ibis.desc("timestamp")]
                fresh = to_arrow(con, rows.order_by(order))
                written, dropped = _write_interleaved(old, staging / old.name, removed, fresh,
                                                      renumbering if kind == "fragments" else None)  # fmt: skip
                counts[kind] += written
                removed_rows[kind] += dropped
        # every merged profile again: a tie between two fragments of one batch is broken by record id, and the
        # erasure renumbered the records after the rows it took out (the merge of 1,000,000 people takes seconds)
        everyone = distinct_sorted(_read_mapped(staging / "members.arrow")["graph"].to_numpy())
        merged = [(staging / f"fragments-{d.id}.arrow", d.id) for d in datasets
                  if d.class_name == "profile" and (staging / f"fragments-{d.id}.arrow").exists()]  # fmt: skip
        profiles, _partitions = _merge_in_partitions(con, everyone, merged, policy, staging / "profiles.parquet")
        _write_fingerprints(con, staging)
        # the links again, whole, from the graph files the erasure rewrote: a link of a changed graph is also
        # under the graph at its other end, and its record ids were renumbered with the lake's
        write_arrow(con, [links_by_graph(con, graph_folder(workspace, sandbox_id))], staging / LINKS)
    finally:
        con.disconnect()
    for other in folder.iterdir():  # what the splice does not write (none today) goes along unchanged
        if not (staging / other.name).exists() and other.is_file() and other.name != "manifest.json":
            shutil.copy2(other, staging / other.name)
    records = graph_folder(workspace, sandbox_id) / "records.parquet"
    manifest |= {"fragments": counts["fragments"], "events": counts["events"], "profiles": profiles,
                 "graphBuilt": records.stat().st_mtime_ns, "erasedAt": time.time()}  # fmt: skip
    (staging / "manifest.json").write_text(json.dumps(manifest))
    before = np.unique(_read_mapped(folder / "members.arrow")["graph"].to_numpy())
    dropped_profiles = int(np.isin(removed, before).sum())
    ensure_held(workspace.catalog)
    replace_folder(staging, folder)
    return StoreChange("spliced", dropped_profiles, len(people), removed_rows["fragments"], removed_rows["events"],
                       time.perf_counter() - started)  # fmt: skip


def _identities(folder: Path, staging: Path, removed: np.ndarray, keyed: pa.Table) -> None:
    """`identities.arrow` (sorted by key) without the removed graphs' identities, with the new ones in order."""
    old = _read_mapped(folder / "identities.arrow")
    kept = old.filter(pc.invert(pc.is_in(old["graph"], value_set=pa.array(removed, pa.int64()))))
    both = pa.concat_tables([kept, keyed.select(old.schema.names).cast(old.schema)])
    _write_ipc(staging / "identities.arrow", both.schema, [both.take(pc.sort_indices(both["key"]))])


def _write_interleaved(source: Path, target: Path, removed: np.ndarray, fresh: pa.Table,
                       renumbering: Renumbering | None = None) -> tuple[int, int]:  # fmt: skip
    """A file sorted by graph, without the removed graphs' rows and with `fresh` (sorted alike) in its places;
    record ids renumbered (fragments). Returns (rows written, rows dropped)."""
    old = _read_mapped(source)
    fresh = fresh.select(old.schema.names).cast(old.schema)
    if renumbering and "_acc_record" in old.schema.names:  # the kept rows' records as the lake numbers them now
        index = old.schema.get_field_index("_acc_record")
        old = old.set_column(index, "_acc_record", renumbering.apply(old["_acc_record"]))
    pieces, dropped = _interleaved(old, removed, fresh)
    _write_ipc(target, old.schema, pieces)
    return old.num_rows - dropped + fresh.num_rows, dropped


def _interleaved(old: pa.Table, removed: np.ndarray, fresh: pa.Table) -> tuple[list[pa.Table], int]:
    """Slices of `old` (sorted by graph) without the rows of the `removed` graphs, with the rows of `fresh`
    (sorted by graph, none of a graph `old` keeps) where their graphs belong; and how many rows were dropped.

    Slices share the old file's memory; `_write_ipc` copies each as it writes it."""
    graphs = old["graph"].to_numpy()
    lefts, rights = np.searchsorted(graphs, removed, "left"), np.searchsorted(graphs, removed, "right")
    dropped = [(int(a), int(b)) for a, b in zip(lefts, rights, strict=True) if b > a]
    positions = np.searchsorted(graphs, fresh["graph"].to_numpy(), "left")
    pieces: list[pa.Table] = []
    state = {"cursor": 0, "drop": 0}

    def old_rows(upto: int) -> Iterator[pa.Table]:
        while state["cursor"] < upto:
            cursor = state["cursor"]
            while state["drop"] < len(dropped) and dropped[state["drop"]][1] <= cursor:
                state["drop"] += 1
            nearest = dropped[state["drop"]] if state["drop"] < len(dropped) else None
            if nearest is not None and nearest[0] <= cursor:
                state["cursor"] = nearest[1]
                continue
            stop = min(upto, nearest[0]) if nearest is not None else upto
            yield old.slice(cursor, stop - cursor)
            state["cursor"] = stop

    start = 0
    while start < len(positions):
        end = start + 1
        while end < len(positions) and positions[end] == positions[start]:
            end += 1
        pieces.extend(old_rows(int(positions[start])))
        pieces.append(fresh.slice(start, end - start))
        start = end
    pieces.extend(old_rows(len(graphs)))
    return pieces, sum(b - a for a, b in dropped)


def _write_ipc(path: Path, schema: pa.Schema, pieces: list[pa.Table]) -> None:
    """An Arrow IPC file, uncompressed (the store maps it into memory), of the pieces in turn.

    Each piece is copied first: Arrow writes a slice of a text column with its whole value buffer, so a slice
    of the old file would carry the bytes of the rows taken out beside it into the new one."""
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for piece in pieces:
            if piece.num_rows:
                writer.write_table(piece.take(np.arange(piece.num_rows)))


__all__ = ["FINGERPRINTS", "StoreChange", "follow_graphs"]
