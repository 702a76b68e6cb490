"""An independent reference evaluator for PQL over plain Python dicts, written as plainly as possible.

It shares nothing with Accord's evaluators but the syntax tree: the batch job (engine) and the
streaming evaluator (closures) must both agree with it."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

from accord.segment import ast
from tests.segment import reference_functions as functions

UNKNOWN = None
SECONDS = {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400,
           "month": 30 * 86400, "year": 365 * 86400, "decade": 3650 * 86400, "century": 36500 * 86400,
           "millennium": 365000 * 86400}  # fmt: skip
MONTHS_IN = {"month": 1, "year": 12, "decade": 120, "century": 1200, "millennium": 12000}


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


def anchored(now: datetime, anchor: str) -> datetime:
    midnight = truncate(now, "day")
    if anchor == "today":
        return midnight
    if anchor == "yesterday":
        return midnight - timedelta(days=1)
    if anchor == "tomorrow":
        return midnight + timedelta(days=1)
    return now


def calendar(now: datetime, point: ast.CalendarPoint) -> datetime:
    """Start of the calendar unit holding the anchor, moved by whole units."""
    moment = anchored(now, point.anchor).astimezone(UTC)
    unit, offset = point.unit, point.offset
    if unit in MONTHS_IN:
        year = moment.year
        if unit == "decade":
            year = year // 10 * 10
        elif unit == "century":
            year = year // 100 * 100
        elif unit == "millennium":
            year = year // 1000 * 1000
        month = moment.month if unit == "month" else 1
        total = year * 12 + (month - 1) + offset * MONTHS_IN[unit]
        return datetime(total // 12, total % 12 + 1, 1, tzinfo=UTC)
    if unit in ("day", "week"):
        start = truncate(moment, unit)
    elif unit == "hour":
        start = datetime(moment.year, moment.month, moment.day, moment.hour, tzinfo=UTC)
    elif unit == "minute":
        start = datetime(moment.year, moment.month, moment.day, moment.hour, moment.minute, tzinfo=UTC)
    elif unit == "second":
        start = datetime(moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second, tzinfo=UTC)
    else:
        start = moment - timedelta(microseconds=moment.microsecond % 1000)
    return start + timedelta(seconds=SECONDS[unit] * offset)


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
        if isinstance(node, ast.CalendarPoint):
            return calendar(self.now, node)
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
            if isinstance(a, list) or isinstance(b, list):
                same = functions.same_members(a, b)
                return same if node.op == "=" or same is None else not same
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
            if node.op == "%":
                if b == 0:
                    return UNKNOWN
                if isinstance(a, int) and isinstance(b, int):
                    result = abs(a) % abs(b)
                    return result if a >= 0 else -result
                return math.fmod(a, b)
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
        if isinstance(node, ast.InArray):
            value, array = self.eval(node.operand, scope), self.eval(node.array, scope)
            if value is None or array is None:
                return UNKNOWN
            found = value in [item for item in array if item is not None]
            return not found if node.negated else found
        if isinstance(node, ast.FieldOf):
            value = self.eval(node.target, scope)
            return lookup(value, node.fields) if isinstance(value, dict) else UNKNOWN
        if isinstance(node, ast.Occurs):
            anchor = anchored(self.now, node.window.anchor)
            return within(self.eval(node.operand, scope), node.window, anchor)
        if isinstance(node, ast.Call) and node.name == "inSegment":
            return self.eval(self.segments[node.args[0].value], scope) is True  # type: ignore[attr-defined]
        if isinstance(node, ast.Call) and node.name in ("if", "currentMonth", "currentYear", "currentDayOfMonth"):
            return functions.call(self, node, scope)
        if isinstance(node, ast.ListOf):
            return [self.eval(item, scope) for item in node.items]
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
        return functions.method(self, node, scope)

    def chain(self, node: ast.Chain) -> bool:
        ordered = sorted((e for e in self.events if e.get("timestamp") is not None),
                         key=lambda e: to_utc(e["timestamp"]))  # fmt: skip

        def anchor_of(window: ast.Window, picked: dict[str, datetime]) -> datetime:
            if window.anchor in ("now", "today", "yesterday", "tomorrow"):
                return anchored(self.now, window.anchor)
            return picked[window.anchor]

        def fits(step: ast.ChainStep, event: dict[str, Any], picked: dict[str, datetime], last: Any) -> bool:
            moment = to_utc(event["timestamp"])
            if last is not None and not moment > last:
                return False
            if self.eval(step.what, event) is not True:
                return False
            return step.when is None or within(moment, step.when, anchor_of(step.when, picked)) is True

        def attempt(step: int, picked: dict[str, datetime], last: datetime | None) -> bool:
            if step == len(node.steps):
                return True
            current = node.steps[step]
            for event in ordered:
                if not fits(current, event, picked, last):
                    continue
                moment = to_utc(event["timestamp"])
                # COUNT(n): at least n events of this step happened after the last step, up to this one
                counted = [e for e in ordered if to_utc(e["timestamp"]) <= moment and fits(current, e, picked, last)]
                if len(counted) < current.count:
                    continue
                if attempt(step + 1, {**picked, current.name: moment}, moment):
                    return True
            return False

        return attempt(0, {}, None)
