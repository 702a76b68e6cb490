"""Evaluating computed attributes over every profile: a refresh.

A refresh computes every active computed attribute of a sandbox at once: each is a PQL event aggregation
(its filter and its lookback, then its function), which the segment compiler computes as one filtered
aggregate of its grouped pass over the profile store's events; each profile's values are then written
atomically (`computed_values.py`). A segment job computes them in the same pass as its audiences, and an
audience that reads one reads that column: values and memberships are of the same moment. Streaming
evaluation brings them up to date from a changed profile's events (`computed_streaming.py`).

A refresh marks its attributes PROCESSING while it runs; one stopped before it finished (a killed process)
leaves them so until the next refresh, and they are shown meanwhile as the last finished refresh left them
(`computed_attributes.computed_attribute_document`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pyarrow as pa
from sqlalchemy import select

from accord.catalog import ComputedAttributeRecord, resolve_sandbox
from accord.errors import AccordError, NotFoundError
from accord.profile import store_folder
from accord.schema import FieldSpec, FieldType, field_dtype
from accord.segment.ast import Events, Logic, Method, Node, Occurs, Path, Window
from accord.segment.computed_values import (
    COUNT_SUFFIX,
    ActiveAttribute,
    active_attributes,
    fingerprint,
    values_file,
    write_values,
)
from accord.segment.parser import parse_pql
from accord.workspace import Workspace

UNITS = {"HOURS": timedelta(hours=1), "DAYS": timedelta(days=1), "WEEKS": timedelta(weeks=1),
         "MONTHS": timedelta(days=30)}  # fmt: skip
"""Lookback units; a month is 30 days, as in PQL's time windows."""


def lookback(attribute: ActiveAttribute) -> timedelta:
    """How far back the attribute's events are taken."""
    duration = attribute.definition["duration"]
    return UNITS[duration["unit"]] * int(duration["count"])


@dataclass
class Refresh:
    """One evaluation of a sandbox's active computed attributes at `now`: each is an event aggregation (its
    filter and its lookback, `timestamp occurs <= N seconds before now`), named by its profile path, which the
    segment compiler computes as one column of its grouped pass over the events, beside the audiences' own."""

    workspace: Workspace
    sandbox_id: str
    attributes: list[ActiveAttribute]
    now: datetime
    values: dict[str, Node]
    """The aggregation of each attribute by its path (and, for an average, the count of values it weighs)."""

    @classmethod
    def start(cls, workspace: Workspace, sandbox: str, now: datetime) -> Refresh:
        with workspace.catalog.session() as session:
            sandbox_id = resolve_sandbox(session, sandbox).id
            attributes = active_attributes(session, sandbox)
        if attributes and not (store_folder(workspace, sandbox_id) / "profiles.parquet").exists():
            raise NotFoundError("no profiles to compute attributes on yet: build them with `accord profile rebuild`",
                                code="COMPUTED-0412-404")  # fmt: skip
        values: dict[str, Node] = {}
        for attribute in attributes:
            values[attribute.path] = aggregation(attribute)
            if attribute.function == "avg":
                counted = aggregation(attribute)
                assert isinstance(counted, Method)
                values[attribute.path + COUNT_SUFFIX] = replace(counted, name="countValues")
        if attributes:
            _record(workspace, attributes, "PROCESSING")
        return cls(workspace, sandbox_id, attributes, now, values)

    def stored(self, evaluate: Callable[[], pa.Table]) -> pa.Table:
        """Run the evaluation that computes the values, store them (atomically, sorted by graph) and record
        each attribute's status; the evaluation's table comes back without the values' columns."""
        if not self.attributes:
            return evaluate()
        try:
            table = evaluate()
            columns = ["graph", *self.values]
            kept = table.select(columns).sort_by("graph")
            typed = {a.path: field_dtype(FieldSpec(type=FieldType(a.type))).to_pyarrow() for a in self.attributes}
            kept = pa.table({name: kept[name].cast(typed[name]) if name in typed else kept[name] for name in columns})
            write_values(values_file(self.workspace, self.sandbox_id), kept, self.attributes, self.now)
        except AccordError as exc:
            _record(self.workspace, self.attributes, "FAILED", error=exc.message)
            raise
        except Exception as exc:  # an engine failure: recorded, then raised as it is
            _record(self.workspace, self.attributes, "FAILED", error=f"{type(exc).__name__}: {str(exc)[:300]}")
            raise
        _record(self.workspace, self.attributes, "PROCESSED", evaluated_at=self.now)
        return table.drop_columns(list(self.values))


def aggregation(attribute: ActiveAttribute) -> Node:
    """A computed attribute as the PQL event aggregation it is: its filter and its lookback (both ends
    included: the events from `now - lookback` to `now`), then its function of its field."""
    tree = parse_pql(attribute.definition["expression"])
    assert isinstance(tree, Method) and isinstance(tree.target, Events)
    seconds = lookback(attribute).total_seconds()
    within = Occurs(tree.pos, Path(tree.pos, ("timestamp",)), Window("<=", seconds, "second", "before", "now"))
    where = within if tree.target.where is None else Logic(tree.pos, "and", tree.target.where, within)
    return replace(tree, target=replace(tree.target, where=where))


def _record(workspace: Workspace, attributes: list[ActiveAttribute], status: str, error: str | None = None,
            evaluated_at: datetime | None = None) -> None:  # fmt: skip
    """Each attribute's status, unless it was changed meanwhile (its values are then of an older definition)."""
    with workspace.catalog.session() as session:
        wanted = {a.id: a.fingerprint for a in attributes}
        for record in session.scalars(select(ComputedAttributeRecord).where(ComputedAttributeRecord.id.in_(wanted))):
            if fingerprint(record.definition) != wanted[record.id] or record.status in ("DRAFT", "DISABLED"):
                continue
            record.status, record.error = status, error
            if evaluated_at is not None:
                record.last_evaluated_at = evaluated_at
