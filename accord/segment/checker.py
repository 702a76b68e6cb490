"""Checking a PQL tree against the union schemas: paths, functions, methods, types, time windows.

Every problem is collected (with its line, column and caret, and the nearest valid name), and the
checker also says whether the definition can be evaluated as profiles stream in, and if not why."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from accord.errors import did_you_mean
from accord.segment.ast import (
    Arith,
    Call,
    Chain,
    Compare,
    Events,
    InList,
    ListOf,
    Literal,
    Logic,
    Method,
    Negate,
    Node,
    Not,
    Now,
    Occurs,
    Path,
    ThisPeriod,
    Window,
)  # fmt: skip
from accord.segment.exceptions import PQLError, problem

STRING_METHODS = {
    "equals": (1, 2), "notEquals": (1, 2), "contains": (1, 1), "notContains": (1, 1), "startsWith": (1, 1),
    "notStartsWith": (1, 1), "endsWith": (1, 1), "notEndsWith": (1, 1), "like": (1, 1), "notLike": (1, 1),
    "matches": (1, 1), "notMatches": (1, 1),
}  # fmt: skip
"""String functions and their negations, with how many arguments they take."""


def string_function(name: str) -> tuple[str, bool]:
    """(the function, whether it is negated): `notStartsWith` is (`startsWith`, True)."""
    if name.startswith("not"):
        return name[3].lower() + name[4:], True
    return name, False


VALUE_METHODS = {"isNull": 0, "isNotNull": 0, "exists": 0}
EVENT_METHODS = {"count": 0, "sum": 1, "avg": 1, "min": 1, "max": 1, "any": 1, "all": 1, "exists": 0}
FUNCTIONS = {"date": 3, "inSegment": 1, "bucket": 0}
"""`bucket()` is a number from 0 to 99, stable per profile: audience splits use it."""
STREAMING_WINDOW_SECONDS = 24 * 3600
"""Events count for streaming evaluation only within this window (the reference product's 24 hours)."""

KINDS = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean", "date": "date",
         "date-time": "timestamp", "array": "list", "map": "map"}  # fmt: skip


@dataclass
class Checked:
    """What a checked definition uses, and whether it can stream."""

    profile_paths: set[str] = field(default_factory=set)
    event_paths: set[str] = field(default_factory=set)
    references: list[Call] = field(default_factory=list)
    """Every `inSegment(...)`, in the order written (with where, for problems found later)."""
    streaming: bool = True
    streaming_reason: str = "attribute conditions and events within 24 hours only"


class _Checker:
    def __init__(self, text: str, profile: dict[str, str], event: dict[str, str]) -> None:
        self.text, self.fields = text, {"profile": profile, "event": event}
        self.problems: list[dict[str, Any]] = []
        self.out = Checked()

    def fail(self, node: Any, message: str) -> str:
        self.problems.append(problem(message, node.pos.line, node.pos.column, self.text))
        return "unknown"

    def not_streaming(self, reason: str) -> None:
        if self.out.streaming:
            self.out.streaming, self.out.streaming_reason = False, reason

    def kind(self, node: Node, scope: str) -> str:
        if isinstance(node, Literal):
            v = node.value
            return ("null" if v is None else "boolean" if isinstance(v, bool) else "number"
                    if isinstance(v, int | float) else "string")  # fmt: skip
        if isinstance(node, Path):
            known = self.fields[scope]
            if node.dotted not in known:
                where = "event" if scope == "event" else "profile"
                return self.fail(node, f"the {where} union schema has no field {node.dotted!r}"
                                 f"{did_you_mean(node.dotted, sorted(known))}")  # fmt: skip
            (self.out.event_paths if scope == "event" else self.out.profile_paths).add(node.dotted)
            return KINDS.get(known[node.dotted], "unknown")
        if isinstance(node, Now):
            return "timestamp"
        if isinstance(node, ListOf):
            if any(isinstance(i, Literal) and i.value is None for i in node.items):
                self.fail(node, "a list cannot hold null (test for it with isNull())")
            kinds = {self.kind(item, scope) for item in node.items} - {"null"}
            if len(kinds) > 1 and "unknown" not in kinds:
                self.fail(node, f"a list holds one kind of value, not {', '.join(sorted(kinds))}")
            return "list"
        if isinstance(node, Logic):
            self.boolean(node.left, scope)
            self.boolean(node.right, scope)
            return "boolean"
        if isinstance(node, Not):
            self.boolean(node.operand, scope)
            return "boolean"
        if isinstance(node, Compare):
            left, right = self.kind(node.left, scope), self.kind(node.right, scope)
            if not _comparable(left, right):
                self.fail(node, f"cannot compare {left} with {right}")
            if node.op not in ("=", "!=") and "boolean" in (left, right):
                self.fail(node, f"{node.op} does not order booleans")
            return "boolean"
        if isinstance(node, Arith | Negate):
            for side in (node.left, node.right) if isinstance(node, Arith) else (node.operand,):
                if (k := self.kind(side, scope)) not in ("number", "unknown", "null"):
                    self.fail(side, f"arithmetic needs numbers, not {k}")
            return "number"
        if isinstance(node, InList):
            if any(isinstance(i, Literal) and i.value is None for i in node.items.items):
                return self.fail(node.items, "a list cannot hold null (test for it with isNull())")
            operand, items = self.kind(node.operand, scope), {self.kind(i, scope) for i in node.items.items}
            if any(not _comparable(operand, i) for i in items):
                self.fail(node, f"cannot look for a {operand} in a list of {', '.join(sorted(items))}")
            return "boolean"
        if isinstance(node, Occurs):
            if self.kind(node.operand, scope) not in ("date", "timestamp", "unknown"):
                self.fail(node.operand, "occurs needs a date or a timestamp")
            self.window(node, node.window)
            return "boolean"
        if isinstance(node, Call):
            return self.call(node, scope)
        if isinstance(node, Method):
            return self.method(node, scope)
        if isinstance(node, Events):
            return self.fail(node, "xEvent is a list of events: count(), sum(...), any(...), ... make a value of it")
        if isinstance(node, Chain):
            return self.chain(node, scope)
        if isinstance(node, ThisPeriod):
            return self.fail(node, "`this ...` only goes inside occurs(...)")
        return self.fail(node, "this is not an expression")

    def boolean(self, node: Node, scope: str) -> None:
        if (k := self.kind(node, scope)) not in ("boolean", "unknown", "null"):
            self.fail(node, f"a condition is needed here, not a {k}")

    def window(self, node: Any, window: Window, steps: tuple[str, ...] = ()) -> None:
        if window.op not in ("<=", "<", ">=", ">"):
            self.fail(node, f"a time window takes <=, <, >= or >, not {window.op}")
        if window.anchor not in ("now", "today") and window.anchor not in steps:
            self.fail(node, f"WHEN may refer to now, today or an earlier step ({', '.join(steps) or 'none'}), "
                      f"not {window.anchor!r}")  # fmt: skip

    def call(self, node: Call, scope: str) -> str:
        if node.name not in FUNCTIONS:
            return self.fail(node, f"unknown function {node.name!r}{did_you_mean(node.name, sorted(FUNCTIONS))}")
        if len(node.args) != FUNCTIONS[node.name]:
            return self.fail(node, f"{node.name} takes {FUNCTIONS[node.name]} argument(s)")
        if node.name == "bucket":
            return "number"
        if node.name == "date":
            if not all(isinstance(a, Literal) and isinstance(a.value, int) for a in node.args):
                return self.fail(node, "date(year, month, day) takes three whole numbers")
            import datetime

            try:
                datetime.date(*(a.value for a in node.args))  # type: ignore[attr-defined]
            except ValueError as exc:
                return self.fail(node, f"date(...): {exc}")
            return "date"
        target = node.args[0]
        if not (isinstance(target, Literal) and isinstance(target.value, str) and target.value):
            return self.fail(node, 'inSegment takes the name or id of a segment, as a string: inSegment("vip")')
        self.out.references.append(node)
        self.not_streaming("it refers to another segment")
        return "boolean"

    def method(self, node: Method, scope: str) -> str:
        if isinstance(node.target, Events):
            return self.event_method(node, scope)
        if node.name == "occurs":
            if len(node.args) != 1 or not isinstance(node.args[0], ThisPeriod):
                return self.fail(node, "occurs(...) takes `this day`, `this week`, `this month` or `this year`")
            if self.kind(node.target, scope) not in ("date", "timestamp", "unknown"):
                self.fail(node.target, "occurs needs a date or a timestamp")
            return "boolean"
        known = {**STRING_METHODS, **{k: (v, v) for k, v in VALUE_METHODS.items()}}
        if node.name not in known:
            names = [*sorted(known), "occurs"]
            return self.fail(node, f"unknown function {node.name!r}{did_you_mean(node.name, names)}")
        low, high = known[node.name]
        if not low <= len(node.args) <= high:
            return self.fail(node, f"{node.name} takes {low if low == high else f'{low} or {high}'} argument(s)")
        target = self.kind(node.target, scope)
        if node.name in STRING_METHODS:
            if target not in ("string", "unknown"):
                self.fail(node.target, f"{node.name} needs a string, not {target}")
            if (k := self.kind(node.args[0], scope)) not in ("string", "unknown"):
                self.fail(node.args[0], f"{node.name} compares with a string, not {k}")
            if len(node.args) == 2 and not (isinstance(node.args[1], Literal) and isinstance(node.args[1].value, bool)):
                self.fail(node.args[1], "the second argument (case sensitive) is true or false")
            literal = node.args[0].value if isinstance(node.args[0], Literal) else None
            literal = literal if isinstance(literal, str) else None
            if node.name in ("matches", "notMatches") and (trouble := regex_problem(literal or "")) is not None:
                self.fail(node.args[0], trouble)
        return "boolean"

    def event_method(self, node: Method, scope: str) -> str:
        events = node.target
        assert isinstance(events, Events)
        if scope == "event":
            return self.fail(node, "xEvent cannot be used inside an event condition")
        if node.name not in EVENT_METHODS:
            return self.fail(
                node, f"unknown event function {node.name!r}{did_you_mean(node.name, sorted(EVENT_METHODS))}"
            )
        if len(node.args) != EVENT_METHODS[node.name]:
            return self.fail(node, f"xEvent.{node.name} takes {EVENT_METHODS[node.name]} argument(s)")
        if events.where is not None:
            self.boolean(events.where, "event")
        window = _event_window(events.where)
        if window is None or window > STREAMING_WINDOW_SECONDS:
            self.not_streaming("an event condition is not bounded to the last 24 hours "
                               "(add `timestamp occurs <= 24 hours before now` to its filter)")  # fmt: skip
        if node.name in ("any", "all"):
            self.boolean(node.args[0], "event")
            return "boolean"
        if node.name in ("count", "exists"):
            return "number" if node.name == "count" else "boolean"
        value = self.kind(node.args[0], "event")
        if node.name in ("sum", "avg") and value not in ("number", "unknown"):
            self.fail(node.args[0], f"{node.name} needs numbers, not {value}")
        return value if node.name in ("min", "max") else "number"

    def chain(self, node: Chain, scope: str) -> str:
        if scope == "event":
            return self.fail(node, "CHAIN cannot be used inside an event condition")
        names: tuple[str, ...] = ()
        for step in node.steps:
            if step.name in names:
                self.fail(step, f"step {step.name!r} is named twice")
            self.boolean(step.what, "event")
            if step.when is not None:
                self.window(step, step.when, names)
            names = (*names, step.name)
        first = node.steps[0].when
        if first is None or first.anchor not in ("now", "today") or first.seconds > STREAMING_WINDOW_SECONDS:
            self.not_streaming("the sequence's first step is not bounded to the last 24 hours")
        return "boolean"


NESTED_REPETITION = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")
UNSUPPORTED = re.compile(r"\(\?[=!<]|\\[1-9]")


def regex_problem(pattern: str) -> str | None:
    """Why a `matches` pattern is refused, or None. Every engine must run it the same way and quickly:
    no lookarounds or back-references (the engine's RE2 has none), no nested repetition (it can take
    exponential time in Python's matcher), at most 500 characters."""
    if len(pattern) > 500:
        return "a regular expression is at most 500 characters"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"invalid regular expression: {exc}"
    if UNSUPPORTED.search(pattern):
        return "regular expressions cannot use lookarounds or back-references"
    if NESTED_REPETITION.search(pattern):
        return "this regular expression repeats a repetition, which can take exponential time; simplify it"
    return None


def _comparable(left: str, right: str) -> bool:
    if "unknown" in (left, right) or "null" in (left, right) or left == right:
        return True
    return {left, right} <= {"date", "timestamp"}


def _event_window(where: Node | None) -> float | None:
    """The seconds of the `timestamp occurs <= N before now` conjunct bounding an event filter, if any."""
    if where is None:
        return None
    if isinstance(where, Logic) and where.op == "and":
        found = [w for w in (_event_window(where.left), _event_window(where.right)) if w is not None]
        return min(found) if found else None
    if (isinstance(where, Occurs) and isinstance(where.operand, Path) and where.operand.dotted == "timestamp"
            and where.window.op in ("<=", "<") and where.window.direction == "before"
            and where.window.anchor == "now"):  # fmt: skip
        return where.window.seconds
    return None


def check(node: Node, text: str, profile_fields: dict[str, str], event_fields: dict[str, str]) -> Checked:
    """Check a parsed definition; raises `PQLError` with every problem found."""
    checker = _Checker(text, profile_fields, event_fields)
    checker.boolean(node, "profile")
    if checker.problems:
        raise PQLError(checker.problems)
    return checker.out
