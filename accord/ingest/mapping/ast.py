"""The syntax tree of a data prep expression: frozen dataclasses with source positions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True)
class Column:
    path: str
    position: Position


@dataclass(frozen=True)
class Literal:
    value: Any
    position: Position


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]
    position: Position


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node
    position: Position


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node
    position: Position


Node = Column | Literal | Call | Binary | Unary
