"""Compiling definitions into engine expressions (Ibis): the batch path.

All definitions of a job are compiled together, in few passes over the data: every event
aggregation of every definition (`xEvent[...].count()`, `.sum(...)`, `.any(...)`, ...) becomes one
column of a single grouped pass over the events; each sequence (CHAIN) one join of its steps;
then one projection over the profiles gives a boolean column per definition. Nothing here is
specific to DuckDB: the same expressions run on any Ibis backend. Values follow SQL's three-valued
logic, but for membership in another audience (true or false); a profile qualifies when its
condition is true (not unknown)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from accord.engine import field_at
from accord.segment import functions
from accord.segment.ast import (
    ANCHORS,
    Arith,
    CalendarPoint,
    Call,
    Chain,
    Compare,
    Events,
    FieldOf,
    InArray,
    InList,
    ListOf,
    Literal,
    Logic,
    Membership,
    Method,
    Negate,
    Node,
    Not,
    Now,
    Occurs,
    Path,
    Window,
    children,
)  # fmt: skip
from accord.segment.evaluator import anchor_moment, calendar_point, start_of
from accord.segment.functions_ibis import StructScope, includes, same_members

TIMESTAMP = "timestamp('UTC')"


@dataclass
class _Plan:
    """What one job asks of the events: aggregations and sequences, each with its output column."""

    aggregates: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    chains: dict[str, Chain] = field(default_factory=dict)
    seen: dict[Any, str] = field(default_factory=dict)
    """Column name by the shape of the aggregation: the same one in several definitions is computed once."""


def _field(table: ir.Table, parts: tuple[str, ...], dtypes: dict[str, Any]) -> Any:
    if ".".join(parts) in table.columns:  # a flattened input: one column per path
        return table[".".join(parts)]
    if parts[0] not in table.columns:  # no dataset has this field (yet): unknown for everyone
        return ibis.null().cast(dtypes.get(".".join(parts), "string"))
    return field_at(table, ".".join(parts))


def _time(value: Any) -> Any:
    return value.cast(TIMESTAMP)


def _window(moment: Any, window: Window, anchor: Any) -> Any:
    span = ibis.interval(seconds=int(window.seconds)) if window.seconds == int(window.seconds) else None
    if span is None:
        span = ibis.interval(milliseconds=int(window.seconds * 1000))
    if window.direction == "before":
        lower, upper = anchor - span, anchor
        return {"<=": (moment >= lower) & (moment <= upper), "<": (moment > lower) & (moment <= upper),
                ">=": moment <= lower, ">": moment < lower}[window.op]  # fmt: skip
    lower, upper = anchor, anchor + span
    return {"<=": (moment >= lower) & (moment <= upper), "<": (moment >= lower) & (moment < upper),
            ">=": moment >= upper, ">": moment > upper}[window.op]  # fmt: skip


def _start_of(value: Any, period: str) -> Any:
    unit = {"day": "D", "week": "W", "month": "M", "year": "Y"}[period]
    return _time(value).truncate(unit)


class _Expressions:
    """Turns one tree into an Ibis value over a table (the profiles, or the events inside xEvent)."""

    def __init__(self, now: datetime, dtypes: dict[str, Any], plan: _Plan | None) -> None:
        self.now, self.dtypes, self.plan = now, dtypes, plan

    def now_literal(self, today: bool = False) -> Any:
        moment = start_of(self.now, "day") if today else self.now
        return ibis.literal(moment.astimezone(UTC)).cast(TIMESTAMP)

    def anchor_literal(self, anchor: str) -> Any:
        """now, or midnight UTC today, yesterday or tomorrow: what a time window counts from."""
        return ibis.literal(anchor_moment(self.now, anchor).astimezone(UTC)).cast(TIMESTAMP)

    def value(self, node: Node, table: ir.Table) -> Any:
        if isinstance(node, Literal):
            return ibis.literal(node.value) if node.value is not None else ibis.null()
        if isinstance(node, Path):
            return _field(table, node.parts, self.dtypes)
        if isinstance(node, Now):
            return self.now_literal(node.today)
        if isinstance(node, CalendarPoint):  # it depends on the job's `now` only: a constant
            return ibis.literal(calendar_point(self.now, node)).cast(TIMESTAMP)
        if isinstance(node, Logic):
            left, right = self.value(node.left, table), self.value(node.right, table)
            return (left & right) if node.op == "and" else (left | right)
        if isinstance(node, Not):
            return ~self.value(node.operand, table)
        if isinstance(node, Compare):
            left, right = self.value(node.left, table), self.value(node.right, table)
            if _is_time(left) or _is_time(right):
                left, right = _time(left), _time(right)
            if left.type().is_array() or right.type().is_array():  # lists are equal when their members are
                same = same_members(left, right)
                return same if node.op == "=" else ~same
            return {"=": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
                    ">": left > right, ">=": left >= right}[node.op]  # fmt: skip
        if isinstance(node, Arith):
            left, right = self.value(node.left, table), self.value(node.right, table)
            if node.op == "/":
                return ibis.ifelse(right == 0, ibis.null(), left.cast("float64") / right)
            if node.op == "%":  # the engine's remainder has the sign of the dividend, as the evaluators'
                return left % right.nullif(0)
            return {"+": left + right, "-": left - right, "*": left * right}[node.op]
        if isinstance(node, Negate):
            return -self.value(node.operand, table)
        if isinstance(node, InList):
            operand = self.value(node.operand, table)
            items = [self.value(i, table) for i in node.items.items]
            if _is_time(operand):
                operand, items = _time(operand), [_time(i) for i in items]
            found = operand.isin(items) if items else ibis.literal(False)
            return ~found if node.negated else found
        if isinstance(node, InArray):  # unknown when the list or the value is: as `includes`
            found = includes(self.value(node.array, table), [self.value(node.operand, table)], (), self.now)
            return ~found if node.negated else found
        if isinstance(node, FieldOf):
            value = self.value(node.target, table)
            for part in node.fields:
                value = value[part]
            return value
        if isinstance(node, Occurs):
            anchor = self.anchor_literal(node.window.anchor)
            return _window(_time(self.value(node.operand, table)), node.window, anchor)
        if isinstance(node, Call) and node.name in functions.CALLS:
            return self.function(node, None, table)
        if isinstance(node, ListOf):
            return ibis.array([self.value(item, table) for item in node.items])
        if isinstance(node, Call) and node.name == "bucket":
            return table.graph.abs() % 100
        if isinstance(node, Call) and node.name == "date":
            year, month, day = (a.value for a in node.args)  # type: ignore[attr-defined]
            return ibis.date(year, month, day)
        if isinstance(node, Method):
            return self.method(node, table)
        if isinstance(node, Chain):
            return self.planned(node, table)
        if isinstance(node, Membership):  # in the audience or not: unknown is not in it
            return self.value(node.condition, table).fill_null(False)
        raise ValueError(f"cannot compile {type(node).__name__} (was the definition checked and resolved?)")

    def method(self, node: Method, table: ir.Table) -> Any:
        if isinstance(node.target, Events):
            return self.planned(node, table)
        target = self.value(node.target, table)
        if node.name == "occurs":
            period = node.args[0].period  # type: ignore[attr-defined]
            return _start_of(target, period) == _start_of(self.now_literal(), period)
        return self.function(node, target, table)

    def function(self, node: Method | Call, target: Any, table: ir.Table) -> Any:
        """A function of `functions.FUNCTIONS` (a method of `target`, or a plain function when it is None)."""
        spec = functions.FUNCTIONS[node.name]
        args = [self.value(a, table) if i > 0 or not spec.per_item or not isinstance(node, Method)
                else lambda item, a=a: self.value(a, StructScope(item))  # type: ignore[misc]
                for i, a in enumerate(node.args)]  # fmt: skip
        return spec.ibis(target, args, functions.literals(node), self.now)

    def planned(self, node: Method | Chain, table: ir.Table) -> Any:
        """An event aggregation or a sequence: a column computed in the job's pass over the events."""
        assert self.plan is not None, "event conditions need a plan"
        name = self.plan.seen[shape(node)]
        column = table[name]
        default = self.plan.defaults[name]
        return column.fill_null(default) if default is not None else column


def _is_time(value: Any) -> bool:
    dtype = value.type()
    return bool(dtype.is_timestamp() or dtype.is_date())


def _aggregate(node: Method, events: ir.Table, expressions: _Expressions) -> Any:
    where = node.target.where  # type: ignore[attr-defined]
    chosen = expressions.value(where, events).fill_null(False) if where is not None else ibis.literal(True)
    if node.name in ("count", "exists"):
        count = events.graph.count(where=chosen)  # a filtered aggregate: COUNT(...) FILTER (WHERE ...)
        return count if node.name == "count" else count > 0
    argument = expressions.value(node.args[0], events)
    if node.name == "any":
        return (chosen & argument.fill_null(False)).any()
    if node.name == "all":
        return ~(chosen & ~argument.fill_null(False)).any()
    if node.name == "sum":
        return argument.sum(where=chosen)
    if node.name == "avg":
        return argument.mean(where=chosen)
    if node.name == "countValues":  # how many events hold a value (an average's weight)
        return argument.count(where=chosen)
    if node.name in ("mostRecent", "first"):  # the value at the latest (earliest) event holding one; at the
        key = ibis.struct({"t": _time(events.timestamp), "v": argument})  # same moment, the greatest (least)
        held = chosen & argument.notnull()
        return argument.argmax(key, where=held) if node.name == "mostRecent" else argument.argmin(key, where=held)
    return argument.min(where=chosen) if node.name == "min" else argument.max(where=chosen)


def _chain(name: str, node: Chain, events: ir.Table, expressions: _Expressions) -> ir.Table:
    """The graphs holding a sequence of events that matches the steps in order."""
    timed = events.mutate(_t=_time(events.timestamp))
    names = [s.name for s in node.steps]
    found: ir.Table | None = None
    for index, step in enumerate(node.steps):
        chosen = timed.filter(expressions.value(step.what, timed).fill_null(False))
        chosen = chosen.select(graph=chosen.graph, **{f"t{index}": chosen._t})
        if found is None:
            joined, condition = chosen, ibis.literal(True)
        else:
            found = found.distinct() if step.count > 1 else found  # each earlier match counts its events once
            joined = found.join(chosen, "graph")
            condition = joined[f"t{index}"] > joined[f"t{index - 1}"]
        current = joined[f"t{index}"]
        if step.when is not None:
            anchor = (expressions.anchor_literal(step.when.anchor) if step.when.anchor in ANCHORS
                      else joined[f"t{names.index(step.when.anchor)}"])  # fmt: skip
            condition = condition & _window(current, step.when, anchor)
        found = joined.filter(condition)
        if step.count > 1:  # COUNT(n): the step happens at its n-th event since the previous step (or later)
            earlier = [found[f"t{i}"] for i in range(index)]
            seen = found.graph.count().over(ibis.window(group_by=[found.graph, *earlier],
                                                        order_by=found[f"t{index}"], rows=(None, 0)))  # fmt: skip
            found = found.mutate(_seen=seen)
            found = found.filter(found._seen >= step.count).drop("_seen")
    assert found is not None
    return found.select("graph").distinct().mutate(**{name: ibis.literal(True)})


def compile_job(
    definitions: dict[str, Node], profiles: ir.Table, events: ir.Table | None, now: datetime,
    profile_types: dict[str, Any], event_types: dict[str, Any], values: dict[str, Node] | None = None,
) -> ir.Table:  # fmt: skip
    """One row per profile (`graph`) with a boolean column per definition (by the given names), and a column
    per value asked for (computed attributes: event aggregations, computed in the same pass over the events)."""
    plan = _Plan()
    on_profiles = _Expressions(now, profile_types, plan)
    values = values or {}
    for node in [*definitions.values(), *values.values()]:  # first, every event aggregation and sequence needed
        _collect(node, on_profiles)
    table = profiles
    if plan.aggregates or plan.chains:
        if events is None:
            for name, default in plan.defaults.items():
                table = table.mutate(**{name: ibis.literal(default) if default is not None else ibis.null("float64")})
        else:
            on_events = _Expressions(now, event_types, None)
            if plan.aggregates:
                columns = {name: _aggregate(node, events, on_events) for name, node in plan.aggregates.items()}
                grouped = events.group_by("graph").aggregate(**columns)
                table = table.left_join(grouped, table.graph == grouped.graph).drop("graph_right")
            for name, chain in plan.chains.items():
                flags = _chain(name, chain, events, on_events)
                table = table.left_join(flags, table.graph == flags.graph).drop("graph_right")
    flags = {name: on_profiles.value(node, table).fill_null(False) for name, node in definitions.items()}
    return table.select(graph=table.graph, **flags, **{name: on_profiles.value(node, table)
                                                       for name, node in values.items()})  # fmt: skip


def shape(node: Any) -> Any:
    """A node without its places in the text: equal for the same expression written anywhere."""
    if isinstance(node, tuple):
        return tuple(shape(item) for item in node)
    if hasattr(node, "__dataclass_fields__"):
        return (type(node).__name__, *(shape(getattr(node, name)) for name in node.__dataclass_fields__
                                        if name != "pos"))  # fmt: skip
    return node


def _collect(node: Any, expressions: _Expressions) -> None:
    """Register every event aggregation and sequence of a tree in the plan (outermost first)."""
    if (isinstance(node, Method) and isinstance(node.target, Events)) or isinstance(node, Chain):
        plan = expressions.plan
        assert plan is not None
        if shape(node) not in plan.seen:
            name = f"_agg_{len(plan.seen)}"
            plan.seen[shape(node)] = name
            if isinstance(node, Chain):
                plan.chains[name] = node
                plan.defaults[name] = False
            else:
                plan.aggregates[name] = node
                plan.defaults[name] = {"count": 0, "sum": 0, "countValues": 0, "exists": False, "any": False,
                                       "all": True}.get(node.name)  # fmt: skip
        return
    for child in children(node):
        _collect(child, expressions)
