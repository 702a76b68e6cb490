"""Streaming evaluation of computed attributes: a changed profile's values brought up to date from its events.

An attribute that looks back at most 24 hours is computed again from the events streaming reads (a
profile's last 24 hours). A longer one folds the events since the last refresh into the refreshed value (a
count or a sum grows, a minimum, maximum or most recent value moves), without taking out the events that
left its lookback since: the next refresh does. A longer one that no refresh computed from its definition
of now has no value (unknown, as in batch): the last 24 hours are not its lookback. Folded values are used
by the streaming evaluation, not stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from accord.catalog import resolve_sandbox
from accord.schema import value_at
from accord.segment.ast import Events, Method
from accord.segment.computed_evaluation import aggregation, lookback
from accord.segment.computed_values import (
    COUNT_SUFFIX,
    PREFIX,
    ActiveAttribute,
    ComputedValues,
    active_attributes,
    with_values,
)
from accord.segment.evaluator import as_time, compile_python
from accord.segment.jobs import paths_read
from accord.segment.parser import parse_pql
from accord.workspace import Workspace

STREAMING_EXACT = timedelta(hours=24)
"""Lookbacks this short are computed again from the events streaming reads (its last 24 hours)."""


class ComputedFold:
    """A sandbox's computed attributes as streaming evaluation brings them up to date, one changed profile at a time."""

    def __init__(self, workspace: Workspace, sandbox: str) -> None:
        with workspace.catalog.session() as session:
            sandbox_id = resolve_sandbox(session, sandbox).id
            self.attributes = active_attributes(session, sandbox)
        self.values = ComputedValues.open(workspace, sandbox_id)
        current = {a.path for a in self.values.current(self.attributes)} if self.values is not None else set()
        self.since = {a.path: self.values.evaluated_at if a.path in current and self.values else None
                      for a in self.attributes}  # fmt: skip
        self.filters: dict[str, Callable[[dict[str, Any], datetime], bool] | None] = {}
        paths: dict[str, set[str]] = {"profile": set(), "event": {"timestamp"}}
        for attribute in self.attributes:
            paths_read(aggregation(attribute), paths)  # as audiences': a list's items' fields are no event's
            written = parse_pql(attribute.definition["expression"])
            assert isinstance(written, Method) and isinstance(written.target, Events)
            where = written.target.where  # its own filter (streaming chooses events by time itself)
            self.filters[attribute.path] = compile_python(where) if where is not None else None
        self.event_columns = frozenset(path.split(".")[0] for path in paths["event"])
        """The events' top-level fields the attributes read."""

    def reads(self, paths: set[str]) -> bool:
        """Whether any of these profile paths is a computed attribute's."""
        return any(path.startswith(PREFIX) for path in paths) and bool(self.attributes)

    def apply(self, graph: int, profile: dict[str, Any], now: datetime) -> dict[str, Any]:
        """The profile (`{"attributes", "events"}`) with its computed values brought up to date at `now`."""
        stored = self.values.of(graph, self.attributes) if self.values is not None else {}
        timed = [(t, e) for e in profile.get("events") or [] if (t := as_time(e.get("timestamp"))) is not None]
        values = {a.path: self._fold(a, stored, timed, now) for a in self.attributes}
        return {**profile, "attributes": with_values(profile.get("attributes") or {}, values, self.attributes)}

    def _fold(self, attribute: ActiveAttribute, stored: dict[str, Any], timed: list[tuple[datetime, dict[str, Any]]],
              now: datetime) -> Any:  # fmt: skip
        start, since = now - lookback(attribute), self.since[attribute.path]
        exact = lookback(attribute) <= STREAMING_EXACT
        if since is None and not exact:
            return None  # no refresh computed it from its definition of now: unknown, as batch says
        after = start if since is None or exact else max(start, since)
        keep = self.filters[attribute.path]
        chosen = [(t, e) for t, e in timed if (after <= t if exact else after < t) and t <= now
                  and (keep is None or keep({"attributes": e}, now))]  # fmt: skip
        base = None if exact else stored.get(attribute.path)
        if attribute.function == "count":
            return (base or 0) + len(chosen)
        field = attribute.definition["field"].split(".")
        pairs = [(t, _typed(v, attribute.type)) for t, e in chosen if (v := value_at(e, field)) is not None]
        found = [v for _, v in pairs]
        if attribute.function == "sum":
            return (base or 0) + sum(found)
        if attribute.function == "avg":
            counted = 0 if exact else int(stored.get(attribute.path + COUNT_SUFFIX) or 0)
            total = (base or 0) * counted + sum(found)
            return total / (counted + len(found)) if counted + len(found) else None
        candidates = found + ([_typed(base, attribute.type)] if base is not None else [])
        if attribute.function in ("min", "max"):
            return (min if attribute.function == "min" else max)(candidates, default=None)
        if not pairs:
            return base
        if attribute.function == "mostRecent":
            return max(pairs)[1]
        return base if base is not None else min(pairs)[1]


def _typed(value: Any, xdm_type: str) -> Any:
    """A value as the engine gives it: times as aware datetimes (a profile read through the API has text)."""
    return as_time(value) if xdm_type == "date-time" else value
