"""The syntax tree of a PQL expression: frozen dataclasses, each with its place in the text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

UNIT_SECONDS = {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600, "day": 86_400, "week": 604_800,
                "month": 2_592_000, "year": 31_536_000, "decade": 315_360_000, "century": 3_153_600_000,
                "millennium": 31_536_000_000}  # fmt: skip
"""In a relative time window (`<= 3 months before now`) a month is 30 days, a year 365, a decade ten such
years...: every evaluator counts them the same way. Calendar forms (`occurs last month`, `occurs = 2 days
before today`) use the calendar's units instead (see `CalendarPoint`)."""
MAX_REACH_YEARS = 1000
MAX_REACH_SECONDS = MAX_REACH_YEARS * UNIT_SECONDS["year"]
"""How far from now a time window or a calendar form may reach. The evaluators' clocks run from year 1 to
year 9999: a thousand years either side of any evaluation time in years 1001 to 8999 stays on them (with the
start of a millennium, `occurs = 1 millennium before now`, too)."""
MAX_WHOLE_NUMBER = 2**63 - 1
"""The largest whole number a definition may write: the engine's whole numbers have 64 bits."""
ANCHORS = ("now", "today", "yesterday", "tomorrow")
"""What a time window may count from, besides an earlier step of a sequence: `yesterday` and `tomorrow` are
midnight UTC of those days, `today` midnight UTC today."""


@dataclass(frozen=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True)
class Node:
    pos: Position


@dataclass(frozen=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True)
class Path(Node):
    parts: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Now(Node):
    today: bool = False


@dataclass(frozen=True)
class ListOf(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Logic(Node):
    op: str  # "and" | "or"
    left: Node
    right: Node


@dataclass(frozen=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True)
class Arith(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Negate(Node):
    operand: Node


@dataclass(frozen=True)
class InList(Node):
    operand: Node
    items: ListOf
    negated: bool


@dataclass(frozen=True)
class InArray(Node):
    """`value in list` where the list is not written out (`"red" in _tenant.colors`), or `notIn`: whether the
    list holds the value, unknown when either is missing (so `notIn` is true only when both are known)."""

    operand: Node
    array: Node
    negated: bool


@dataclass(frozen=True)
class Window:
    """A relative time window: `<= 7 days before now`."""

    op: str  # "<=", "<", ">=", ">"
    amount: float
    unit: str
    direction: str  # "before" | "after"
    anchor: str  # one of ANCHORS, or a chain step's name

    @property
    def seconds(self) -> float:
        return self.amount * UNIT_SECONDS[self.unit]


@dataclass(frozen=True)
class Occurs(Node):
    operand: Node
    window: Window


@dataclass(frozen=True)
class CalendarPoint(Node):
    """A moment of the calendar relative to the evaluation time: the start of the `unit` (day, month,
    decade, ...) holding the anchor (one of ANCHORS), moved `offset` whole units. `yesterday` is
    (now, day, -1); `occurs last month` is from (now, month, -1) up to (now, month, 0)."""

    anchor: str
    unit: str
    offset: int


@dataclass(frozen=True)
class ThisPeriod(Node):
    period: str  # day | week | month | year


@dataclass(frozen=True)
class Method(Node):
    target: Node
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class FieldOf(Node):
    """`orders.topN(price, 5).head().price`: a field of the object a function gives (unknown without one). The
    field's names are not a `Path`: walkers of the tree take every `Path` for a field of the profile or an event."""

    target: Node
    fields: tuple[str, ...]
    fields_at: Position

    @property
    def dotted(self) -> str:
        return ".".join(self.fields)


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Events(Node):
    """`xEvent` or `xEvent[condition]`: the profile's events, perhaps filtered; methods aggregate them."""

    where: Node | None


@dataclass(frozen=True)
class ChainStep:
    """A step: an event for which `what` holds (a `WHERE(...)` is joined to it with `and`), within
    `when`; with `COUNT(n)`, n such events, the step happening at the n-th."""

    name: str
    what: Node
    when: Window | None
    pos: Position
    count: int = 1


@dataclass(frozen=True)
class Chain(Node):
    """An ordered sequence of events: each step's event comes after the previous step's."""

    steps: tuple[ChainStep, ...]


def children(node: Any) -> list[Any]:
    """The nodes, steps and windows directly inside a node, in order (for walking a tree)."""
    found: list[Any] = []
    for name in getattr(node, "__dataclass_fields__", {}):
        value = getattr(node, name)
        for item in value if isinstance(value, tuple) else (value,):
            if hasattr(item, "__dataclass_fields__"):
                found.append(item)
    return found


@dataclass(frozen=True)
class Membership(Node):
    """A resolved `inSegment(...)`: whether the profile is in that audience, which is true or false,
    never unknown. A profile for which the audience's condition is unknown is not in it, so it is in
    `not inSegment(...)` (and in an `exclude` composition)."""

    segment: str
    """The audience's name."""
    condition: Node
