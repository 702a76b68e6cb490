"""An independent reference evaluator for PQL over plain Python dicts, written as plainly as possible.

It shares nothing with Accord's evaluators but the syntax tree: the batch job (engine) and the
streaming evaluator (closures) must both agree with it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from accord.segment import ast

UNKNOWN = None
SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400, "month": 30 * 86400,
           "year": 365 * 86400}  # fmt: skip


def to_utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


def truncate(moment: datetime, period: str) -> datetime:
    moment = moment.astimezone(UTC)
    if period == "year":
        return datetime(moment.year, 1, 1, tzinfo=UTC)
    if period == "month":
        return datetime(moment.year, moment.month, 1, tzinfo=UTC)
    midnight = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if period == "week":
        return midnight - timedelta(days=midnight.weekday())
    return midnight


def within(moment: Any, window: ast.Window, anchor: datetime) -> Any:
    if moment is None:
        return UNKNOWN
    moment = to_utc(moment)
    span = timedelta(seconds=window.amount * SECONDS[window.unit])
    if window.direction == "before":
        start, end = anchor - span, anchor
        if window.op == "<=":
            return start <= moment and moment <= end
        if window.op == "<":
            return start < moment and moment <= end
        if window.op == ">=":
            return moment <= start
        return moment < start
    start, end = anchor, anchor + span
    if window.op == "<=":
        return start <= moment and moment <= end
    if window.op == "<":
        return start <= moment and moment < end
    if window.op == ">=":
        return moment >= end
    return moment > end


def lookup(scope: dict[str, Any], parts: tuple[str, ...]) -> Any:
    current: Any = scope
    for part in parts:
        if isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return None
    return current


class Reference:
    """`segments`: the trees of the audiences `inSegment("name")` may name. Membership is true or false:
    a profile is in an audience when its condition is true, and otherwise it is not."""

    def __init__(self, now: datetime, segments: dict[str, ast.Node] | None = None) -> None:
        self.now = now
        self.segments = segments or {}

    def qualifies(self, node: ast.Node, attributes: dict[str, Any], events: list[dict[str, Any]]) -> bool:
        self.events = events
        return self.eval(node, attributes) is True

    def eval(self, node: ast.Node, scope: dict[str, Any]) -> Any:
        if isinstance(node, ast.Literal):
            return node.value
        if isinstance(node, ast.Path):
            return lookup(scope, node.parts)
        if isinstance(node, ast.Now):
            return truncate(self.now, "day") if node.today else self.now
        if isinstance(node, ast.Logic):
            a, b = self.eval(node.left, scope), self.eval(node.right, scope)
            if node.op == "and":
                if a is False or b is False:
                    return False
                if a is None or b is None:
                    return UNKNOWN
                return True
            if a is True or b is True:
                return True
            if a is None or b is None:
                return UNKNOWN
            return False
        if isinstance(node, ast.Not):
            value = self.eval(node.operand, scope)
            return UNKNOWN if value is None else not value
        if isinstance(node, ast.Compare):
            a, b = self.eval(node.left, scope), self.eval(node.right, scope)
            if a is None or b is None:
                return UNKNOWN
            if isinstance(a, datetime) or isinstance(b, datetime):
                a, b = to_utc(a), to_utc(b)
            return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[node.op]
        if isinstance(node, ast.Arith):
            a, b = self.eval(node.left, scope), self.eval(node.right, scope)
            if a is None or b is None:
                return UNKNOWN
            if node.op == "/":
                return UNKNOWN if b == 0 else a / b
            return a + b if node.op == "+" else a - b if node.op == "-" else a * b
        if isinstance(node, ast.Negate):
            value = self.eval(node.operand, scope)
            return UNKNOWN if value is None else -value
        if isinstance(node, ast.InList):
            value = self.eval(node.operand, scope)
            if value is None:
                return UNKNOWN
            items = [self.eval(i, scope) for i in node.items.items]
            if isinstance(value, datetime):
                items = [to_utc(i) for i in items]
            found = value in items
            return not found if node.negated else found
        if isinstance(node, ast.Occurs):
            anchor = truncate(self.now, "day") if node.window.anchor == "today" else self.now
            return within(self.eval(node.operand, scope), node.window, anchor)
        if isinstance(node, ast.Call) and node.name == "inSegment":
            return self.eval(self.segments[node.args[0].value], scope) is True  # type: ignore[attr-defined]
        if isinstance(node, ast.Call) and node.name == "date":
            return date(*(a.value for a in node.args))  # type: ignore[attr-defined]
        if isinstance(node, ast.Method):
            return self.method(node, scope)
        if isinstance(node, ast.Chain):
            return self.chain(node)
        raise AssertionError(f"the reference does not know {node}")

    def method(self, node: ast.Method, scope: dict[str, Any]) -> Any:
        if isinstance(node.target, ast.Events):
            where = node.target.where
            matching = [e for e in self.events if where is None or self.eval(where, e) is True]
            if node.name == "count":
                return len(matching)
            if node.name == "exists":
                return len(matching) > 0
            if node.name == "any":
                return any(self.eval(node.args[0], e) is True for e in matching)
            if node.name == "all":
                return all(self.eval(node.args[0], e) is True for e in matching)
            values = [self.eval(node.args[0], e) for e in matching]
            values = [v for v in values if v is not None]
            if node.name == "sum":
                return sum(values)
            if not values:
                return UNKNOWN
            if node.name == "avg":
                return sum(values) / len(values)
            return max(values) if node.name == "max" else min(values)
        value = self.eval(node.target, scope)
        if node.name == "occurs":
            if value is None:
                return UNKNOWN
            period = node.args[0].period  # type: ignore[attr-defined]
            return truncate(to_utc(value), period) == truncate(self.now, period)
        if node.name == "isNull":
            return value is None
        if node.name in ("isNotNull", "exists"):
            return value is not None
        other = self.eval(node.args[0], scope)
        if value is None or other is None:
            return UNKNOWN
        negate = node.name.startswith("not")
        name = node.name[3].lower() + node.name[4:] if negate else node.name
        if name == "equals":
            sensitive = node.args[1].value if len(node.args) > 1 else True  # type: ignore[attr-defined]
            result = value == other if sensitive else value.lower() == other.lower()
        elif name == "contains":
            result = other in value
        elif name == "startsWith":
            result = value[: len(other)] == other
        elif name == "endsWith":
            result = len(other) == 0 or value[-len(other) :] == other
        elif name == "like":
            pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in other)
            result = re.fullmatch(pattern, value, re.DOTALL) is not None
        else:
            result = re.search(other, value) is not None
        return not result if negate else result

    def chain(self, node: ast.Chain) -> bool:
        ordered = sorted((e for e in self.events if e.get("timestamp") is not None),
                         key=lambda e: to_utc(e["timestamp"]))  # fmt: skip

        def anchor_of(window: ast.Window, picked: dict[str, datetime]) -> datetime:
            if window.anchor == "now":
                return self.now
            if window.anchor == "today":
                return truncate(self.now, "day")
            return picked[window.anchor]

        def attempt(step: int, picked: dict[str, datetime], last: datetime | None) -> bool:
            if step == len(node.steps):
                return True
            current = node.steps[step]
            for event in ordered:
                moment = to_utc(event["timestamp"])
                if last is not None and not moment > last:
                    continue
                if self.eval(current.what, event) is not True:
                    continue
                if (
                    current.when is not None
                    and within(moment, current.when, anchor_of(current.when, picked)) is not True
                ):
                    continue
                if attempt(step + 1, {**picked, current.name: moment}, moment):
                    return True
            return False

        return attempt(0, {}, None)
