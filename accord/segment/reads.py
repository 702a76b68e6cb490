"""What segments read: the attributes their definitions name, through the segments they refer to as well.

Data usage policies follow these to the labelled dataset fields behind them (`accord.governance`). What one
definition's text reads is a pure function of the text, kept in a small cache: a flow of fifty audiences is
evaluated at every save, change and run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import SegmentDefinitionRecord, resolve_sandbox
from accord.errors import NotFoundError, did_you_mean
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


@lru_cache(maxsize=4096)
def _text_reads(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The profile paths, event paths and segment names a definition's text reads (none if it no longer parses:
    it cannot be evaluated either)."""
    try:
        tree = parse_pql(text)
    except PQLError:
        return (), (), ()
    read: dict[str, set[str]] = {"profile": set(), "event": set()}
    paths_read(tree, read)
    return (
        tuple(sorted(read["profile"])),
        tuple(sorted(read["event"])),
        tuple(referred_name(c) for c in references(tree)),
    )


def attributes_read(session: Session, sandbox: str, names: Iterable[str]) -> dict[str, list[AttributeRead]]:
    """Every attribute each named segment (by name or id) reads, directly or through a segment it refers to; by
    the name asked for. An unknown name is a `NotFoundError` naming those there are."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    rows = session.execute(select(SegmentDefinitionRecord.id, SegmentDefinitionRecord.name,
                                  SegmentDefinitionRecord.expression)
                           .where(SegmentDefinitionRecord.sandbox_id == sandbox_id)).all()  # fmt: skip
    known = {key: (name, text) for segment_id, name, text in rows for key in (segment_id, name)}

    def reads(wanted: str, trail: tuple[str, ...]) -> list[AttributeRead]:
        name, text = known[wanted]
        if name in trail:  # a cycle saved before cycles were refused: read once
            return []
        inner = (name, *trail)
        profile_paths, event_paths, referred = _text_reads(text)
        found = [AttributeRead(p, "profile", inner) for p in profile_paths]
        found += [AttributeRead(p, "event", inner) for p in event_paths]
        for other in referred:
            if other in known:
                found += reads(other, inner)
        return found

    result = {}
    for wanted in names:
        if wanted not in known:
            choices = sorted({name for name, _ in known.values()})
            raise NotFoundError(f"no segment {wanted!r}{did_you_mean(wanted, choices)}", code="SEGMENT-0404-404")
        result[wanted] = reads(wanted, ())
    return result
