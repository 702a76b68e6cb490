"""What a segment reads: the attributes its definition names, through the segments it refers to as well.

Data usage policies follow these to the labelled dataset fields behind them (`accord.governance`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from accord.segment.definitions import find_segment
from accord.segment.exceptions import PQLError
from accord.segment.jobs import paths_read
from accord.segment.parser import parse_pql
from accord.segment.references import references, referred_name


@dataclass(frozen=True)
class AttributeRead:
    path: str
    scope: Literal["profile", "event"]
    segments: tuple[str, ...]
    """The segments it is read through, innermost first (`("buyers", "paris-buyers")`)."""


def attributes_read(session: Session, sandbox: str, name: str, _trail: tuple[str, ...] = ()) -> list[AttributeRead]:
    """Every attribute the segment reads, directly or through a segment it refers to (each once per path)."""
    record = find_segment(session, sandbox, name)
    if record.name in _trail:  # a cycle saved before cycles were refused: read once
        return []
    trail = (record.name, *_trail)
    try:
        tree = parse_pql(record.expression)
    except PQLError:
        return []
    read: dict[str, set[str]] = {"profile": set(), "event": set()}
    paths_read(tree, read)
    found = [AttributeRead(p, "profile", trail) for p in sorted(read["profile"])]
    found += [AttributeRead(p, "event", trail) for p in sorted(read["event"])]
    for call in references(tree):
        found += attributes_read(session, sandbox, referred_name(call), trail)
    return found
