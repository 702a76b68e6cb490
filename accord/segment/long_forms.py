"""The reference's other spellings, turned into the one tree every evaluator knows.

`exists E from xEvent where C`, `forall ...`, `select E from xEvent where C`, `sum E.x over E from xEvent
where C`, `let S = (...) in ...`, `xEvent[C].x.sum()`, `sum(xEvent.x)`, `$1.x`, `(Profile) => Profile.x`
and the calendar forms of `occurs` (`occurs last month`, `occurs = 3 days before today`, `occurs between
... and ...`) become event aggregations, comparisons and `CalendarPoint`s: the checker, the compiler and
the evaluators need nothing of their own for them. Each result keeps the place in the text of what it
came from, so problems found later point at what the user wrote."""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from accord.segment.ast import (
    CalendarPoint,
    Call,
    Compare,
    Events,
    Literal,
    Logic,
    Method,
    Node,
    Not,
    Now,
    Path,
    Position,
    Window,
)  # fmt: skip
from accord.segment.functions import FUNCTIONS

AGGREGATIONS = {"sum": "sum", "avg": "avg", "average": "avg", "min": "min", "max": "max", "count": "count"}
"""The aggregations of a list of event values, by the names the reference gives them."""
CALENDAR_UNITS = ("millisecond", "second", "minute", "hour", "day", "week", "month", "year", "decade", "century",
                  "millennium")  # fmt: skip
Problem = Callable[[Any, str], None]
"""Records a problem at a node (or anything with a `pos`)."""


@dataclass(frozen=True)
class EventValues(Node):
    """`xEvent[C].x`: the values of a field over (some of) the events; only an aggregation makes a value of
    it, so it never leaves the parser."""

    events: Events
    path: Path


@dataclass(frozen=True)
class SelectedEvents(Events):
    """`select E from xEvent where C`: the events themselves; standing alone, a condition (some exist)."""


@dataclass(frozen=True)
class FilteredList(Node):
    """`productListItems[SKU = "PS"]`: the items of a list that meet a condition, as the reference's filter
    writes it. Where a condition is wanted it is `productListItems.exists(SKU = "PS")` (some item meets it);
    elsewhere, `productListItems.filter(SKU = "PS")`; so it never leaves the parser."""

    items: Path
    condition: Node


def as_condition(node: Any) -> Any:
    """A filtered list standing where a condition is wanted: whether some item meets the filter. So are the
    events, as the reference writes them (`xEvent[productListItems[SKU = "PS"]]`: some event has such an item)."""
    if isinstance(node, FilteredList):
        return Method(node.pos, node.items, "exists", (node.condition,))
    if type(node) is Events:  # `select ...` standing alone is read once the tree is built (see `finish`)
        return Method(node.pos, node, "exists", ())
    return node


def unit_name(word: str) -> str:
    """`hours` -> `hour`, `centuries` -> `century`, `millennia` -> `millennium`."""
    return {"centuries": "century", "millennia": "millennium"}.get(word, word.rstrip("s"))


def rebuild(node: Any, change: Callable[[Any], Any | None]) -> Any:
    """The tree with every node for which `change` gives something replaced by it (outermost first)."""
    found = change(node)
    if found is not None:
        return found
    if isinstance(node, Position | Window) or not hasattr(node, "__dataclass_fields__"):
        return node
    changes: dict[str, Any] = {}
    for item in fields(node):
        value = getattr(node, item.name)
        if isinstance(value, tuple):
            changes[item.name] = tuple(rebuild(part, change) for part in value)
        elif hasattr(value, "__dataclass_fields__"):
            changes[item.name] = rebuild(value, change)
    return replace(node, **changes) if changes else node


def drop_variable(node: Node, name: str, form: str, fail: Problem) -> Node:
    """An event condition written through a variable (`E.eventType = "x"`) as the event paths it reads.

    A path not read through the variable is a profile field, which an event condition cannot read."""

    def change(item: Any) -> Any | None:
        if isinstance(item, Events):  # its own scope: the checker refuses xEvent inside an event condition
            return item
        if isinstance(item, Method) and _reads_items(item):  # its condition reads the items' fields, not E's
            return replace(item, target=rebuild(item.target, change), args=(item.args[0], *(
                rebuild(arg, change) for arg in item.args[1:])))  # fmt: skip
        if not isinstance(item, Path):
            return None
        if item.parts[0] != name:
            fail(item, f"in `{form}`, fields of the event are read through {name} ({name}.eventType); "
                       f"{item.dotted!r} is not: to test the profile too, close the form with parentheses "
                       f"and add `and {item.dotted} ...` after it")  # fmt: skip
            return item
        if len(item.parts) == 1:
            fail(item, f"{name} is an event: compare one of its fields ({name}.eventType)")
            return item
        return Path(item.pos, item.parts[1:])

    result: Node = rebuild(node, change)
    return result


def _reads_items(method: Method) -> bool:
    spec = FUNCTIONS.get(method.name)
    return spec is not None and spec.per_item and bool(method.args)


def drop_parameter(node: Node, name: str) -> Node:
    """The body of `(Profile) => ...` with `Profile.x` read as the profile's `x` (as is `x` alone)."""

    def change(item: Any) -> Any | None:
        if isinstance(item, Path) and item.parts[0] == name and len(item.parts) > 1:
            return Path(item.pos, item.parts[1:])
        return None

    result: Node = rebuild(node, change)
    return result


def substitute(body: Node, name: str, value: Node, fail: Problem) -> Node:
    """`let S = (value) in body`: the body with S replaced by the value."""

    def change(item: Any) -> Any | None:
        if isinstance(item, Path) and item.parts[0] == name:
            if len(item.parts) > 1:
                fail(item, f"{name} is a value set by `let`, it has no fields")
                return item
            return value
        return None

    result: Node = rebuild(body, change)
    return result


def aggregate(pos: Position, name: str, target: Node, args: tuple[Node, ...], fail: Problem) -> Node | None:
    """An aggregation of events or of event values as an event aggregation (`Method` on `Events`), or None
    when the target is neither. `xEvent.x.count()` counts the events where x holds a value."""
    if isinstance(target, EventValues):
        if name not in AGGREGATIONS or args:
            fail(target, f"{target.path.dotted} over the events is a list of values: aggregate it with sum(), "
                         "avg(), min(), max() or count()")  # fmt: skip
            return target
        events = Events(target.events.pos, target.events.where)
        if AGGREGATIONS[name] == "count":
            present = Method(target.path.pos, target.path, "isNotNull", ())
            where = present if events.where is None else Logic(pos, "and", events.where, present)
            return Method(pos, Events(events.pos, where), "count", ())
        return Method(pos, events, AGGREGATIONS[name], (target.path,))
    if isinstance(target, Events):
        plain = Events(target.pos, target.where)
        return Method(pos, plain, "avg" if name == "average" else name, args)
    return None


def finish(tree: Node, fail: Problem) -> Node:
    """The tree once every node is read: `select` standing alone as a condition is `exists`, a filtered list
    not standing as one is `filter(...)`; a list of event values left unaggregated is a problem."""

    def change(item: Any) -> Any | None:
        if isinstance(item, FilteredList):  # not where a condition is wanted (those became `exists` at once)
            return Method(item.pos, item.items, "filter", (finish(item.condition, fail),))
        if isinstance(item, Method) and isinstance(item.target, SelectedEvents):
            return replace(item, target=Events(item.target.pos, finish_where(item.target.where)),
                           args=tuple(finish(arg, fail) for arg in item.args))  # fmt: skip
        if isinstance(item, SelectedEvents):
            return Method(item.pos, Events(item.pos, finish_where(item.where)), "exists", ())
        if isinstance(item, EventValues):
            fail(item, f"{item.path.dotted} over the events is a list of values: aggregate it with sum(), "
                       "avg(), min(), max() or count()")  # fmt: skip
            return Literal(item.pos, None)
        return None

    def finish_where(where: Node | None) -> Node | None:
        return None if where is None else finish(where, fail)

    result: Node = rebuild(tree, change)
    return result


# Calendar time ------------------------------------------------------------------------------------------


def anchor_of(node: Node) -> str | None:
    """`now`, `today`, `yesterday` or `tomorrow` when the node is one of them, else None."""
    if isinstance(node, Now):
        return "today" if node.today else "now"
    if isinstance(node, CalendarPoint) and node.anchor == "now" and node.unit == "day":
        return {-1: "yesterday", 1: "tomorrow"}.get(node.offset)
    return None


def span_of(node: Node, fail: Problem) -> tuple[Node, Node] | None:
    """Where a day or a period starts and where the next begins, when the node is one: today, yesterday,
    tomorrow, `this|last|next <unit>` (a `CalendarPoint` span marker) or `date(y, m, d)`; else None.
    The last day of the calendar has no next day: that is a problem at the date."""
    if isinstance(node, Now) and node.today:
        return CalendarPoint(node.pos, "now", "day", 0), CalendarPoint(node.pos, "now", "day", 1)
    if isinstance(node, CalendarPoint) and anchor_of(node) in ("yesterday", "tomorrow"):
        return node, CalendarPoint(node.pos, "now", "day", node.offset + 1)
    if isinstance(node, Period):
        return (CalendarPoint(node.pos, "now", node.unit, node.offset),
                CalendarPoint(node.pos, "now", node.unit, node.offset + 1))  # fmt: skip
    if isinstance(node, Call) and node.name == "date" and _is_day(node):
        day = datetime.date(*(a.value for a in node.args))  # type: ignore[attr-defined]
        if day == datetime.date.max:
            fail(node, f"{day.isoformat()} is the calendar's last day: a whole day or period here must end "
                       "before it (compare with `occurs before` or a comparison instead)")  # fmt: skip
            return node, node
        after = day + datetime.timedelta(days=1)
        numbers = tuple(Literal(a.pos, v) for a, v in zip(node.args, (after.year, after.month, after.day), strict=True))
        return node, Call(node.pos, "date", numbers)
    return None


@dataclass(frozen=True)
class Period(Node):
    """`this|last|next <unit>` as written (offset 0, -1, 1); turned into calendar points at once."""

    unit: str
    offset: int


def _is_day(call: Call) -> bool:
    if len(call.args) != 3 or not all(isinstance(a, Literal) and type(a.value) is int for a in call.args):
        return False
    try:
        datetime.date(*(a.value for a in call.args))  # type: ignore[attr-defined]
    except (ValueError, OverflowError):
        return False
    return True


def within(pos: Position, moment: Node, start: Node, end: Node) -> Node:
    """start <= moment < end."""
    return Logic(pos, "and", Compare(pos, ">=", moment, start), Compare(pos, "<", moment, end))


def occurs_on(pos: Position, moment: Node, when: Node, fail: Problem) -> Node:
    """`x occurs [on] today | yesterday | date(...) | last month | ...`: x falls within that day or period."""
    span = span_of(when, fail)
    if span is None:
        fail(when, "`occurs on` takes a day or a period: today, yesterday, tomorrow, date(y, m, d), or "
                   "this, last or next followed by a unit (occurs last month); to compare with a moment, "
                   "use `occurs before`, `occurs after` or a comparison")  # fmt: skip
        return Literal(pos, None)
    return within(pos, moment, *span)


def occurs_beside(pos: Position, moment: Node, direction: str, when: Node, fail: Problem) -> Node:
    """`x occurs before X`: earlier than X's start; `after X`: not before X's end (for a day or period),
    later than X (for a moment)."""
    span = span_of(when, fail if direction == "after" else _only_start)
    if direction == "before":
        return Compare(pos, "<", moment, span[0] if span else when)
    return Compare(pos, ">=", moment, span[1]) if span else Compare(pos, ">", moment, when)


def occurs_between(pos: Position, moment: Node, first: Node, last: Node, fail: Problem) -> Node:
    """`x occurs between A and B`: from A's start to B's end (both days or periods included whole), or to B
    itself when B is a moment."""
    start = (span_of(first, _only_start) or (first,))[0]
    span = span_of(last, fail)
    upper = Compare(pos, "<", moment, span[1]) if span else Compare(pos, "<=", moment, last)
    return Logic(pos, "and", Compare(pos, ">=", moment, start), upper)


def _only_start(_node: Any, _message: str) -> None:
    """Where only a span's start is read (`occurs before date(9999, 12, 31)`), its end cannot be a problem."""


def calendar_slot(pos: Position, moment: Node, window: Window, negated: bool, fail: Problem) -> Node:
    """`x occurs = N units before|after X`: x falls in the calendar unit N units before (after) the one
    holding X (`= 3 days before today` is the day three days ago; `= 2 hours before now` the clock hour
    two hours back); `!=` is its negation. (The checker bounds how far the slot may be.)"""
    if not math.isfinite(window.amount):  # a number written with hundreds of digits
        fail(pos, "this number of units is too large for a calendar form")
        return Literal(pos, None)
    if window.amount != int(window.amount):
        fail(pos, "`occurs = N units ...` counts whole units of the calendar")
        return Literal(pos, None)
    shift = -int(window.amount) if window.direction == "before" else int(window.amount)
    start = CalendarPoint(pos, window.anchor, window.unit, shift)
    end = CalendarPoint(pos, window.anchor, window.unit, shift + 1)
    slot = within(pos, moment, start, end)
    return Not(pos, slot) if negated else slot
