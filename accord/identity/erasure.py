"""What privacy jobs need of identities: who a person is, which rows carry them, and their graphs made again
without them.

A person is the graph an identity belongs to (`people_of`): asking for one of their identities finds the
rows keyed by any of the others. A delete takes out every row carrying one of them (`carries_any`), then
the graphs are made again for the groups of identities those rows touched (`solve_again`): the identities
joined by any link, kept or dropped by the rules, to a person's identity or to an identity an erased row
carried (`affected_identities`). No link leaves such a group, so solving it again from the rows that still
name one of its identities gives what a full build would, and the other graphs do not change: their rows
are rewritten into place with the graph files (`nodes`, `links`, `records`, and the one-record updates
since the last build, `overlay.db`), renumbered where an erased row moved the rows after it
(`lake.Renumbering`). The profile store follows (`profile.erasure`)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Collection, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from ibis.common.exceptions import IbisTypeError

from accord.catalog import resolve_sandbox
from accord.engine import connect, field_at, has_any, to_arrow, values_table
from accord.home import write_whole
from accord.identity.graph import graph_folder, identity_rows, solve_graphs
from accord.identity.matching import matches_file
from accord.identity.namespaces import SEPARATOR, Namespace
from accord.identity.records import record_identities
from accord.identity.rules import rule_for
from accord.identity.store import GraphStore
from accord.jobs import ensure_held
from accord.lake import replace_folder
from accord.secure_delete import compact, securely

if TYPE_CHECKING:
    from accord.lake.erasure import Renumbering
    from accord.workspace import Workspace

WITHIN = "acc_erasure_within"


@dataclass(frozen=True)
class Person:
    """A person as the graphs know them: their graph (None for an identity in no graph) and its identities."""

    graph: int | None
    identities: tuple[tuple[str, str], ...]

    @property
    def nodes(self) -> set[str]:
        return {f"{namespace}{SEPARATOR}{value}" for namespace, value in self.identities}

    def to_document(self) -> dict[str, Any]:
        return {"graphId": str(self.graph) if self.graph is not None else None,
                "identities": [{"namespace": ns, "value": value} for ns, value in self.identities]}  # fmt: skip


def people_of(workspace: Workspace, sandbox: str, identities: Sequence[tuple[str, str]]) -> list[Person]:
    """The people these identities (normalised, as ingestion stores them) belong to: one per graph, each with
    every identity of it; an identity that no graph holds is a person of its own."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
    store = GraphStore(graph_folder(workspace, sandbox_id))
    names = {f"{namespace}{SEPARATOR}{value}": (namespace, value) for namespace, value in identities}
    found = store.nodes_of(set(names)) if store.exists() else {}
    members = store.members_of({node.graph for node in found.values()})
    people = [Person(graph, tuple(sorted((n.namespace, n.id) for n in nodes))) for graph, nodes in
              sorted(members.items())]  # fmt: skip
    alone = [Person(None, (pair,)) for name, pair in sorted(names.items()) if name not in found]
    return people + alone


def wanted_table(con: Any, name: str, identities: Collection[tuple[str, str]]) -> Any:
    """Identities `(namespace, value)` as a table of the connection, for `carries_any`."""
    pairs = sorted(identities)
    return values_table(con, name, {"namespace": ("VARCHAR", [p[0] for p in pairs]),
                                    "value": ("VARCHAR", [p[1] for p in pairs])})  # fmt: skip


def carries_any(table: Any, schema: Any, wanted: Any, known: dict[str, Namespace], present: set[str]) -> Any:
    """A condition: the row carries one of the wanted identities (`wanted`: a table of `namespace`, `value`) in
    an identity field of its schema or in its identityMap, for the namespaces `present` among them; None when
    the schema can hold none of them.

    Identity fields were normalised at ingestion; identityMap ids are compared normalised, as graphs hold
    them. A field that the rows lack (a file older than a field of the schema) holds nothing."""
    conditions = []
    for namespace in sorted(present):
        values = wanted.filter(wanted.namespace == namespace).value
        for descriptor in schema.identities:
            if descriptor.namespace == namespace:
                try:
                    conditions.append(field_at(table, descriptor.path).isin(values))
                except (AttributeError, KeyError, IbisTypeError):
                    continue
        if "identityMap" in schema.fields and "identityMap" in table.columns and namespace in known:
            rule = rule_for(known[namespace])
            ids = table.identityMap[namespace].map(lambda entry, rule=rule: rule.normalize(entry.id))
            conditions.append(has_any(ids, values.collect().as_scalar()).fill_null(False))
    return ibis.or_(*conditions) if conditions else None


def carried_identities(rows: Any, schema: Any, dataset_id: str, known: dict[str, Namespace]) -> Any:
    """`(namespace, id)` of every identity (of a namespace that builds graphs) the rows carry, or None."""
    found = record_identities(rows, schema, dataset_id, known)
    return None if found is None else found.select("namespace", "id").distinct()


def affected_identities(workspace: Workspace, sandbox_id: str, seeds: set[str]) -> set[str]:
    """Every identity joined to one of `seeds` (identity names) by links, kept or dropped, as stored now: the
    groups whose graphs an erasure of rows naming the seeds may change."""
    store = GraphStore(graph_folder(workspace, sandbox_id))
    if not store.exists():
        return set(seeds)
    found, frontier = set(seeds), set(seeds)
    while frontier:
        reached = {end for link in store.links_touching(frontier) for end in (link.a, link.b)}
        frontier = reached - found
        found |= frontier
    return found


@dataclass
class GraphChange:
    """What solving some groups again changed: the graphs they were, and what they are now."""

    old_graphs: set[int]
    """The graphs the affected identities were in (every identity of them was affected), as the last build
    and the one-record updates since had them."""
    built_on: int | None
    """When the graph files the profile store is built on were written before (`records.parquet`, ns)."""
    nodes: pa.Table
    """`(node, namespace, id, graph, key, raw)` of the affected identities still named by a row."""
    records: pa.Table
    """`(record, dataset, graph)` of the records with several identities that name one of them."""
    identities_removed: int
    links_removed: int
    gone: set[str] = field(default_factory=set)
    """The affected identities no row names any more: gone from every graph (what only erased rows carried)."""


def solve_again(workspace: Workspace, sandbox: str, affected: set[str], renumbering: Renumbering) -> GraphChange | None:
    """Make the graphs of the `affected` groups again from the rows that still name them (the lake after an
    erasure), and write every graph file with them in place, renumbered (`renumbering`); None when no graph
    was built yet. The caller holds the sandbox's lock."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
    folder = graph_folder(workspace, sandbox_id)
    store = GraphStore(folder)
    if not store.exists() or not (folder / "nodes.parquet").exists():
        return None
    before = store.nodes_of(affected)
    records_file = folder / "records.parquet"
    built_on = records_file.stat().st_mtime_ns if records_file.exists() else None
    con = connect(workspace.settings)
    try:
        within = values_table(con, WITHIN, {"node": ("VARCHAR", sorted(affected))})
        rows = identity_rows(workspace, con, sandbox)
        solved = None
        if rows is not None and affected:
            named = rows.filter(rows.namespace.concat(SEPARATOR, rows.id).isin(within.node))
            if con.execute(named.count()):
                solved = solve_graphs(con, workspace, sandbox, named, within=within)
        nodes = to_arrow(con, solved.nodes) if solved is not None else None
        links = to_arrow(con, solved.links) if solved is not None else None
        records = to_arrow(con, solved.records) if solved is not None else None
    finally:
        con.disconnect()
    staging = workspace.lake.staging(f"privacy-identity-{sandbox_id}")
    names = pa.array(sorted(affected), pa.string())
    old_nodes = pq.read_table(folder / "nodes.parquet")
    nodes = _same_shape(nodes, old_nodes.schema)
    touched = pc.is_in(old_nodes["node"], value_set=names)
    kept_nodes = old_nodes.filter(pc.invert(touched))
    snapshot_graphs = pc.cast(old_nodes.filter(touched)["graph"], pa.int64()).to_pylist()
    old_graphs = {node.graph for node in before.values()} | set(snapshot_graphs)
    pq.write_table(pa.concat_tables([kept_nodes, nodes]), staging / "nodes.parquet", compression="zstd")
    links_removed = 0
    if (folder / "links.parquet").exists():
        old_links = pq.read_table(folder / "links.parquet")
        touching = pc.or_(pc.is_in(old_links["a"], value_set=names), pc.is_in(old_links["b"], value_set=names))
        kept_links = _renumbered(old_links.filter(pc.invert(touching)), "record", renumbering)
        new_links = _same_shape(links, old_links.schema)
        links_removed = max(0, int(pc.sum(touching).as_py() or 0) - new_links.num_rows)
        pq.write_table(pa.concat_tables([kept_links, new_links]), staging / "links.parquet", compression="zstd")
    if (folder / "records.parquet").exists():
        old_records = pq.read_table(folder / "records.parquet")
        graphs = pa.array(sorted(old_graphs), old_records.schema.field("graph").type)
        kept_records = old_records.filter(pc.invert(pc.is_in(old_records["graph"], value_set=graphs)))
        kept_records = _renumbered(kept_records, "record", renumbering)
        kept_records = kept_records.filter(pc.is_valid(kept_records["record"]))
        records = _same_shape(records, old_records.schema)
        pq.write_table(pa.concat_tables([kept_records, records]), staging / "records.parquet", compression="zstd")
    for other in folder.iterdir():  # anything else of the folder goes along (the overlay is done below)
        if other.name not in ("nodes.parquet", "links.parquet", "records.parquet", "overlay.db") and other.is_file():
            shutil.copy2(other, staging / other.name)
    if store.overlay_file.exists():
        _overlay_without(store.overlay_file, staging / "overlay.db", sorted(affected), renumbering)
    ensure_held(workspace.catalog)
    replace_folder(staging, folder)
    gone = affected - set(nodes["node"].to_pylist())
    _matches_without(workspace, sandbox_id, gone, renumbering)
    if records is None or not isinstance(records, pa.Table):
        records = pa.table({"record": pa.array([], pa.string()), "dataset": pa.array([], pa.string()),
                            "graph": pa.array([], pa.int64())})  # fmt: skip
    removed = len(before) - nodes.num_rows
    return GraphChange(old_graphs, built_on, nodes, records, max(0, removed), links_removed, gone)


def _same_shape(table: pa.Table | None, schema: pa.Schema) -> pa.Table:
    """Rows solved again in the columns and types of the file they go into (an empty table for none)."""
    if table is None:
        return schema.empty_table()
    return table.select(schema.names).cast(schema)


def _renumbered(table: pa.Table, column: str, renumbering: Renumbering) -> pa.Table:
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, renumbering.apply(table[column]))


def _overlay_without(source: Path, target: Path, names: list[str], renumbering: Renumbering) -> None:
    """A copy of the one-record updates without the affected identities and their links, records renumbered;
    the copy keeps nothing of what it dropped (secure delete, then vacuum)."""
    with closing(sqlite3.connect(source, timeout=30)) as db, closing(sqlite3.connect(target)) as copy:
        db.backup(copy)
    with closing(sqlite3.connect(target, isolation_level=None)) as db:
        with securely(db):
            listed = json.dumps(names)
            db.execute("DELETE FROM nodes WHERE node IN (SELECT value FROM json_each(?))", (listed,))
            db.execute("DELETE FROM links WHERE a IN (SELECT value FROM json_each(?1)) "
                       "OR b IN (SELECT value FROM json_each(?1))", (listed,))  # fmt: skip
            if renumbering:
                for table in ("links", "applied"):
                    _renumber_rows(db, table, renumbering)
        compact(db)


def _renumber_rows(db: sqlite3.Connection, table: str, renumbering: Renumbering) -> None:
    """The overlay's record ids (a link's first record, the records applied) as the lake numbers them now."""
    if table == "links":
        rows = db.execute("SELECT a, b, record FROM links WHERE record IS NOT NULL").fetchall()
        now = renumbering.apply(pa.array([r[2] for r in rows], pa.string())).to_pylist()
        db.executemany("UPDATE links SET record = ? WHERE a = ? AND b = ?",
                       [(new, a, b) for (a, b, old), new in zip(rows, now, strict=True) if new != old])  # fmt: skip
        return
    records = [r[0] for r in db.execute("SELECT record FROM applied")]
    now = renumbering.apply(pa.array(records, pa.string())).to_pylist()
    changed = [(old, new) for old, new in zip(records, now, strict=True) if new != old]
    db.executemany("DELETE FROM applied WHERE record = ?", [(old,) for old, _new in changed])
    db.executemany("INSERT OR IGNORE INTO applied VALUES (?)", [(new,) for _old, new in changed if new])


def _matches_without(workspace: Workspace, sandbox_id: str, gone: set[str], renumbering: Renumbering) -> None:
    """The proposed links (probabilistic matching) without those naming an identity no row names any more, or a
    record erased; the others' records renumbered."""
    path = matches_file(workspace, sandbox_id)
    if not path.exists() or not (gone or renumbering):
        return
    table = pq.read_table(path)
    names = pa.array(sorted(gone), pa.string())
    keep = pc.invert(pc.or_(pc.is_in(table["a"], value_set=names), pc.is_in(table["b"], value_set=names)))
    table = table.filter(keep)
    for column in ("a_record", "b_record"):
        if column in table.column_names:
            table = _renumbered(table, column, renumbering)
            table = table.filter(pc.is_valid(table[column]))
    write_whole(path, lambda partial: pq.write_table(table, partial, compression="zstd"))


def removals_naming(session: Any, sandbox_id: str, nodes: set[str]) -> list[dict[str, Any]]:
    """The user's removals (un-merges) of links or identities that name one of these identities."""
    from accord.identity.removals import removal_document

    return [removal_document(r) for r in _removals(session, sandbox_id, nodes)]


def forget_removals(session: Any, sandbox_id: str, nodes: set[str]) -> int:
    """Delete the removals that name one of these identities (once their graphs were solved again: a removal
    applies to the identities it names, which an erasure takes out). The session deletes securely if asked."""
    found = _removals(session, sandbox_id, nodes)
    for record in found:
        session.delete(record)
    return len(found)


def _removals(session: Any, sandbox_id: str, nodes: set[str]) -> list[Any]:
    from sqlalchemy import or_, select

    from accord.catalog import IdentityRemovalRecord

    if not nodes:
        return []
    listed = sorted(nodes)
    query = select(IdentityRemovalRecord).where(IdentityRemovalRecord.sandbox_id == sandbox_id, or_(
        IdentityRemovalRecord.node.in_(listed), IdentityRemovalRecord.other.in_(listed)))  # fmt: skip
    return list(session.scalars(query.order_by(IdentityRemovalRecord.created_at)))
