"""Evaluating computed attributes: a refresh over every profile, and the streaming fold of one profile.

A refresh computes every active computed attribute of a sandbox at once: each is a PQL event aggregation
(its filter and its lookback, then its function), which the segment compiler computes as one filtered
aggregate of its grouped pass over the profile store's events; each profile's values are then written
atomically (`computed_values.py`). A segment job computes them in the same pass as its audiences, and an
audience that reads one reads that column: values and memberships are of the same moment.

Streaming evaluation (`ComputedFold`) brings a changed profile's values up to date from the events it read:
an attribute that looks back at most 24 hours is computed again from them (streaming reads a profile's last
24 hours); a longer one folds the events since the last refresh into the refreshed value (a count or a sum
grows, a minimum, maximum or most recent value moves), without taking out the events that left its lookback
since: the next refresh does. Folded values are used by the streaming evaluation, not stored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlalchemy import select

from accord.catalog import ComputedAttributeRecord, resolve_sandbox, utcnow
from accord.errors import AccordError, NotFoundError
from accord.lake import sandbox_job
from accord.profile.computed_attributes import UNITS
from accord.profile.computed_values import (
    COUNT_SUFFIX,
    PREFIX,
    ActiveAttribute,
    ComputedValues,
    active_attributes,
    values_file,
    with_values,
    write_values,
)
from accord.profile.store import store_folder
from accord.schema import FieldSpec, FieldType, field_dtype, value_at
from accord.segment import compile_python, parse_pql
from accord.segment.ast import Events, Logic, Method, Node, Occurs, Path, Window, children
from accord.segment.evaluator import as_time
from accord.workspace import Workspace

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
    """`refresh_computed_attributes` for a caller that holds the sandbox's lock: the attributes alone, in one
    grouped pass over the events (a segment job computes them in its own pass instead: `Refresh`)."""
    from accord.segment.jobs import evaluate

    refresh = Refresh.start(workspace, sandbox, now)
    if not refresh.attributes:
        return {"evaluated": [], "evaluatedAt": None, "profiles": 0}
    table = refresh.stored(lambda: evaluate(workspace, sandbox, {}, now, refresh.values))
    return {"evaluated": [a.name for a in refresh.attributes], "evaluatedAt": now.isoformat(),
            "profiles": table.num_rows}  # fmt: skip


@dataclass
class Refresh:
    """One evaluation of a sandbox's active computed attributes at `now`: each is an event aggregation (its
    filter and its lookback, `timestamp occurs <= N seconds before now`), named by its profile path, which the
    segment compiler computes as one column of its grouped pass over the events, beside the audiences' own."""

    workspace: Workspace
    sandbox_id: str
    attributes: list[ActiveAttribute]
    now: datetime
    values: dict[str, Node]
    """The aggregation of each attribute by its path (and, for an average, the count of values it weighs)."""

    @classmethod
    def start(cls, workspace: Workspace, sandbox: str, now: datetime) -> Refresh:
        with workspace.catalog.session() as session:
            sandbox_id = resolve_sandbox(session, sandbox).id
            attributes = active_attributes(session, sandbox)
        if attributes and not (store_folder(workspace, sandbox_id) / "profiles.parquet").exists():
            raise NotFoundError("no profiles to compute attributes on yet: build them with `accord profile rebuild`",
                                code="COMPUTED-0412-404")  # fmt: skip
        values: dict[str, Node] = {}
        for attribute in attributes:
            values[attribute.path] = aggregation(attribute)
            if attribute.function == "avg":
                counted = aggregation(attribute)
                assert isinstance(counted, Method)
                values[attribute.path + COUNT_SUFFIX] = replace(counted, name="countValues")
        if attributes:
            _record(workspace, attributes, "PROCESSING")
        return cls(workspace, sandbox_id, attributes, now, values)

    def stored(self, evaluate: Callable[[], pa.Table]) -> pa.Table:
        """Run the evaluation that computes the values, store them (atomically, sorted by graph) and record
        each attribute's status; the evaluation's table comes back without the values' columns."""
        if not self.attributes:
            return evaluate()
        try:
            table = evaluate()
            columns = ["graph", *self.values]
            kept = table.select(columns).sort_by("graph")
            typed = {a.path: field_dtype(FieldSpec(type=FieldType(a.type))).to_pyarrow() for a in self.attributes}
            kept = pa.table({name: kept[name].cast(typed[name]) if name in typed else kept[name] for name in columns})
            write_values(values_file(self.workspace, self.sandbox_id), kept, self.attributes, self.now)
        except AccordError as exc:
            _record(self.workspace, self.attributes, "FAILED", error=exc.message)
            raise
        except Exception as exc:  # an engine failure: recorded, then raised as it is
            _record(self.workspace, self.attributes, "FAILED", error=f"{type(exc).__name__}: {str(exc)[:300]}")
            raise
        _record(self.workspace, self.attributes, "PROCESSED", evaluated_at=self.now)
        return table.drop_columns(list(self.values))


def aggregation(attribute: ActiveAttribute) -> Node:
    """A computed attribute as the PQL event aggregation it is: its filter and its lookback (both ends
    included: the events from `now - lookback` to `now`), then its function of its field."""
    tree = parse_pql(attribute.definition["expression"])
    assert isinstance(tree, Method) and isinstance(tree.target, Events)
    seconds = lookback(attribute).total_seconds()
    within = Occurs(tree.pos, Path(tree.pos, ("timestamp",)), Window("<=", seconds, "second", "before", "now"))
    where = within if tree.target.where is None else Logic(tree.pos, "and", tree.target.where, within)
    return replace(tree, target=replace(tree.target, where=where))


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
