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
import pyarrow.compute as pc
from ibis import _

from accord.destinations.changed import comparable, flow_digest, only_changed, read_fingerprints, with_fingerprints
from accord.destinations.flows import OPERATION, Audience, FlowDefinition
from accord.destinations.naming import NameValues, file_names, render
from accord.destinations.spec import DestinationSpec, ExportFile
from accord.destinations.sync import KEY, key_samples, mandatory_targets, record_key, records_held, sync_changes
from accord.engine import arrow_tables, drop_temporary_table, field_at, sql_string, temporary_table
from accord.segment import COMPUTED_PREFIX, ComputedColumns

if TYPE_CHECKING:
    import ibis.expr.types as ir

STATUS = "segmentMembership.status"
"""The column that says whether a profile is in the audience (`realized`, `existing`) or left it (`exited`)."""
REFUSED = ("n", "dn")
"""Consent values that refuse (`consents.marketing.<channel>.val`, `consents.share.val`...): no, and denied by
default."""
CONSENT_OF_ACTION = {
    "exportToThirdParty": "consents.share.val",
    "segmentMatch": "consents.share.val",
    "onsitePersonalization": "consents.personalize.content.val",
    "onsiteAdvertising": "consents.personalize.content.val",
    "crossSiteTargeting": "consents.personalize.content.val",
    "singleIdentityPersonalization": "consents.personalize.content.val",
}
"""The consent a marketing action needs besides the channel's: sharing data with others, or personalising."""


def consent_fields(flow: FlowDefinition, spec: DestinationSpec) -> dict[str, str]:
    """The consents a flow's profiles must not have refused, by the column that reads each: its marketing
    channel's, and those its marketing actions need (`CONSENT_OF_ACTION`). A profile whose dataset has no such
    field has refused nothing."""
    found: dict[str, str] = {}
    channel = flow.consent_channel or spec.consent_channel
    if channel:
        found["_consent"] = f"consents.marketing.{channel}.val"
    for action in sorted({*spec.marketing_actions, *flow.marketing_actions}):
        path = CONSENT_OF_ACTION.get(action)
        if path is not None:
            found[f"_consent_{path.split('.')[1]}"] = path
    return found


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
    fingerprints: Path | None = None
    """The profile store's fingerprints, when it has them (`accord.destinations.changed`)."""
    computed: ComputedColumns | None = None
    """The values of the computed attributes the flow maps (segmentation computes them), joined by graph."""


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
    """What this export sent (profile and row hash), to keep once the destination has accepted it; with a sync
    mode, the records the destination holds once it has acknowledged every operation (`accord.destinations.sync`)."""
    sent: pa.Table | None = None
    """Sync modes: the key and profile of every row sent, to tell which records a failed profile leaves unsent."""
    previous: pa.Table | None = None
    """Sync modes: the snapshot this export compared with (what failed records go back to)."""
    touched: tuple[pa.Table, pa.Table] | None = None
    """When only the profiles that changed were read (`changed.py`): the members it built rows for and the
    snapshot's rows it compared with; the run merges what it sent into the last snapshot."""
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Sync modes, dry runs: a few keys of each operation."""


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
    profile_ids: bool = False,
) -> AudienceExport:
    """Build one audience's files in `staging` (none when `write` is false: a dry run counts only); with
    `profile_ids`, each row keeps its profile's id (`graph`), for a streaming delivery to read them back."""
    incremental = flow.export_mode == "incremental" and previous is not None
    result = AudienceExport(names.segment_id, names.segment_name, full=not incremental)
    members = inputs.memberships if inputs.memberships is not None else _no_members()
    fingerprints, digest = read_fingerprints(inputs.fingerprints), flow_digest(flow, spec)
    everyone = None
    if comparable(flow, previous, fingerprints):
        assert previous is not None and fingerprints is not None
        everyone = int(pc.sum(pc.less_equal(members["status"], 1)).as_py() or 0)
        members, previous = only_changed(con, members, previous, fingerprints, digest)
        result.touched = (members, previous)
    snapshot = previous if previous is not None else _no_snapshot()
    prints = {"_prints": fingerprints} if fingerprints is not None else {}
    if inputs.computed is not None and inputs.computed.values is not None:
        prints["_computed"] = inputs.computed.values
    with arrow_tables(con, {"_members": members, "_identities": _read_arrow(inputs.identities),
                            "_previous": snapshot, **prints}) as tables:  # fmt: skip
        rows = _rows(con, inputs, flow, spec, tables, few=result.touched is not None)
        if _nothing_to_leave_out(flow, spec, incremental) and not apply_policies(rows, flow)[1]:
            return _export_every_member(con, rows, members, tables, flow, spec, names, staging, result, write,
                                        profile_ids, digest)  # fmt: skip
        if flow.export_mode == "incremental":  # hashed as the join is made: the snapshot and the changes read it
            rows = rows.mutate(_hash=_row_hash(rows, flow))
        staged = temporary_table(con, f"_export_{names.segment_id}", rows)  # the join, made once
        try:
            kept, excluded, later = _exclusions(staged, flow, spec)
            # read as Arrow, not as pandas frames: a run has no other use for pandas, a third of a second to load
            aggregate = staged.aggregate(received=staged.count(where=~staged["_exited"]), **excluded)
            counts = con.to_pyarrow(aggregate).to_pylist()[0]
            result.profiles_received = int(counts["received"]) if everyone is None else everyone
            result.excluded = {reason: int(counts[reason]) for reason in excluded if counts[reason]}
            result.excluded |= {reason: n for reason, count in later.items() if (n := _number(con, count))}
            if flow.sync_mode is not None:
                keyed = kept.mutate(**{KEY: record_key(kept, flow)})  # its `_hash` made with the join
                known = tables["_previous"] if previous is not None else None
                sent, compared = sync_changes(keyed, known, flow, STATUS)
                out = temporary_table(con, f"_out_{names.segment_id}", sent)  # the operations: few, after the first
                if not write:
                    result.samples = key_samples(con, out, flow)
                else:
                    result.previous = previous
                    result.snapshot = con.to_pyarrow(records_held(compared, out, flow))
                    if profile_ids:  # streaming: which records a failed profile leaves unsent
                        result.sent = con.to_pyarrow(out.select(KEY, "graph"))
            elif flow.export_mode == "incremental":
                hashes = kept.filter(~kept["_exited"]).select("graph", "_hash")
                result.snapshot = con.to_pyarrow(with_fingerprints(hashes, tables.get("_prints"), digest))
                if incremental:
                    changes = _changes(kept, tables["_previous"], staged)
                    out = temporary_table(con, f"_out_{names.segment_id}", changes)
                else:  # the first: every member
                    out = kept.mutate(_change=ibis.literal("added"))
            else:
                out = kept.mutate(_change=ibis.literal("added"))
            identity_targets = [m.target for m in flow.mapping if m.namespace]
            summary = con.to_pyarrow(
                out.group_by("_change").aggregate(
                    n=out.count(), **{f"_i{i}": out[t].count() for i, t in enumerate(identity_targets)}
                )
            ).to_pylist()
            result.changes = {str(r["_change"]): int(r["n"]) for r in summary}
            result.rows = sum(result.changes.values())
            result.identities = sum(int(r[f"_i{i}"]) for r in summary for i in range(len(identity_targets)))
            if write:
                result.files = _write_files(con, out, flow, spec, names, staging, result.rows, profile_ids)
        finally:
            for name in (f"_export_{names.segment_id}", f"_out_{names.segment_id}"):
                drop_temporary_table(con, name)
    return result


def _number(con: Any, scalar: Any) -> int:
    return int(con.to_pyarrow(scalar).as_py() or 0)


def _nothing_to_leave_out(flow: FlowDefinition, spec: DestinationSpec, incremental: bool) -> bool:
    """An export of every member that leaves no one out: no consent, mandatory fields or dedup key to apply (a full
    one, or the first of an incremental flow; not one with a sync mode)."""
    return (not incremental and flow.sync_mode is None and not consent_fields(flow, spec) and not flow.mandatory
            and not flow.dedup_key)  # fmt: skip


def _export_every_member(con: Any, rows: ir.Table, members: pa.Table, tables: dict[str, Any], flow: FlowDefinition,
                         spec: DestinationSpec, names: NameValues, staging: Path, result: AudienceExport,
                         write: bool, profile_ids: bool, digest: int) -> AudienceExport:  # fmt: skip
    """Every member goes out: the join is written as it is made, in one pass (no staged copy of it), and the
    counts come from the memberships and identities alone: one row per member, and a member carries an identity
    target when it has a value of that namespace."""
    received = int(pc.sum(pc.less_equal(members["status"], 1)).as_py() or 0)
    result.profiles_received = result.rows = received
    result.changes = {"added": received} if received else {}
    if flow.export_mode == "incremental":  # the first: what it sends, for the next to compare with
        hashed = rows.select("graph", _hash=_row_hash(rows, flow))
        result.snapshot = con.to_pyarrow(with_fingerprints(hashed, tables.get("_prints"), digest))
    if write:
        result.files = _write_files(con, rows.mutate(_change=ibis.literal("added")), flow, spec, names, staging,
                                    received, profile_ids)  # fmt: skip
    targets = [m.target for m in flow.mapping if m.namespace]
    counted = _values_in_parquet(result.files, targets) if result.files and flow.file.format == "parquet" else None
    if counted is not None:  # what the files' own statistics say
        result.identities = counted
        return result
    mapped = [m.namespace for m in flow.mapping if m.namespace]
    if mapped:  # in one pass over the identities: which namespaces each member has a value of
        relevant, prefix = _of_namespaces(tables["_identities"], mapped)
        has = relevant.group_by("graph").aggregate(
            **{ns: relevant.node.startswith(p).any().cast("int64") for ns, p in prefix.items()}
        )
        has = has.semi_join(tables["_members"].filter(_.status <= 1), "graph")
        found = con.to_pyarrow(has.aggregate(**{ns: has[ns].sum() for ns in prefix})).to_pylist()[0]
        result.identities = sum(int(found[ns] or 0) for ns in mapped)  # a namespace mapped twice fills two columns
    return result


def _values_in_parquet(files: list[ExportFile], columns: list[str]) -> int | None:
    """How many values (not nulls) the columns hold in Parquet files, from the statistics of their row groups;
    None when a row group has none to say."""
    import pyarrow.parquet as pq

    total = 0
    for file in files:
        meta = pq.ParquetFile(file.path).metadata
        index = {meta.schema.column(i).name: i for i in range(meta.num_columns)}
        for number in range(meta.num_row_groups):
            group = meta.row_group(number)
            for column in columns:
                statistics = group.column(index[column]).statistics
                if statistics is None or not statistics.has_null_count:
                    return None
                total += group.num_rows - statistics.null_count
    return total


def _rows(
    con: Any,
    inputs: ExportInputs,
    flow: FlowDefinition,
    spec: DestinationSpec,
    tables: dict[str, Any],
    few: bool = False,
) -> ir.Table:
    """Members and (for incremental exports) those who left, with their mapped fields and what the exclusions read."""
    members, previous = tables["_members"], tables["_previous"]
    current = members.filter(members.status <= 1).select("graph", "status")
    left = previous.anti_join(current, "graph").select(graph=previous.graph, status=ibis.literal(2, "int8"))
    if flow.export_mode == "incremental" and flow.sync_mode is None:  # sync modes find what left by its key
        current = current.union(left)
    profiles = con.read_parquet(str(inputs.profiles))
    columns: dict[str, Any] = {}
    for entry in flow.mapping:
        if entry.namespace is None:
            columns[entry.target] = _field(profiles, entry.source, inputs.leaf_types)
    for column, path in consent_fields(flow, spec).items():
        columns[column] = _field(profiles, path, {}).cast("string")
    attributes = profiles.select(graph=profiles.graph, **columns) if columns else profiles.select("graph")
    if inputs.computed is not None:
        mapped = [e for e in flow.mapping if e.namespace is None and e.source.startswith(COMPUTED_PREFIX)]
        computed = {e.target: e.source for e in mapped}
        attributes = inputs.computed.join(attributes, computed, tables.get("_computed"))
    joined = current.left_join(attributes, current.graph == attributes.graph).select(
        current.graph, current.status, *[attributes[c] for c in columns]
    )
    identities = tables["_identities"]
    if few:  # the profiles that changed: their identities picked before they are pivoted, not after
        identities = identities.semi_join(current.select("graph"), "graph")
    joined = _with_identities(joined, identities, flow)
    status = ibis.cases((joined.status == 0, "realized"), (joined.status == 1, "existing"), else_="exited")
    return joined.mutate(**{STATUS: status, "_exited": joined.status == 2}).drop("status")


def _field(profiles: ir.Table, path: str, types: dict[str, Any]) -> Any:
    try:
        return field_at(profiles, path)
    except (AttributeError, KeyError, TypeError, ibis.common.exceptions.IbisTypeError):
        return ibis.null().cast(types.get(path, "string"))  # no dataset has filled this field yet


def _with_identities(rows: ir.Table, identities: ir.Table, flow: FlowDefinition) -> ir.Table:
    """The mapped identity namespaces as columns: each profile's first value of a namespace (in value order),
    or, when the dedup key is an identity, one row per value of that namespace. Nodes are picked by their
    namespace's prefix and cut after the pivot: no node is split."""
    wanted = {m.target: m.namespace for m in flow.mapping if m.namespace}
    if not wanted:
        return rows
    relevant, prefix = _of_namespaces(identities, list(wanted.values()))
    key = flow.dedup_key[0] if len(flow.dedup_key) == 1 and flow.dedup_key[0] in wanted else None
    firsts = {t: ns for t, ns in wanted.items() if t != key}
    pivot = relevant.group_by("graph").aggregate(
        **{t: relevant.node.min(where=relevant.node.startswith(prefix[ns])) for t, ns in firsts.items()}
    )
    pivot = pivot.mutate(**{t: pivot[t].substr(len(prefix[ns])) for t, ns in firsts.items()})
    out = rows.left_join(pivot, rows.graph == pivot.graph).drop("graph_right")
    if key is not None:
        start = prefix[wanted[key]]
        values = relevant.filter(relevant.node.startswith(start)).select(
            graph=_.graph, **{key: _.node.substr(len(start))}
        )
        out = out.left_join(values, out.graph == values.graph).drop("graph_right")
    return out


def _of_namespaces(identities: ir.Table, namespaces: list[str]) -> tuple[ir.Table, dict[str, str]]:
    """The identity nodes of these namespaces (picked by prefix: no node is split), and each namespace's prefix."""
    prefix = {namespace: f"{namespace}{SEPARATOR}" for namespace in sorted(set(namespaces))}
    return identities.filter(ibis.or_(*[identities.node.startswith(p) for p in prefix.values()])), prefix


def _exclusions(
    rows: ir.Table, flow: FlowDefinition, spec: DestinationSpec
) -> tuple[ir.Table, dict[str, Any], dict[str, Any]]:
    """The rows that go out, and how many each reason left out, in order: consent, missing mandatory fields
    (both counted in one pass over `rows`), the data-usage policies, duplicates of the dedup key (counted on
    what the earlier reasons kept). Exits are never left out: the destination must be told."""
    staying = ~rows["_exited"]
    counts: dict[str, Any] = {}
    refused = ibis.literal(False)
    consents = consent_fields(flow, spec)
    if consents:
        refused = ibis.or_(*[rows[column].isin(REFUSED).fill_null(False) for column in consents])
        counts["consent"] = rows.count(where=staying & refused)
    mandatory = mandatory_targets(flow)
    if mandatory:
        missing = ibis.or_(*[rows[t].isnull() for t in mandatory])
        counts["missingMandatoryAttribute"] = rows.count(where=staying & ~refused & missing)
        refused = refused | missing
    kept = rows.filter(rows["_exited"] | ~refused)
    kept, later = apply_policies(kept, flow)
    if flow.dedup_key:
        key = [kept[t] for t in flow.dedup_key]
        ranked = kept.mutate(_rank=ibis.row_number().over(group_by=key, order_by=[kept.graph]))
        duplicate = (ranked._rank > 0) & ibis.and_(*[ranked[t].notnull() for t in flow.dedup_key])
        later = {**later, "duplicate": ranked.count(where=duplicate)}
        kept = ranked.filter(~duplicate).drop("_rank")
    return kept, counts, later


def _row_hash(rows: ir.Table, flow: FlowDefinition) -> Any:
    """A hash of what a profile's row carries (its status aside: staying in is no change)."""
    values = [rows[t].cast("string").fill_null("\x1d") for t in flow.targets()]
    return ibis.literal("\x1e").join(values).hash()


def _changes(rows: ir.Table, previous: ir.Table, every: ir.Table) -> ir.Table:
    """What changed since the snapshot: `added` (a new profile), `changed` (its row differs), `removed` (it left
    the audience, or went out before and is left out now: a consent refused since, say, which the destination
    must hear of as an exit). `every`: the rows before anything was left out."""
    staying = rows.filter(~rows["_exited"])
    fresh = staying.anti_join(previous, [staying.graph == previous.graph, staying._hash == previous._hash])
    kind = ibis.cases((fresh.graph.isin(previous.graph), "changed"), else_="added")
    exits = rows.filter(rows["_exited"]).mutate(_change=ibis.literal("removed"))
    members = every.filter(~every["_exited"])
    withdrawn = members.semi_join(previous, members.graph == previous.graph).anti_join(rows, "graph")
    withdrawn = withdrawn.mutate(**{STATUS: ibis.literal("exited"), "_exited": ibis.literal(True),
                                    "_change": ibis.literal("removed")})  # fmt: skip
    return fresh.mutate(_change=kind).union(exits).union(withdrawn.select(exits.columns))


def _write_files(con: Any, out: ir.Table, flow: FlowDefinition, spec: DestinationSpec, names: NameValues,
                 staging: Path, total: int, profile_ids: bool = False) -> list[ExportFile]:  # fmt: skip
    """The audience's `total` rows as files, split every `splitRows` rows. Text files and split files are written
    in profile order; a single Parquet file in the order the join yields its rows: a columnar file is not read by
    position, and sorting wide rows under the memory limit spills to disk and doubles the export's time."""
    settings = flow.file
    columns = [*flow.targets(), STATUS, *([OPERATION] if flow.sync_mode else []), *(["graph"] if profile_ids else [])]
    split = settings.split_rows or (spec.files.split_rows if spec.files else 5_000_000)
    parts = max(1, -(-total // split))
    stem = render(settings.name_template, names)
    written = []
    if parts == 1:
        pieces = [out if settings.format == "parquet" else out.order_by("graph")]
    else:
        ordered = out.mutate(_n=ibis.row_number().over(order_by=[out.graph]))
        pieces = [ordered.filter(ordered._n.between(n * split, (n + 1) * split - 1)).order_by("_n")
                  for n in range(parts)]  # fmt: skip
    for index, name in enumerate(file_names(stem, settings.format, settings.compression, parts)):
        path = staging / f"{names.segment_id}-{index + 1}{Path(name).suffix}"
        rows = _copy(con, pieces[index].select(*columns), path, flow)
        written.append(ExportFile(path=path, name=name, rows=rows, size=path.stat().st_size))
    return written


def _copy(con: Any, expr: ir.Table, path: Path, flow: FlowDefinition) -> int:
    """Write rows with the engine's COPY: the query compiled from the expression, fixed option names, and every
    value a flow gives (delimiter, quote, null text, the path) quoted by the expression builder (`sql_string`)."""
    settings = flow.file
    if settings.format == "parquet":
        options = f"FORMAT parquet, COMPRESSION {'gzip' if settings.compression == 'gzip' else 'snappy'}"
    elif settings.format == "jsonl":
        # NaN and infinities have no JSON form (the engine would write bare `NaN`): they go out as null
        floats = [name for name, dtype in expr.schema().items() if dtype.is_floating()]
        expr = expr.mutate(**{name: ibis.ifelse(expr[name].isnan() | expr[name].isinf(), ibis.null(), expr[name])
                              for name in floats})  # fmt: skip
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
