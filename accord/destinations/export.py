"""From an audience to files: who goes out, with what, under which names; all of it in the engine.

For one audience of a flow: its members (realized or existing) joined to their merged profiles and
identities, the mapped fields under their target names and `segmentMembership.status`; then, in this
order, profiles that refused the destination's channel (consent), the data-usage policies' place
(`apply_policies`), profiles missing a mandatory field, and duplicates of the dedup key are left out
and counted; what is kept is written by the engine (`COPY ... TO`) as CSV, JSON lines or Parquet,
split every N rows. An incremental export sends only what changed since the last export the
destination accepted (new members, changed rows, and exits marked `exited`), by comparing a hash of
each profile's row with the snapshot that export left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa
import sqlglot.expressions as sge
from ibis import _

from accord.destinations.flows import Audience, FlowDefinition
from accord.destinations.naming import NameValues, file_names, render
from accord.destinations.spec import DestinationSpec, ExportFile
from accord.engine import arrow_tables, field_at, sql_string

if TYPE_CHECKING:
    import ibis.expr.types as ir

STATUS = "segmentMembership.status"
"""The column that says whether a profile is in the audience (`realized`, `existing`) or left it (`exited`)."""
REFUSED = ("n", "dn")
"""Consent values that refuse a channel (`consents.marketing.<channel>.val`): no, and denied by default."""
SEPARATOR = "\x1f"
"""Between a namespace and a value in the profile store's identities (`Email\x1fa@b.com`)."""


@dataclass(frozen=True)
class ExportInputs:
    """Where an export reads from: the profile store's files and the audience's memberships."""

    profiles: Path
    identities: Path
    memberships: pa.Table | None
    leaf_types: dict[str, Any]
    """The union profile schema's leaves and their engine types, for fields no dataset has filled yet."""


@dataclass
class AudienceExport:
    """What one audience's export holds, and what it left out."""

    segment_id: str
    segment_name: str
    profiles_received: int = 0
    rows: int = 0
    identities: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    """Rows by kind: `added` (new members), `changed`, `removed` (exits); a full export adds them all."""
    full: bool = True
    """Whether every member went out (a full export, or the first incremental one), not only the changes."""
    files: list[ExportFile] = field(default_factory=list)
    snapshot: pa.Table | None = None
    """What this export sent (profile and row hash), to keep once the destination has accepted it."""


def apply_policies(rows: ir.Table, flow: FlowDefinition) -> tuple[ir.Table, dict[str, ir.Scalar]]:
    """Rows kept by the data-usage policies, and how many each reason left out.

    The place where governance plugs in: no policy is enforced yet, so every row is kept."""
    return rows, {}


def export_audience(
    con: Any,
    inputs: ExportInputs,
    flow: FlowDefinition,
    spec: DestinationSpec,
    audience: Audience,
    names: NameValues,
    staging: Path,
    previous: pa.Table | None,
    write: bool = True,
) -> AudienceExport:
    """Build one audience's files in `staging` (none when `write` is false: a dry run counts only)."""
    incremental = flow.export_mode == "incremental" and previous is not None
    result = AudienceExport(names.segment_id, names.segment_name, full=not incremental)
    members = inputs.memberships if inputs.memberships is not None else _no_members()
    snapshot = previous if previous is not None else _no_snapshot()
    with arrow_tables(con, {"_members": members, "_identities": _read_arrow(inputs.identities),
                            "_previous": snapshot}) as tables:  # fmt: skip
        rows = _rows(con, inputs, flow, spec, tables)
        staged = con.create_table(f"_export_{names.segment_id}", rows, temp=True)
        try:
            kept, excluded = _exclusions(staged, flow, spec)
            hashed = kept.mutate(_hash=_row_hash(kept, flow))
            out = _changes(hashed, tables["_previous"]) if incremental else hashed.mutate(_change=ibis.literal("added"))
            out = con.create_table(f"_out_{names.segment_id}", out, temp=True)
            result.profiles_received = int(con.execute(staged.count(where=~staged["_exited"])))
            result.excluded = {reason: n for reason, count in excluded.items() if (n := int(con.execute(count)))}
            changes = con.execute(out.group_by("_change").aggregate(n=out.count()))
            result.changes = {str(k): int(n) for k, n in zip(changes["_change"], changes["n"], strict=True)}
            result.rows = sum(result.changes.values())
            for entry in flow.mapping:
                if entry.namespace:
                    result.identities += int(con.execute(out[entry.target].count()))
            result.snapshot = con.to_pyarrow(hashed.filter(~hashed["_exited"]).select("graph", "_hash"))
            if write:
                result.files = _write_files(con, out, flow, spec, names, staging)
        finally:
            for name in (f"_export_{names.segment_id}", f"_out_{names.segment_id}"):
                # Ibis 12 cannot drop a temporary table of DuckDB (it names its schema wrongly)
                con.raw_sql(f"DROP TABLE IF EXISTS {sge.to_identifier(name, quoted=True).sql('duckdb')}")
    return result


def _rows(
    con: Any, inputs: ExportInputs, flow: FlowDefinition, spec: DestinationSpec, tables: dict[str, Any]
) -> ir.Table:
    """Members and (for incremental exports) those who left, with their mapped fields and what the exclusions read."""
    members, previous = tables["_members"], tables["_previous"]
    current = members.filter(members.status <= 1).select("graph", "status")
    left = previous.anti_join(current, "graph").select(graph=previous.graph, status=ibis.literal(2, "int8"))
    if flow.export_mode == "incremental":
        current = current.union(left)
    profiles = con.read_parquet(str(inputs.profiles))
    columns: dict[str, Any] = {}
    for entry in flow.mapping:
        if entry.namespace is None:
            columns[entry.target] = _field(profiles, entry.source, inputs.leaf_types)
    channel = flow.consent_channel or spec.consent_channel
    if channel:
        columns["_consent"] = _field(profiles, f"consents.marketing.{channel}.val", {}).cast("string")
    attributes = profiles.select(graph=profiles.graph, **columns) if columns else profiles.select("graph")
    joined = current.left_join(attributes, current.graph == attributes.graph).select(
        current.graph, current.status, *[attributes[c] for c in columns]
    )
    joined = _with_identities(joined, tables["_identities"], flow)
    status = ibis.cases((joined.status == 0, "realized"), (joined.status == 1, "existing"), else_="exited")
    return joined.mutate(**{STATUS: status, "_exited": joined.status == 2}).drop("status")


def _field(profiles: ir.Table, path: str, types: dict[str, Any]) -> Any:
    try:
        return field_at(profiles, path)
    except (AttributeError, KeyError, TypeError, ibis.common.exceptions.IbisTypeError):
        return ibis.null().cast(types.get(path, "string"))  # no dataset has filled this field yet


def _with_identities(rows: ir.Table, identities: ir.Table, flow: FlowDefinition) -> ir.Table:
    """The mapped identity namespaces as columns: each profile's first value of a namespace (in value order),
    or, when the dedup key is an identity, one row per value of that namespace."""
    wanted = {m.target: m.namespace for m in flow.mapping if m.namespace}
    if not wanted:
        return rows
    split = identities.mutate(_ns=identities.node.split(SEPARATOR)[0],
                              _value=identities.node.split(SEPARATOR)[1])  # fmt: skip
    split = split.filter(split._ns.isin(sorted(set(wanted.values()))))
    key = flow.dedup_key[0] if len(flow.dedup_key) == 1 and flow.dedup_key[0] in wanted else None
    pivot = split.group_by("graph").aggregate(
        **{t: split._value.min(where=split._ns == ns) for t, ns in wanted.items() if t != key}
    )
    out = rows.left_join(pivot, rows.graph == pivot.graph).drop("graph_right")
    if key is not None:
        values = split.filter(split._ns == wanted[key]).select(graph=_.graph, **{key: _._value})
        out = out.left_join(values, out.graph == values.graph).drop("graph_right")
    return out


def _exclusions(rows: ir.Table, flow: FlowDefinition, spec: DestinationSpec) -> tuple[ir.Table, dict[str, Any]]:
    """The rows that go out, and how many each reason left out (exits are never left out: they must be told)."""
    staying = ~rows["_exited"]
    counts: dict[str, Any] = {}
    kept = rows
    if flow.consent_channel or spec.consent_channel:
        refused = staying & rows["_consent"].isin(REFUSED)
        counts["consent"] = rows.count(where=refused)
        kept = kept.filter(kept["_exited"] | ~kept["_consent"].isin(REFUSED).fill_null(False))
    kept, policy = apply_policies(kept, flow)
    counts.update(policy)
    if flow.mandatory:
        missing = ibis.or_(*[kept[t].isnull() for t in flow.mandatory])
        counts["missingMandatoryAttribute"] = kept.count(where=missing & ~kept["_exited"])
        kept = kept.filter(~missing | kept["_exited"])
    if flow.dedup_key:
        key = [kept[t] for t in flow.dedup_key]
        ranked = kept.mutate(_rank=ibis.row_number().over(group_by=key, order_by=[kept.graph]))
        keyed = ibis.and_(*[ranked[t].notnull() for t in flow.dedup_key])
        counts["duplicate"] = ranked.count(where=(ranked._rank > 0) & keyed)
        kept = ranked.filter((ranked._rank == 0) | ibis.or_(*[ranked[t].isnull() for t in flow.dedup_key]))
        kept = kept.drop("_rank")
    return kept, counts


def _row_hash(rows: ir.Table, flow: FlowDefinition) -> Any:
    """A hash of what a profile's row carries (its status aside: staying in is no change)."""
    values = [rows[t].cast("string").fill_null("\x1d") for t in flow.targets()]
    return ibis.literal("\x1e").join(values).hash()


def _changes(rows: ir.Table, previous: ir.Table) -> ir.Table:
    """What changed since the snapshot: `added` (a new profile), `changed` (its row differs), `removed` (it left)."""
    staying = rows.filter(~rows["_exited"])
    fresh = staying.anti_join(previous, [staying.graph == previous.graph, staying._hash == previous._hash])
    kind = ibis.cases((fresh.graph.isin(previous.graph), "changed"), else_="added")
    exits = rows.filter(rows["_exited"]).mutate(_change=ibis.literal("removed"))
    return fresh.mutate(_change=kind).union(exits)


def _write_files(con: Any, out: ir.Table, flow: FlowDefinition, spec: DestinationSpec, names: NameValues,
                 staging: Path) -> list[ExportFile]:  # fmt: skip
    settings = flow.file
    columns = [*flow.targets(), STATUS]
    total = int(out.count().to_pyarrow().as_py())
    split = settings.split_rows or (spec.files.split_rows if spec.files else 5_000_000)
    parts = max(1, -(-total // split))
    stem = render(settings.name_template, names)
    written = []
    ordered = out.mutate(_n=ibis.row_number().over(order_by=[out.graph]))
    for index, name in enumerate(file_names(stem, settings.format, settings.compression, parts)):
        part = (
            ordered.filter((ordered._n >= index * split) & (ordered._n < (index + 1) * split)) if parts > 1 else ordered
        )
        path = staging / f"{names.segment_id}-{index + 1}{Path(name).suffix}"
        rows = _copy(con, part.order_by("_n").select(*columns), path, flow)
        written.append(ExportFile(path=path, name=name, rows=rows, size=path.stat().st_size))
    return written


def _copy(con: Any, expr: ir.Table, path: Path, flow: FlowDefinition) -> int:
    """Write rows with the engine's COPY; every option is quoted by the expression builder, never by hand."""
    settings = flow.file
    if settings.format == "parquet":
        options = f"FORMAT parquet, COMPRESSION {'gzip' if settings.compression == 'gzip' else 'uncompressed'}"
    elif settings.format == "jsonl":
        options = f"FORMAT json, COMPRESSION {sql_string('gzip' if settings.compression == 'gzip' else 'none')}"
    else:
        csv = settings.csv
        options = ", ".join([
            "FORMAT csv", f"HEADER {'true' if csv.header else 'false'}",
            f"DELIMITER {sql_string(csv.delimiter)}", f"QUOTE {sql_string(csv.quote)}",
            f"ESCAPE {sql_string(csv.escape)}", f"NULLSTR {sql_string(csv.null_value)}",
            f"COMPRESSION {sql_string('gzip' if settings.compression == 'gzip' else 'none')}",
        ])  # fmt: skip
    result = con.raw_sql(f"COPY ({con.compile(expr)}) TO {sql_string(str(path))} ({options})").fetchone()
    return int(result[0]) if result else 0


def _read_arrow(path: Path) -> pa.Table:
    if not path.exists():
        return pa.table({"graph": pa.array([], pa.int64()), "node": pa.array([], pa.string())})
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def _no_members() -> pa.Table:
    return pa.table({"graph": pa.array([], pa.int64()), "status": pa.array([], pa.int8())})


def _no_snapshot() -> pa.Table:
    return pa.table({"graph": pa.array([], pa.int64()), "_hash": pa.array([], pa.int64())})
