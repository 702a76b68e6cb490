"""Where computed attributes' values live, and how other contexts read them.

Each computed attribute is a profile attribute at `_tenant.SystemComputedAttributes.<name>.value` (the
reference product groups them in its `SystemComputedAttributes` field group). A refresh writes every
profile's values as one Arrow file keyed by `graph`, sorted by it, beside the profile store: a lookup finds
a person's values by binary search, a segment job or an export joins the file by graph.

This module needs only the catalog and the file: audiences, destinations and lookups read values through
it (destinations and the profile lookup through the segment face) without depending on how attributes are
defined or evaluated (`computed_attributes.py`, `computed_evaluation.py`). A column counts only while it was
computed from the attribute's definition of now (its fingerprint): a new or changed definition has no value
(unknown, not 0) until a refresh computed it."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import ComputedAttributeRecord, resolve_sandbox
from accord.lake import file_version
from accord.schema import FieldSpec, FieldType, field_dtype
from accord.workspace import Workspace

GROUP = "SystemComputedAttributes"
PREFIX = f"_tenant.{GROUP}."
ACTIVE = ("NEW", "PROCESSING", "PROCESSED", "FAILED")
"""Statuses whose attribute is a profile field (a draft is not yet; a disabled one no longer is)."""
COUNT_SUFFIX = "\x1fcount"
"""Beside an `avg` attribute's column, how many values it averaged: streaming folds new events into it."""
METADATA_KEY = b"accord.computed"
ZERO_WHEN_NONE = ("count", "sum")
"""Functions whose value over no event is 0 (as PQL's `count()` and `sum(...)`); the others are unknown."""


def attribute_path(name: str) -> str:
    """The profile path of a computed attribute's value."""
    return f"{PREFIX}{name}.value"


def values_file(workspace: Workspace, sandbox_id: str) -> Path:
    """The file of every profile's computed values, next to the profile store."""
    return workspace.lake.root / sandbox_id / "computed" / "values.arrow"


def fingerprint(definition: dict[str, Any]) -> str:
    """What a value depends on: the expression and the lookback (not the names or description)."""
    wanted = json.dumps([definition.get("expression"), definition.get("duration")], sort_keys=True)
    return hashlib.sha256(wanted.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ActiveAttribute:
    """A computed attribute that is a profile field now, as readers need it."""

    id: str
    name: str
    path: str
    function: str
    type: str
    """Its XDM type: `integer`, `number`, `string`, `boolean`, `date`, `date-time`."""
    fingerprint: str
    definition: dict[str, Any]


def active_attributes(session: Session, sandbox: str) -> list[ActiveAttribute]:
    """The sandbox's computed attributes that are profile fields now (not drafts, not disabled), by name."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    records = session.scalars(select(ComputedAttributeRecord).where(
        ComputedAttributeRecord.sandbox_id == sandbox_id, ComputedAttributeRecord.status.in_(ACTIVE),
    ).order_by(ComputedAttributeRecord.name))  # fmt: skip
    return [ActiveAttribute(r.id, r.name, attribute_path(r.name), r.definition["function"], r.definition["type"],
                            fingerprint(r.definition), r.definition) for r in records]  # fmt: skip


def computed_fields(session: Session, sandbox: str) -> dict[str, FieldSpec]:
    """The profile fields computed attributes add to the union profile schema's, by path."""
    return {a.path: FieldSpec(type=FieldType(a.type), title=a.definition.get("displayName") or a.name,
                              description=f"computed attribute {a.name}")
            for a in active_attributes(session, sandbox)}  # fmt: skip


def write_values(path: Path, table: pa.Table, attributes: list[ActiveAttribute], evaluated_at: datetime) -> None:
    """Write the values atomically (readers see the old file or the new one), with what they were computed from."""
    meta = {"evaluatedAt": evaluated_at.isoformat(), "attributes": {a.path: a.fingerprint for a in attributes}}
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".new")
    with pa.OSFile(str(partial), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=1 << 16)
    os.replace(partial, path)


class ComputedValues:
    """The values file of a sandbox, opened memory-mapped, with the columns that are current."""

    _cache: dict[Path, tuple[tuple[int, int, int], ComputedValues]] = {}
    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self.table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
        self.graphs = self.table["graph"].to_numpy()
        meta = json.loads((self.table.schema.metadata or {}).get(METADATA_KEY, b"{}"))
        self.evaluated_at = datetime.fromisoformat(meta["evaluatedAt"]) if meta.get("evaluatedAt") else None
        self.fingerprints: dict[str, str] = meta.get("attributes", {})

    @classmethod
    def open(cls, workspace: Workspace, sandbox_id: str) -> ComputedValues | None:
        """The values of the last refresh (None before the first); opened once per file written."""
        path = values_file(workspace, sandbox_id)
        stamp = file_version(path)
        if stamp is None:
            return None
        with cls._lock:
            cached = cls._cache.get(path)
            if cached is None or cached[0] != stamp:
                cached = (stamp, cls(path))
                cls._cache[path] = cached
            return cached[1]

    def current(self, attributes: list[ActiveAttribute]) -> list[ActiveAttribute]:
        """The attributes whose column was computed from their definition of now."""
        return [a for a in attributes if self.fingerprints.get(a.path) == a.fingerprint]

    def of(self, graph: int, attributes: list[ActiveAttribute]) -> dict[str, Any]:
        """One profile's values by path (with the averaged counts of `avg` attributes), current ones only."""
        index = int(np.searchsorted(self.graphs, graph))
        found = index < len(self.graphs) and int(self.graphs[index]) == graph
        values: dict[str, Any] = {}
        for attribute in self.current(attributes):
            # a profile the refresh did not see had no event then: 0 where the function gives 0 (as joins do)
            missing = 0 if attribute.function in ZERO_WHEN_NONE else None
            for column in (attribute.path, attribute.path + COUNT_SUFFIX):
                if column in self.table.column_names:
                    values[column] = self.table[column][index].as_py() if found else missing
        return values

    def columns(self, attributes: list[ActiveAttribute], paths: set[str]) -> pa.Table | None:
        """`graph` and the current columns of the paths asked for; None when none of them is current."""
        wanted = [a.path for a in self.current(attributes) if a.path in paths and a.path in self.table.column_names]
        return self.table.select(["graph", *wanted]) if wanted else None


def nested(values: dict[str, Any], attributes: list[ActiveAttribute]) -> dict[str, Any]:
    """Values by path as the attributes of a profile hold them: `{"_tenant": {GROUP: {name: {"value": v}}}}`."""
    group = {a.name: {"value": values.get(a.path)} for a in attributes}
    return {"_tenant": {GROUP: group}} if group else {}


def with_values(attributes: dict[str, Any], values: dict[str, Any], active: list[ActiveAttribute]) -> dict[str, Any]:
    """A profile's attributes with its computed values in their place (other `_tenant` fields kept)."""
    if not active:
        return attributes
    tenant = dict(attributes.get("_tenant") or {})
    tenant[GROUP] = nested(values, active)["_tenant"][GROUP]
    return {**attributes, "_tenant": tenant}


@dataclass(frozen=True)
class ComputedColumns:
    """Computed attributes' values to join to a table of profiles by graph: a segment job's, an export's."""

    values: pa.Table | None
    """`graph` and a column per path asked for that has current values; None when none has."""
    zero: frozenset[str]
    """The current paths whose value is 0 for a profile the values do not hold (`count`, `sum`)."""
    types: dict[str, Any]
    """Each path's engine type (for a path without values yet)."""

    def join(self, table: Any, columns: dict[str, str], registered: Any = None) -> Any:
        """`table` (an Ibis table with `graph`) with each column named (column: path) taken from the values.

        `registered`: the values as a table of the caller's connection (one whose SQL is run as text must
        register them); else they are handed to the engine as an in-memory table."""
        import ibis

        if not columns:
            return table
        left = table.drop(*columns)
        held = set(self.values.column_names[1:]) if self.values is not None else set()
        if self.values is not None:
            right = (registered if registered is not None else ibis.memtable(self.values)).rename(
                _acc_computed_graph="graph")  # fmt: skip
            left = left.left_join(right, left.graph == right._acc_computed_graph)
        out: dict[str, Any] = {}
        for name in table.columns:
            if name not in columns:
                out[name] = left[name]
                continue
            path = columns[name]
            value = left[path] if path in held else ibis.null().cast(self.types.get(path, table[name].type()))
            out[name] = value.fill_null(0) if path in self.zero else value
        return left.select(**out)


def computed_columns(workspace: Workspace, sandbox: str, paths: set[str]) -> ComputedColumns | None:
    """The values of the computed attributes among `paths` (None when none is one)."""
    wanted = {p for p in paths if p.startswith(PREFIX)}
    if not wanted:
        return None
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        attributes = [a for a in active_attributes(session, sandbox) if a.path in wanted]
    values = ComputedValues.open(workspace, sandbox_id)
    table = values.columns(attributes, wanted) if values is not None else None
    held = set(table.column_names[1:]) if table is not None else set()
    # 0 for a profile the values do not hold only where a refresh computed the column from the definition of
    # now (a profile it did not see had no event); a column not current is unknown, as in lookups
    zero = frozenset(a.path for a in attributes if a.function in ZERO_WHEN_NONE and a.path in held)
    return ComputedColumns(table, zero, {a.path: field_dtype(FieldSpec(type=FieldType(a.type))) for a in attributes})


def with_computed(workspace: Workspace, sandbox: str, profiles: Any) -> Any:
    """A flat table of profiles (a column per path) with the columns of computed attributes filled, by graph."""
    found = computed_columns(workspace, sandbox, set(profiles.columns))
    if found is None:
        return profiles
    return found.join(profiles, {c: c for c in profiles.columns if c.startswith(PREFIX)})


def profile_computed_values(workspace: Workspace, sandbox: str, graph: int | None) -> list[dict[str, Any]]:
    """A person's computed attributes as the last refresh left them (a value is None until one computed it)."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        attributes = active_attributes(session, sandbox)
    if not attributes:
        return []
    values = ComputedValues.open(workspace, sandbox_id)
    found = values.of(graph, attributes) if values is not None and graph is not None else {}
    current = {a.path for a in values.current(attributes)} if values is not None else set()
    evaluated = values.evaluated_at.isoformat() if values is not None and values.evaluated_at else None
    return [{"name": a.name, "displayName": a.definition.get("displayName") or a.name, "path": a.path,
             "function": a.function, "value": found.get(a.path),
             "lastEvaluatedAt": evaluated if a.path in current else None} for a in attributes]  # fmt: skip
