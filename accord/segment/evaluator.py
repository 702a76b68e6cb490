"""Evaluating a definition on one profile in Python: the streaming path.

A checked tree is compiled once into nested closures over a profile (`{"attributes": {...},
"events": [...]}`) and a fixed `now`. Missing values are unknown (None) and conditions follow
three-valued logic, as SQL does (membership in another audience is true or false), so that a
profile qualifies here exactly when the batch job's engine expression says so; a property-based
test holds the two together."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from accord.schema import value_at
from accord.segment.ast import (
    Arith,
    Call,
    Chain,
    Compare,
    Events,
    InList,
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
from accord.segment.checker import string_function

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


def in_window(moment: datetime | None, window: Window, anchor: datetime) -> bool | None:
    if moment is None:
        return None
    span = timedelta(seconds=window.seconds)
    if window.direction == "before":
        lower, upper = anchor - span, anchor
        return {"<=": lower <= moment <= upper, "<": lower < moment <= upper, ">=": moment <= lower,
                ">": moment < lower}[window.op]  # fmt: skip
    lower, upper = anchor, anchor + span
    return {"<=": lower <= moment <= upper, "<": lower <= moment < upper, ">=": moment >= upper,
            ">": moment > upper}[window.op]  # fmt: skip


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


def like(value: str, pattern: str) -> bool:
    """SQL LIKE (`%` any run of characters, `_` one character) without a backtracking matcher: the
    pieces between `%` are found leftmost in turn, so a hostile pattern costs at most value x pattern."""

    def fits(at: int, piece: str) -> bool:
        return at + len(piece) <= len(value) and all(c == "_" or c == value[at + k] for k, c in enumerate(piece))

    parts = pattern.split("%")
    if len(parts) == 1:
        return len(value) == len(pattern) and fits(0, pattern)
    first, *middle, last = parts
    tail = len(value) - len(last)
    if tail < len(first) or not fits(0, first) or not fits(tail, last):
        return False
    position = len(first)
    for piece in middle:
        found = next((i for i in range(position, tail - len(piece) + 1) if fits(i, piece)), None)
        if found is None:
            return False
        position = found + len(piece)
    return True


def _string_method(name: str, case_sensitive: bool) -> Callable[[Value, Value], Value]:
    base, negated = string_function(name)

    def test(value: Value, other: Value) -> Value:
        if value is None or other is None:
            return None
        if base == "equals":
            return value == other if case_sensitive else value.lower() == other.lower()
        if base == "contains":
            return other in value
        if base == "startsWith":
            return value.startswith(other)
        if base == "endsWith":
            return value.endswith(other)
        if base == "like":
            return like(value, other)
        return re.search(other, value) is not None  # matches

    if not negated:
        return test
    return lambda value, other: _not(test(value, other))


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
                return None if a is None or b is None else test(a, b)

            return compare
        if isinstance(node, Arith):
            return self.arith(node)
        if isinstance(node, Negate):
            operand = self.compile(node.operand)
            return lambda p, n: None if (v := operand(p, n)) is None else -v
        if isinstance(node, InList):
            return self.in_list(node)
        if isinstance(node, Occurs):
            operand, window = self.compile(node.operand), node.window

            def occurs(p: dict[str, Any], n: datetime) -> Value:
                anchor = start_of(n, "day") if window.anchor == "today" else n
                return in_window(as_time(operand(p, n)), window, anchor)

            return occurs
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
        if node.name == "isNull":
            return lambda p, n: target(p, n) is None
        if node.name in ("isNotNull", "exists"):
            return lambda p, n: target(p, n) is not None
        case_sensitive = node.args[1].value if len(node.args) > 1 else True  # type: ignore[attr-defined]
        test = _string_method(node.name, case_sensitive)
        other = self.compile(node.args[0])
        return lambda p, n: test(target(p, n), other(p, n))

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

        def aggregate(p: dict[str, Any], n: datetime) -> Value:
            values = [v for e in chosen(p, n) if (v := argument(e, n)) is not None]
            if name == "sum":
                return sum(values) if values else 0
            if not values:
                return None
            if name == "avg":
                return sum(values) / len(values)
            return min(values) if name == "min" else max(values)

        return aggregate

    def chain(self, node: Chain) -> Fn:
        steps = [(s.name, self.compile(s.what), s.when) for s in node.steps]

        def found(p: dict[str, Any], n: datetime) -> Value:
            timed = [(t, e) for e in (p.get(EVENTS) or []) if (t := as_time(e.get("timestamp"))) is not None]
            timed.sort(key=lambda pair: pair[0])

            def search(index: int, chosen: dict[str, datetime], after: datetime | None) -> bool:
                if index == len(steps):
                    return True
                name, what, when = steps[index]
                for moment, event in timed:
                    if after is not None and moment <= after:
                        continue
                    if what(event, n) is not True:
                        continue
                    if when is not None:
                        anchor = (n if when.anchor == "now" else start_of(n, "day") if when.anchor == "today"
                                  else chosen[when.anchor])  # fmt: skip
                        if in_window(moment, when, anchor) is not True:
                            continue
                    if search(index + 1, {**chosen, name: moment}, moment):
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
