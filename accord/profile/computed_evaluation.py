"""Evaluating computed attributes: a refresh over every profile, and the streaming fold of one profile.

A refresh computes every active computed attribute of a sandbox at once, in one grouped pass over the
profile store's events (Ibis expressions: each attribute is a filtered aggregate, its events those within
its lookback that its filter keeps), and writes each profile's values atomically (`computed_values.py`).
The segment job refreshes before it evaluates, so that audiences read values of now.

Streaming evaluation (`ComputedFold`) brings a changed profile's values up to date from the events it read:
an attribute that looks back at most 24 hours is computed again from them (streaming reads a profile's last
24 hours); a longer one folds the events since the last refresh into the refreshed value (a count or a sum
grows, a minimum, maximum or most recent value moves), without taking out the events that left its lookback
since: the next refresh does. Folded values are used by the streaming evaluation, not stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from accord.catalog import ComputedAttributeRecord, resolve_sandbox, utcnow
from accord.engine import connect
from accord.errors import AccordError, NotFoundError
from accord.lake import sandbox_job
from accord.profile.computed_attributes import UNITS
from accord.profile.computed_values import (
    COUNT_SUFFIX,
    PREFIX,
    ZERO_WHEN_NONE,
    ActiveAttribute,
    ComputedValues,
    active_attributes,
    values_file,
    with_values,
    write_values,
)
from accord.profile.store import store_folder
from accord.schema import FieldSpec, FieldType, field_dtype, union_schema, value_at
from accord.segment import compile_python, parse_pql
from accord.segment.ast import Events, Method, Node, Path, children
from accord.segment.compiler import event_condition
from accord.segment.evaluator import as_time
from accord.workspace import Workspace

TIMESTAMP = "timestamp('UTC')"
STREAMING_EXACT = timedelta(hours=24)
"""Lookbacks this short are computed again from the events streaming reads (its last 24 hours)."""


def lookback(attribute: ActiveAttribute) -> timedelta:
    duration = attribute.definition["duration"]
    return UNITS[duration["unit"]] * int(duration["count"])


def _filter(attribute: ActiveAttribute) -> Node | None:
    tree = parse_pql(attribute.definition["expression"])
    assert isinstance(tree, Method) and isinstance(tree.target, Events)
    return tree.target.where


def _paths(node: Node | None, out: set[str]) -> set[str]:
    if isinstance(node, Path):
        out.add(node.dotted)
    for child in children(node) if node is not None else ():
        _paths(child, out)
    return out


def refresh_computed_attributes(workspace: Workspace, sandbox: str, now: datetime | None = None) -> dict[str, Any]:
    """Evaluate every active computed attribute of a sandbox over every profile, now; holds the sandbox's lock."""
    with sandbox_job(workspace, sandbox, "computed attributes refresh"):
        return refresh_held(workspace, sandbox, now or utcnow())


def refresh_held(workspace: Workspace, sandbox: str, now: datetime) -> dict[str, Any]:
    """`refresh_computed_attributes` for a caller that holds the sandbox's lock (the segment job)."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        attributes = active_attributes(session, sandbox)
        event_types = {p: field_dtype(s) for p, s in union_schema(session, sandbox, "experienceevent").leaves().items()}
    if not attributes:
        return {"evaluated": [], "evaluatedAt": None, "profiles": 0}
    folder = store_folder(workspace, sandbox_id)
    if not (folder / "profiles.parquet").exists():
        raise NotFoundError("no profiles to compute attributes on yet: build them with `accord profile rebuild`",
                            code="COMPUTED-0412-404")  # fmt: skip
    _record(workspace, attributes, "PROCESSING")
    try:
        table = _compute(workspace, folder, attributes, event_types, now)
        write_values(values_file(workspace, sandbox_id), table, attributes, now)
    except AccordError as exc:
        _record(workspace, attributes, "FAILED", error=exc.message)
        raise
    except Exception as exc:  # an engine failure: recorded, then raised as it is
        _record(workspace, attributes, "FAILED", error=f"{type(exc).__name__}: {str(exc)[:300]}")
        raise
    _record(workspace, attributes, "PROCESSED", evaluated_at=now)
    return {"evaluated": [a.name for a in attributes], "evaluatedAt": now.isoformat(), "profiles": table.num_rows}


def _record(workspace: Workspace, attributes: list[ActiveAttribute], status: str, error: str | None = None,
            evaluated_at: datetime | None = None) -> None:  # fmt: skip
    """Each attribute's status, unless it was changed meanwhile (its values are then of an older definition)."""
    from accord.profile.computed_values import fingerprint

    with workspace.catalog.session() as session:
        wanted = {a.id: a.fingerprint for a in attributes}
        for record in session.scalars(select(ComputedAttributeRecord).where(ComputedAttributeRecord.id.in_(wanted))):
            if fingerprint(record.definition) != wanted[record.id] or record.status in ("DRAFT", "DISABLED"):
                continue
            record.status, record.error = status, error
            if evaluated_at is not None:
                record.last_evaluated_at = evaluated_at


def _compute(workspace: Workspace, folder: Any, attributes: list[ActiveAttribute], event_types: dict[str, Any],
             now: datetime) -> pa.Table:  # fmt: skip
    """Every profile's values (`graph`, a column per attribute's path), sorted by graph."""
    wanted = {"timestamp"}
    for attribute in attributes:
        _paths(_filter(attribute), wanted)
        if attribute.definition.get("field"):
            wanted.add(attribute.definition["field"])
    con = connect(workspace.settings)
    try:
        profiles = con.read_parquet(str(folder / "profiles.parquet")).select("graph")
        events = _events(folder, sorted(wanted), event_types)
        dtypes = {a.path: field_dtype(FieldSpec(type=FieldType(a.type))) for a in attributes}
        if events is None:
            columns = {a.path: ibis.null().cast(dtypes[a.path]) for a in attributes}
            table = profiles.mutate(**columns)
        else:
            grouped = events.group_by("graph").aggregate(**_aggregates(attributes, events, event_types, now))
            table = profiles.left_join(grouped, profiles.graph == grouped.graph).drop("graph_right")
        out = {"graph": table.graph}
        for attribute in attributes:
            value = table[attribute.path].cast(dtypes[attribute.path])
            out[attribute.path] = value.fill_null(0) if attribute.function in ZERO_WHEN_NONE else value
            if attribute.function == "avg":
                counted = attribute.path + COUNT_SUFFIX
                out[counted] = table[counted].fill_null(0) if counted in table.columns else ibis.literal(0)
        return con.to_pyarrow(table.select(**out).order_by("graph"))
    finally:
        con.disconnect()


def _aggregates(attributes: list[ActiveAttribute], events: ir.Table, event_types: dict[str, Any],
                now: datetime) -> dict[str, Any]:  # fmt: skip
    """One filtered aggregate per attribute (and the count beside an average), over the events table."""
    moment = events.timestamp.cast(TIMESTAMP)
    end = ibis.literal(now.astimezone(UTC)).cast(TIMESTAMP)
    found: dict[str, Any] = {}
    for attribute in attributes:
        start = ibis.literal((now - lookback(attribute)).astimezone(UTC)).cast(TIMESTAMP)
        chosen = (moment >= start) & (moment <= end)
        where = _filter(attribute)
        if where is not None:
            chosen = chosen & event_condition(where, events, now, event_types)
        function, field = attribute.function, attribute.definition.get("field")
        if function == "count":
            found[attribute.path] = events.graph.count(where=chosen)
            continue
        value = events[field]
        held = chosen & value.notnull()
        if function == "sum":
            found[attribute.path] = value.sum(where=chosen)
        elif function == "avg":
            found[attribute.path] = value.mean(where=chosen)
            found[attribute.path + COUNT_SUFFIX] = value.count(where=chosen)
        elif function in ("min", "max"):
            found[attribute.path] = value.min(where=chosen) if function == "min" else value.max(where=chosen)
        else:  # at equal times, the greatest value is the most recent, the least the first: every engine agrees
            key = ibis.struct({"t": moment, "v": value})
            found[attribute.path] = value.argmax(key, where=held) if function == "mostRecent" else \
                value.argmin(key, where=held)  # fmt: skip
    return found


def _events(folder: Any, paths: list[str], event_types: dict[str, Any]) -> ir.Table | None:
    """The store's events with one column per path read (named by the path), or None without events."""
    files = sorted(folder.glob("events-*.arrow"))
    if not files:
        return None
    arrow_types = {p: t.to_pyarrow() for p, t in event_types.items()}
    parts = [_flat(pa.ipc.open_file(pa.memory_map(str(path))).read_all(), paths, arrow_types) for path in files]
    return ibis.memtable(pa.concat_tables(parts))


def _flat(table: pa.Table, paths: list[str], types: dict[str, pa.DataType]) -> pa.Table:
    """`graph` and a column per path, taken from the nested columns without copying them."""
    columns: dict[str, Any] = {"graph": table["graph"]}
    for path in paths:
        head, *rest = path.split(".")
        value: Any = table[head] if head in table.column_names else None
        for part in rest:
            if value is None or value.type.get_field_index(part) < 0:
                value = None
                break
            value = pc.struct_field(value, part)
        target = types.get(path, pa.string())
        columns[path] = value.cast(target) if value is not None else pa.nulls(table.num_rows, target)
    return pa.table(columns)


class ComputedFold:
    """A sandbox's computed attributes as streaming evaluation brings them up to date, one changed profile at a time."""

    def __init__(self, workspace: Workspace, sandbox: str) -> None:
        with workspace.catalog.session() as session:
            sandbox_id = resolve_sandbox(session, sandbox).id
            self.attributes = active_attributes(session, sandbox)
        self.values = ComputedValues.open(workspace, sandbox_id)
        current = {a.path for a in self.values.current(self.attributes)} if self.values is not None else set()
        self.since = {a.path: self.values.evaluated_at if a.path in current and self.values else None
                      for a in self.attributes}  # fmt: skip
        self.filters: dict[str, Callable[[dict[str, Any], datetime], bool] | None] = {}
        fields: set[str] = {"timestamp"}
        for attribute in self.attributes:
            where = _filter(attribute)
            self.filters[attribute.path] = compile_python(where) if where is not None else None
            _paths(where, fields)
            if attribute.definition.get("field"):
                fields.add(attribute.definition["field"])
        self.event_columns = frozenset(path.split(".")[0] for path in fields)
        """The events' top-level fields the attributes read."""

    def reads(self, paths: set[str]) -> bool:
        """Whether any of these profile paths is a computed attribute's."""
        return any(path.startswith(PREFIX) for path in paths) and bool(self.attributes)

    def apply(self, graph: int, profile: dict[str, Any], now: datetime) -> dict[str, Any]:
        """The profile (`{"attributes", "events"}`) with its computed values brought up to date at `now`."""
        stored = self.values.of(graph, self.attributes) if self.values is not None else {}
        timed = [(t, e) for e in profile.get("events") or [] if (t := as_time(e.get("timestamp"))) is not None]
        values = {a.path: self._fold(a, stored, timed, now) for a in self.attributes}
        return {**profile, "attributes": with_values(profile.get("attributes") or {}, values, self.attributes)}

    def _fold(self, attribute: ActiveAttribute, stored: dict[str, Any], timed: list[tuple[datetime, dict[str, Any]]],
              now: datetime) -> Any:  # fmt: skip
        start, since = now - lookback(attribute), self.since[attribute.path]
        exact = since is None or lookback(attribute) <= STREAMING_EXACT
        after = start if since is None or exact else max(start, since)
        keep = self.filters[attribute.path]
        chosen = [(t, e) for t, e in timed if (after <= t if exact else after < t) and t <= now
                  and (keep is None or keep({"attributes": e}, now))]  # fmt: skip
        base = None if exact else stored.get(attribute.path)
        if attribute.function == "count":
            return (base or 0) + len(chosen)
        field = attribute.definition["field"].split(".")
        pairs = [(t, _typed(v, attribute.type)) for t, e in chosen if (v := value_at(e, field)) is not None]
        found = [v for _, v in pairs]
        if attribute.function == "sum":
            return (base or 0) + sum(found)
        if attribute.function == "avg":
            counted = 0 if exact else int(stored.get(attribute.path + COUNT_SUFFIX) or 0)
            total = (base or 0) * counted + sum(found)
            return total / (counted + len(found)) if counted + len(found) else None
        candidates = found + ([_typed(base, attribute.type)] if base is not None else [])
        if attribute.function in ("min", "max"):
            return (min if attribute.function == "min" else max)(candidates, default=None)
        if not pairs:
            return base
        if attribute.function == "mostRecent":
            return max(pairs)[1]
        return base if base is not None else min(pairs)[1]


def _typed(value: Any, xdm_type: str) -> Any:
    """A value as the engine gives it: times as aware datetimes (a profile read through the API has text)."""
    return as_time(value) if xdm_type == "date-time" else value
