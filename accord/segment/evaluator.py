"""Evaluating a definition on one profile in Python: the streaming path.

A checked tree is compiled once into nested closures over a profile (`{"attributes": {...},
"events": [...]}`) and a fixed `now`. Missing values are unknown (None) and conditions follow
three-valued logic, as SQL does (membership in another audience is true or false), so that a
profile qualifies here exactly when the batch job's engine expression says so; a property-based
test holds the two together."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from accord.schema import value_at
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
)  # fmt: skip
from accord.segment.functions_python import includes, same_members, summary

Value = Any
Fn = Callable[[dict[str, Any], datetime], Value]
EVENTS = "\x1fevents"
"""Where a profile's events sit beside its attributes while it is evaluated (no attribute has this name)."""
GRAPH = "\x1fgraph"


def as_time(value: Value) -> datetime | None:
    """Dates count as midnight UTC, naive timestamps as UTC; ISO 8601 text (a profile as the API gives it) is read."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def start_of(moment: datetime, period: str) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    return day


def anchor_moment(now: datetime, anchor: str) -> datetime:
    """What a time window counts from: now, or midnight UTC today, yesterday or tomorrow."""
    if anchor == "now":
        return now
    return start_of(now, "day") + timedelta(days={"today": 0, "yesterday": -1, "tomorrow": 1}[anchor])


CALENDAR_MONTHS = {"month": 1, "year": 12, "decade": 120, "century": 1200, "millennium": 12_000}
CALENDAR_FIXED = {"millisecond": timedelta(milliseconds=1), "second": timedelta(seconds=1),
                  "minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1),
                  "week": timedelta(weeks=1)}  # fmt: skip


def calendar_point(now: datetime, point: CalendarPoint) -> datetime:
    """The start of the calendar unit holding the point's anchor, moved by its offset in whole units (UTC;
    weeks start on Monday; a decade, century or millennium starts at a year divisible by 10, 100, 1000)."""
    moment = anchor_moment(now, point.anchor).astimezone(UTC)
    if point.unit in CALENDAR_FIXED:
        if point.unit in ("day", "week"):
            start = start_of(moment, point.unit)
        else:
            start = moment.replace(microsecond=moment.microsecond // 1000 * 1000 if point.unit == "millisecond" else 0)
            start = start.replace(second=0) if point.unit in ("minute", "hour") else start
            start = start.replace(minute=0) if point.unit == "hour" else start
        return start + CALENDAR_FIXED[point.unit] * point.offset
    span = {"month": 1, "year": 1, "decade": 10, "century": 100, "millennium": 1000}[point.unit]
    year = moment.year - moment.year % span if point.unit != "month" else moment.year
    months = year * 12 + (moment.month - 1 if point.unit == "month" else 0) + CALENDAR_MONTHS[point.unit] * point.offset
    return datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)


def _shifted(anchor: datetime, span: timedelta) -> datetime:
    """anchor + span, or the clock's first or last moment past them (a window counted from an event of year
    9999: the engine's clock runs further, and every moment Python holds is within it)."""
    try:
        return anchor + span
    except OverflowError:
        return (datetime.max if span > timedelta(0) else datetime.min).replace(tzinfo=UTC)


def in_window(moment: datetime | None, window: Window, anchor: datetime) -> bool | None:
    if moment is None:
        return None
    span = timedelta(seconds=window.seconds)
    if window.direction == "before":
        lower, upper = _shifted(anchor, -span), anchor
        return {"<=": lower <= moment <= upper, "<": lower < moment <= upper, ">=": moment <= lower,
                ">": moment < lower}[window.op]  # fmt: skip
    lower, upper = anchor, _shifted(anchor, span)
    return {"<=": lower <= moment <= upper, "<": lower <= moment < upper, ">=": moment >= upper,
            ">": moment > upper}[window.op]  # fmt: skip


def remainder(a: Value, b: Value) -> Value:
    """a % b with the sign of a (truncated division), whole when both are."""
    if isinstance(a, int) and isinstance(b, int):
        return abs(a) % abs(b) * (1 if a >= 0 else -1)
    return math.fmod(a, b)


def _and(a: Value, b: Value) -> Value:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a: Value, b: Value) -> Value:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _not(a: Value) -> Value:
    return None if a is None else not a


def _comparable(a: Value, b: Value) -> tuple[Value, Value]:
    if (isinstance(a, date) or isinstance(b, date)) and (isinstance(a, datetime) or isinstance(b, datetime)):
        return as_time(a), as_time(b)  # a date against a timestamp: midnight UTC (a datetime is a date too)
    return a, b


COMPARE = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
           "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}  # fmt: skip


class _Compiler:
    def compile(self, node: Node) -> Fn:
        if isinstance(node, Literal):
            value = node.value
            return lambda _p, _n: value
        if isinstance(node, Path):
            parts = node.parts
            return lambda p, _n: value_at(p, parts)
        if isinstance(node, Now):
            if node.today:
                return lambda _p, n: start_of(n, "day")
            return lambda _p, n: n
        if isinstance(node, CalendarPoint):
            return lambda _p, n: calendar_point(n, node)
        if isinstance(node, Logic):
            left, right = self.compile(node.left), self.compile(node.right)
            join = _and if node.op == "and" else _or
            return lambda p, n: join(left(p, n), right(p, n))
        if isinstance(node, Not):
            operand = self.compile(node.operand)
            return lambda p, n: _not(operand(p, n))
        if isinstance(node, Compare):
            left, right, test = self.compile(node.left), self.compile(node.right), COMPARE[node.op]

            def compare(p: dict[str, Any], n: datetime) -> Value:
                a, b = _comparable(left(p, n), right(p, n))
                if isinstance(a, list) or isinstance(b, list):  # lists are equal when their members are
                    return _not(same_members(a, b)) if node.op == "!=" else same_members(a, b)
                return None if a is None or b is None else test(a, b)

            return compare
        if isinstance(node, Arith):
            return self.arith(node)
        if isinstance(node, Negate):
            operand = self.compile(node.operand)
            return lambda p, n: None if (v := operand(p, n)) is None else -v
        if isinstance(node, InList):
            return self.in_list(node)
        if isinstance(node, InArray):  # unknown when the list or the value is: as `includes`
            array, operand, negate = self.compile(node.array), self.compile(node.operand), node.negated
            found: Fn = lambda p, n: includes(array(p, n), [operand(p, n)], (), n)  # noqa: E731
            return (lambda p, n: _not(found(p, n))) if negate else found
        if isinstance(node, FieldOf):
            target, parts = self.compile(node.target), node.fields
            return lambda p, n: value_at(v, parts) if isinstance(v := target(p, n), dict) else None
        if isinstance(node, Occurs):
            operand, window = self.compile(node.operand), node.window

            def occurs(p: dict[str, Any], n: datetime) -> Value:
                anchor = anchor_moment(n, window.anchor)
                return in_window(as_time(operand(p, n)), window, anchor)

            return occurs
        if isinstance(node, Call) and node.name in functions.CALLS:
            return self.function(node, None)
        if isinstance(node, ListOf):
            items = [self.compile(item) for item in node.items]
            return lambda p, n: [item(p, n) for item in items]
        if isinstance(node, Call) and node.name == "bucket":
            return lambda p, _n: None if p.get(GRAPH) is None else abs(int(p[GRAPH])) % 100
        if isinstance(node, Call) and node.name == "date":
            year, month, day = (a.value for a in node.args)  # type: ignore[attr-defined]
            value = date(year, month, day)
            return lambda _p, _n: value
        if isinstance(node, Method):
            return self.method(node)
        if isinstance(node, Chain):
            return self.chain(node)
        if isinstance(node, Membership):  # in the audience or not: unknown is not in it
            condition = self.compile(node.condition)
            return lambda p, n: condition(p, n) is True
        raise ValueError(f"cannot evaluate {type(node).__name__} (was the definition checked and resolved?)")

    def arith(self, node: Arith) -> Fn:
        left, right, op = self.compile(node.left), self.compile(node.right), node.op

        def arith(p: dict[str, Any], n: datetime) -> Value:
            a, b = left(p, n), right(p, n)
            if a is None or b is None:
                return None
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "%":  # the remainder takes the sign of the dividend (as SQL and the reference's Java do)
                return None if b == 0 else remainder(a, b)
            return None if b == 0 else a / b

        return arith

    def in_list(self, node: InList) -> Fn:
        operand, items, negated = self.compile(node.operand), [self.compile(i) for i in node.items.items], node.negated

        def contained(p: dict[str, Any], n: datetime) -> Value:
            value = operand(p, n)
            if value is None:
                return None
            found = any(_comparable(value, item(p, n))[0] == _comparable(value, item(p, n))[1] for item in items)
            return (not found) if negated else found

        return contained

    def method(self, node: Method) -> Fn:
        if isinstance(node.target, Events):
            return self.events(node, node.target)
        target = self.compile(node.target)
        if node.name == "occurs":
            period = node.args[0].period  # type: ignore[attr-defined]

            def occurs_this(p: dict[str, Any], n: datetime) -> Value:
                moment = as_time(target(p, n))
                return None if moment is None else start_of(moment, period) == start_of(n, period)

            return occurs_this
        return self.function(node, target)

    def function(self, node: Method | Call, target: Fn | None) -> Fn:
        """A function of `functions.FUNCTIONS` (a method of `target`, or a plain function when it is None)."""
        spec = functions.FUNCTIONS[node.name]
        args, literals = [self.compile(a) for a in node.args], functions.literals(node)
        per_item = spec.per_item and isinstance(node, Method) and bool(args)
        impl = spec.python

        def run(p: dict[str, Any], n: datetime) -> Value:
            values = [(lambda item, f=f: f(item, n)) if i == 0 and per_item else f(p, n) for i, f in enumerate(args)]
            return impl(target(p, n) if target is not None else None, values, literals, n)

        return run

    def events(self, node: Method, events: Events) -> Fn:
        where = self.compile(events.where) if events.where is not None else None

        def chosen(p: dict[str, Any], n: datetime) -> list[dict[str, Any]]:
            found = p.get(EVENTS) or []
            return [e for e in found if where(e, n) is True] if where is not None else list(found)

        name = node.name
        if name == "count":
            return lambda p, n: len(chosen(p, n))
        if name == "exists":  # stops at the first event chosen
            if where is None:
                return lambda p, n: bool(p.get(EVENTS))
            return lambda p, n: any(where(e, n) is True for e in p.get(EVENTS) or [])
        argument = self.compile(node.args[0])
        if name == "any":
            return lambda p, n: any(argument(e, n) is True for e in chosen(p, n))
        if name == "all":
            return lambda p, n: all(argument(e, n) is True for e in chosen(p, n))

        return lambda p, n: summary(name, [v for e in chosen(p, n) if (v := argument(e, n)) is not None])

    def chain(self, node: Chain) -> Fn:
        steps = [(s.name, self.compile(s.what), s.when, s.count) for s in node.steps]

        def found(p: dict[str, Any], n: datetime) -> Value:
            timed = [(t, e) for e in (p.get(EVENTS) or []) if (t := as_time(e.get("timestamp"))) is not None]
            timed.sort(key=lambda pair: pair[0])

            def search(index: int, chosen: dict[str, datetime], after: datetime | None) -> bool:
                if index == len(steps):
                    return True
                name, what, when, count = steps[index]
                seen = 0  # with COUNT(n), the step happens at its n-th event (or any later one)
                for moment, event in timed:
                    if after is not None and moment <= after:
                        continue
                    if what(event, n) is not True:
                        continue
                    if when is not None:
                        anchor = anchor_moment(n, when.anchor) if when.anchor in ANCHORS else chosen[when.anchor]
                        if in_window(moment, when, anchor) is not True:
                            continue
                    seen += 1
                    if seen >= count and search(index + 1, {**chosen, name: moment}, moment):
                        return True
                return False

            return search(0, {}, None)

        return found


def compile_python(node: Node) -> Callable[[dict[str, Any], datetime], bool]:
    """A function telling whether a profile (`{"attributes": ..., "events": [...]}`) qualifies at `now`."""
    test = _Compiler().compile(node)

    def qualifies(profile: dict[str, Any], now: datetime) -> bool:
        scoped = {**(profile.get("attributes") or {}), EVENTS: profile.get("events") or [], GRAPH: profile.get("graph")}
        return test(scoped, now) is True

    return qualifies
