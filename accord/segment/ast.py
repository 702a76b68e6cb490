"""The syntax tree of a PQL expression: frozen dataclasses, each with its place in the text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86_400, "week": 604_800, "month": 2_592_000,
                "year": 31_536_000}  # fmt: skip
"""A month is 30 days and a year 365 in relative time: every evaluator counts them the same way."""


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
class Window:
    """A relative time window: `<= 7 days before now`."""

    op: str  # "<=", "<", ">=", ">"
    amount: float
    unit: str
    direction: str  # "before" | "after"
    anchor: str  # "now" | "today" | a chain step's name

    @property
    def seconds(self) -> float:
        return self.amount * UNIT_SECONDS[self.unit]


@dataclass(frozen=True)
class Occurs(Node):
    operand: Node
    window: Window


@dataclass(frozen=True)
class ThisPeriod(Node):
    period: str  # day | week | month | year


@dataclass(frozen=True)
class Method(Node):
    target: Node
    name: str
    args: tuple[Node, ...]


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
    name: str
    what: Node
    when: Window | None
    pos: Position


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
