"""Checking a PQL tree against the union schemas: paths, functions, methods, types, time windows.

Every problem is collected (with its line, column and caret, and the nearest valid name), and the
checker also says whether the definition can be evaluated as profiles stream in, and if not why."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from accord.errors import did_you_mean
from accord.segment import functions
from accord.segment.ast import (
    ANCHORS,
    MAX_REACH_SECONDS,
    MAX_REACH_YEARS,
    MAX_WHOLE_NUMBER,
    UNIT_SECONDS,
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
from accord.segment.kinds import (
    ITEMS,
    VALUES,
    comparable,
    element,
    field_kind,
    is_list,
    is_object,
    item_fields,
    shown,
)  # fmt: skip

# Functions and methods on values (strings, lists, maps, dates, `if(...)`) are the table of `functions.py`; the
# event functions (`xEvent[...].count()`) and the special functions below are checked here.
EVENT_METHODS = {"count": 0, "sum": 1, "avg": 1, "min": 1, "max": 1, "any": 1, "all": 1, "exists": 0}
FUNCTIONS = {"date": 3, "inSegment": 1, "bucket": 0}
"""`bucket()` is a number from 0 to 99, stable per profile: audience splits use it."""
CLOCK_FUNCTIONS = {"currentMonth", "currentYear", "currentDayOfMonth"}
"""Functions of the evaluation time (see `on_the_clock`)."""
STREAMING_WINDOW_SECONDS = 24 * 3600
"""Events count for streaming evaluation only within this window (the reference product's 24 hours)."""


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

    def on_the_clock(self, scope: str) -> None:
        """A condition on the profile's attributes that compares with the time (now, today, `occurs ...`,
        currentMonth()) can change without the profile changing, when streaming would not look again: as the
        reference's streaming, such a definition is evaluated in batch only. (An event condition is bounded to
        the last 24 hours instead: see `event_method`.)"""
        if scope.partition(":")[0] == "profile":
            self.not_streaming("a condition on the profile's attributes depends on the time (now, today, occurs, "
                               "currentMonth(), ...): its result changes without the profile changing")  # fmt: skip

    def kind(self, node: Node, scope: str) -> str:
        if isinstance(node, Literal):
            v = node.value
            if type(v) is int and abs(v) > MAX_WHOLE_NUMBER:
                self.fail(node, f"a whole number is at most {MAX_WHOLE_NUMBER:,}; write a larger one with a "
                          "decimal point (100000000000000000000.0)")  # fmt: skip
            return ("null" if v is None else "boolean" if isinstance(v, bool) else "number"
                    if isinstance(v, int | float) else "string")  # fmt: skip
        if isinstance(node, Path):
            known = self.fields[scope]
            base, _, inside = scope.partition(":")  # "event:productListItems[]": the fields of those inside
            if node.dotted not in known:
                if (across := _across_list(node, known)) is not None:
                    return self.fail(node, across)
                if inner := [name for name in _names(known) if name.startswith(f"{node.dotted}.")]:
                    some = ", ".join(inner[:3]) + (", ..." if len(inner) > 3 else "")
                    return self.fail(node, f"{node.dotted!r} is an object, not a value: read one of its fields "
                                           f"({some})")  # fmt: skip
                where = f"the items of {_written(inside)} have" if inside else f"the {base} union schema has"
                return self.fail(node, f"{where} no field {node.dotted!r}{did_you_mean(node.dotted, _names(known))}")
            if not inside:
                (self.out.event_paths if scope == "event" else self.out.profile_paths).add(node.dotted)
            return field_kind(known[node.dotted], f"{inside}.{node.dotted}" if inside else node.dotted)
        if isinstance(node, Now | CalendarPoint | Occurs):
            self.on_the_clock(scope)
        if isinstance(node, CalendarPoint):
            if abs(node.offset) * UNIT_SECONDS[node.unit] > MAX_REACH_SECONDS:
                self.fail(node, f"a calendar form reaches at most {MAX_REACH_YEARS:,} years from now")
            return "timestamp"
        if isinstance(node, Now):
            return "timestamp"
        if isinstance(node, ListOf):
            if any(isinstance(i, Literal) and i.value is None for i in node.items):
                self.fail(node, "a list cannot hold null (test for it with isNull())")
            kinds = {self.kind(item, scope) for item in node.items} - {"null"}
            if len(kinds) > 1 and "unknown" not in kinds:
                self.fail(node, f"a list holds one kind of value, not {', '.join(sorted(kinds))}")
            return f"list of {kinds.pop() if len(kinds) == 1 else 'unknown'}"
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
                self.fail(node, f"cannot compare {shown(left)} with {shown(right)}")
            if node.op not in ("=", "!=") and "boolean" in (left, right):
                self.fail(node, f"{node.op} does not order booleans")
            if node.op not in ("=", "!=") and (is_list(left) or is_list(right)):
                self.fail(node, f"{node.op} does not order lists (= and != compare their members)")
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
        if isinstance(node, InArray):
            return self.in_array(node, scope)
        if isinstance(node, FieldOf):
            return self.field_of(node, scope)
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

    def in_array(self, node: InArray, scope: str) -> str:
        """`x in list` where the list is a field or a function's result: a list of values like x."""
        operand, array = self.kind(node.operand, scope), self.kind(node.array, scope)
        if array not in ("unknown", "null") and not is_list(array):
            return self.fail(node.array, f"`in` looks for a value in a list, not in {shown(array)}")
        inner = element(array)
        if is_object(inner) or is_object(operand) or not comparable(operand, inner) or {operand, inner} == {
                "date", "timestamp"}:  # fmt: skip
            self.fail(node, f"cannot look for a {shown(operand)} in a {shown(array)}")
        return "boolean"

    def field_of(self, node: FieldOf, scope: str) -> str:
        """`orders.topN(price, 5).head().price`: a field of the object the function gives."""
        target = self.kind(node.target, scope)
        if target in ("unknown", "null"):
            return "unknown"
        at = Path(node.fields_at, node.fields)
        if not is_object(target):
            return self.fail(at, f"a {shown(target)} has no fields: .{node.dotted} reads an object's field")
        where, known = target.removeprefix("object:"), self.fields[scope.partition(":")[0]]
        path = f"{where}.{node.dotted}"
        if path not in known:
            names = _names(item_fields(known, where))
            return self.fail(at, f"the object has no field {node.dotted!r}{did_you_mean(node.dotted, names)}")
        return field_kind(known[path], path)

    def boolean(self, node: Node, scope: str) -> None:
        if (k := self.kind(node, scope)) not in ("boolean", "unknown", "null"):
            self.fail(node, f"a condition is needed here, not a {k}")

    def window(self, node: Any, window: Window, steps: tuple[str, ...] = ()) -> None:
        if window.op not in ("<=", "<", ">=", ">"):
            self.fail(node, f"a time window takes <=, <, >= or >, not {window.op}")
        if window.anchor not in ANCHORS and window.anchor not in steps:
            self.fail(node, f"WHEN may refer to now, today, yesterday, tomorrow or an earlier step "
                      f"({', '.join(steps) or 'none'}), not {window.anchor!r}")  # fmt: skip
        if window.seconds > MAX_REACH_SECONDS:  # the evaluators' clocks end at year 1 and year 9999
            self.fail(node, f"a time window reaches at most {MAX_REACH_YEARS:,} years")

    def call(self, node: Call, scope: str) -> str:
        if node.name in CLOCK_FUNCTIONS:
            self.on_the_clock(scope)
        if node.name in functions.CALLS:
            return functions.check(self, node, scope)
        if node.name not in FUNCTIONS:
            names = sorted({*FUNCTIONS, *functions.CALLS})
            return self.fail(node, f"unknown function {node.name!r}{_did_you_mean(node.name, names)}")
        if len(node.args) != FUNCTIONS[node.name]:
            return self.fail(node, f"{node.name} takes {FUNCTIONS[node.name]} argument(s)")
        if node.name == "bucket":
            return "number"
        if node.name == "date":
            if not all(isinstance(a, Literal) and isinstance(a.value, int) for a in node.args):
                return self.fail(node, "date(year, month, day) takes three whole numbers")
            try:
                datetime.date(*(a.value for a in node.args))  # type: ignore[attr-defined]
            except (ValueError, OverflowError) as exc:  # a year of hundreds of digits overflows
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
            self.on_the_clock(scope)
            if len(node.args) != 1 or not isinstance(node.args[0], ThisPeriod):
                return self.fail(node, "occurs(...) takes `this day`, `this week`, `this month` or `this year`")
            if self.kind(node.target, scope) not in ("date", "timestamp", "unknown"):
                self.fail(node.target, "occurs needs a date or a timestamp")
            return "boolean"
        if node.name in functions.REFUSED:
            return self.fail(node, f"{node.name}(...) is not supported: {functions.REFUSED[node.name]}")
        if node.name not in functions.METHODS:
            names = [*sorted(functions.METHODS), "occurs"]
            return self.fail(node, f"unknown function {node.name!r}{_did_you_mean(node.name, names)}")
        return functions.check(self, node, scope)

    def event_method(self, node: Method, scope: str) -> str:
        events = node.target
        assert isinstance(events, Events)
        if scope != "profile":
            return self.fail(node, "xEvent cannot be used inside an event condition (or a list's items)")
        if node.name not in EVENT_METHODS:
            return self.fail(
                node, f"unknown event function {node.name!r}{_did_you_mean(node.name, sorted(EVENT_METHODS))}"
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
        back = window_lookback(first) if first is not None else None
        if back is None or back > STREAMING_WINDOW_SECONDS:  # later steps follow the first: all within 24 h
            self.not_streaming("the sequence's first step is not bounded to the last 24 hours")
        return "boolean"


_comparable = comparable


def _did_you_mean(name: str, names: list[str]) -> str:
    """'; did you mean ...?' for a function's name: the same name in another case first (`STARTSWITH`)."""
    same = [known for known in names if known.lower() == name.lower()]
    return f"; did you mean {', '.join(same)}?" if same else did_you_mean(name, names)


def _names(known: dict[str, str]) -> list[str]:
    """The paths a user can write, for did-you-mean: not those of the items of a list or a map
    (`orders[].price` is how the schema's field list names them, not PQL)."""
    return sorted(path for path in known if ITEMS not in path and VALUES not in path)


def _written(where: str) -> str:
    """A path of the field list as PQL writes it: `_tenant.accounts{}` is `_tenant.accounts`."""
    return where.replace(ITEMS, "").replace(VALUES, "")


def _across_list(node: Path, known: dict[str, str]) -> str | None:
    """Why `orders.price` (a field read across a list of objects, as the reference's `person.orders.storeId`)
    is refused, with what to write instead; None when the path does not cross a list."""
    for cut in range(1, len(node.parts)):
        head, rest = ".".join(node.parts[:cut]), ".".join(node.parts[cut:])
        for inner, items in ((ITEMS, head), (VALUES, f"{head}.values()")):
            if f"{head}{inner}.{rest}" in known:
                return (
                    f"`{node.dotted}` (a field read across a list of objects) is not supported: write "
                    f"{items}.map({rest}) for the list of each item's {rest}, or a function of the items "
                    f"({items}.exists({rest} = ...), {items}.max({rest}), ...)"
                )
    return None


ANCHOR_LOOKBACK = {"now": 0, "today": 86_400, "yesterday": 172_800, "tomorrow": 0}
"""How long before now each anchor can be, at most (midnight today is up to a day ago)."""


def window_lookback(window: Window) -> float | None:
    """How long before now the earliest moment a time window admits can be (seconds); None when it has no
    lower end or counts from an earlier step."""
    if window.anchor not in ANCHOR_LOOKBACK:
        return None
    if window.direction == "before":
        return ANCHOR_LOOKBACK[window.anchor] + window.seconds if window.op in ("<=", "<") else None
    return ANCHOR_LOOKBACK[window.anchor]


def _point_lookback(point: Node) -> float | None:
    """How long before now a lower bound of time can be: `today`, `yesterday`, the start of this hour (a
    calendar point of a fixed-length unit); None for a calendar month or anything else."""
    if isinstance(point, Now):
        return ANCHOR_LOOKBACK["today" if point.today else "now"]
    if not isinstance(point, CalendarPoint) or point.unit not in ("millisecond", "second", "minute", "hour",
                                                                   "day", "week"):  # fmt: skip
        return None
    unit = UNIT_SECONDS[point.unit]
    exact = point.anchor != "now" and point.unit != "week"  # midnight is already the start of its hour or day
    return ANCHOR_LOOKBACK[point.anchor] + (0 if exact else unit) - point.offset * unit


def _event_window(where: Node | None) -> float | None:
    """How far back the conjuncts of an event filter let its events be: a `timestamp occurs <= N before now`
    (or a calendar form, `timestamp occurs today`), in seconds; None when nothing bounds them."""
    if where is None:
        return None
    if isinstance(where, Logic) and where.op == "and":
        found = [w for w in (_event_window(where.left), _event_window(where.right)) if w is not None]
        return min(found) if found else None
    if isinstance(where, Occurs) and isinstance(where.operand, Path) and where.operand.dotted == "timestamp":
        return window_lookback(where.window)
    if (isinstance(where, Compare) and where.op in (">=", ">") and isinstance(where.left, Path)
            and where.left.dotted == "timestamp"):  # fmt: skip
        return _point_lookback(where.right)
    return None


def check(node: Node, text: str, profile_fields: dict[str, str], event_fields: dict[str, str]) -> Checked:
    """Check a parsed definition; raises `PQLError` with every problem found."""
    checker = _Checker(text, profile_fields, event_fields)
    checker.boolean(node, "profile")
    if checker.problems:  # a node a long form copied (both ends of `occurs = 3 days before now`) is told of once
        unique = {(p["line"], p["column"], p["message"]): p for p in checker.problems}
        raise PQLError(list(unique.values()))
    return checker.out
