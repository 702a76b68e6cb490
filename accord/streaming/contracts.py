"""Schema contracts applied to streamed records (`accord.lake.contracts` says what each contract means).

`sort_records` decides, for a dataset's records of one micro-batch, what of each goes into the lake:
the record whole, the record without the values that do not fit (`discard_value`), or nothing
(`discard_row`, `freeze`, and what `evolve` could not add); with the problems, for the diagnostics.
`evolve` first adds the records' new `_tenant` fields to the dataset's own custom field group
(`<dataset>-evolved`, made and added to the schema on first need), in one catalog transaction.

Whatever the contract, a record is left out when it lacks a field the schema requires (an event's `_id` or
`timestamp`: `INGEST-1555-400`, the batch pipeline's code) or, in a profile dataset, carries no identity
(`STREAM-0424-400`): such a record could never be a whole event, or reach a profile (`incomplete`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from accord import schema as registry
from accord.errors import AccordError
from accord.ingest import REQUIRED_MISSING, records_misfits, records_trimmed
from accord.schema import FIELD_NAME, TENANT, FieldType, ResolvedSchema, value_at, walk
from accord.workspace import Workspace

log = logging.getLogger("accord.streaming")

ROW_LEFT_OUT = "STREAM-0422-400"
"""A record left out of the lake: it does not fit the dataset's schema (its contract refuses or discards it)."""
VALUE_LEFT_OUT = "STREAM-0423-200"
"""A value left out of a record that was taken (contract `discard_value`)."""
NO_IDENTITY = "STREAM-0424-400"
"""A record of a profile dataset left out: it carries no identity, so it could reach no profile."""
UNKNOWN = "has no field of that name"


@dataclass(frozen=True)
class Verdict:
    """What of one record goes into the lake: `entity` (None: nothing), and what was left out and why."""

    entity: dict[str, Any] | None
    errors: tuple[dict[str, str], ...] = ()


@dataclass
class Sorted:
    verdicts: list[Verdict]
    schema: ResolvedSchema
    """The schema the kept records fit (after `evolve` added fields)."""
    added: list[str] = field(default_factory=list)
    """Fields `evolve` added (paths)."""


def sort_records(workspace: Workspace, sandbox: str, dataset: Any, schema: ResolvedSchema,
                 entities: list[dict[str, Any]]) -> Sorted:  # fmt: skip
    """The verdict on each record under the dataset's contract (see the module's docstring)."""
    contract = dataset.schema_contract
    lacking = incomplete(entities, schema, dataset.profile_enabled)
    misfits = records_misfits(entities, schema)
    # an incomplete record is left out whatever else is wrong with it (said too): nothing of it evolves the schema
    for lacks, found in zip(lacking, misfits, strict=True):
        if lacks:
            lacks.extend(_error(ROW_LEFT_OUT, p, "the record was left out (it is incomplete)") for p in found)
            found.clear()
    added: list[str] = []
    why: dict[str, str] = {}
    if contract == "evolve" and any(misfits):
        wanted, why = plan(entities, misfits)
        added, refused = evolve(workspace, sandbox, dataset.name, schema, wanted)
        why |= refused
        if added:
            schema = _schema_of(workspace, dataset.schema_id)
            misfits = records_misfits(entities, schema)
    trimmed = records_trimmed(entities, schema) if contract == "discard_value" else entities
    verdicts = []
    for entity, kept, found, lacks in zip(entities, trimmed, misfits, lacking, strict=True):
        if lacks:
            verdicts.append(Verdict(None, tuple(lacks)))
        elif not found:
            verdicts.append(Verdict(entity))
        elif contract == "discard_value" and kept:
            verdicts.append(Verdict(kept, tuple(_error(VALUE_LEFT_OUT, p, "left out") for p in found)))
        else:
            verdicts.append(Verdict(None, tuple(_error(ROW_LEFT_OUT, p, _row_outcome(contract, entity, p, why))
                                                for p in found)))  # fmt: skip
    return Sorted(verdicts, schema, added)


def incomplete(entities: list[dict[str, Any]], schema: ResolvedSchema, needs_identity: bool
               ) -> list[list[dict[str, str]]]:  # fmt: skip
    """What keeps each record out of the lake whatever the contract (empty: nothing): a field the schema
    requires without a value, and, when `needs_identity` (a profile dataset), no identity at all: none in
    `identityMap` and no value in the schema's identity fields."""
    required = [path for path, spec in walk(schema.fields) if spec.required and spec.type != FieldType.object]
    identity_paths = [identity.path for identity in schema.identities]
    in_map = "identityMap" in schema.fields
    holders = (["identityMap"] if in_map else []) + identity_paths  # where an identity may be
    out = []
    for entity in entities:
        problems = [{"code": REQUIRED_MISSING, "path": path, "message": f"required field {path} is missing"}
                    for path in required if _value_at(entity, path) is None]  # fmt: skip
        if needs_identity and not _carries_identity(entity, in_map, identity_paths):
            problems.append({"code": NO_IDENTITY, "path": holders[0] if holders else "",
                             "message": f"the record carries no identity (none in {', '.join(holders) or 'it'}): "
                                        "it could reach no profile"})  # fmt: skip
        out.append(problems)
    return out


def _value_at(entity: dict[str, Any], path: str) -> Any:
    """The value at a path, None for empty text too (no value, as the batch pipeline reads it)."""
    value = value_at(entity, path.split("."))
    return None if value == "" else value


def _carries_identity(entity: dict[str, Any], in_map: bool, paths: list[str]) -> bool:
    found = entity.get("identityMap") if in_map else None
    if isinstance(found, dict):
        for items in found.values():
            # an empty or null id is an identity all the same, one that validation refuses (`INGEST-1218-400`)
            if isinstance(items, list) and any(isinstance(i, dict) and "id" in i for i in items):
                return True
    return any(_value_at(entity, path) is not None for path in paths)


def refusals(entities: list[dict[str, Any]], schema: ResolvedSchema, contract: str) -> list[list[dict[str, str]]]:
    """At the door: what would keep each record out of the lake under `contract` (empty: nothing would). Under
    `discard_value`, only a record of which nothing would be left; under `evolve`, what could not be added
    (fields outside `_tenant`, values of a wrong kind, names or values a field cannot be made from, fields the
    records disagree on)."""
    misfits = records_misfits(entities, schema)
    if contract == "discard_value":
        trimmed = records_trimmed(entities, schema)
        return [[{**p, "message": f"{p['message']} (nothing of the record fits the schema)"} for p in found]
                if found and not kept else [] for kept, found in zip(trimmed, misfits, strict=True)]  # fmt: skip
    if contract == "evolve":
        _wanted, why = plan(entities, misfits)
        out = []
        for entity, found in zip(entities, misfits, strict=True):
            left = []
            for problem in found:
                reason = _why_left_out(entity, problem, why)
                if reason is not None:
                    left.append({**problem, "message": f"{problem['message']} ({reason})"})
            out.append(left)
        return out
    return misfits


def plan(entities: list[dict[str, Any]], misfits: list[list[dict[str, str]]]
         ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:  # fmt: skip
    """The fields `evolve` would add for these records, by path, and why some it could not (records that
    disagree on a field's type), by path."""
    wanted: dict[str, dict[str, Any]] = {}
    why: dict[str, str] = {}
    for entity, found in zip(entities, misfits, strict=True):
        for problem in found:
            for path, spec in (_new_fields(entity, problem)[0] or {}).items():
                if path in why:
                    continue
                if path in wanted and wanted[path] != spec:
                    merged = _wider(wanted[path], spec)
                    if merged is None:
                        why[path] = "the messages disagree on its type"
                        del wanted[path]
                        continue
                    spec = merged
                wanted[path] = spec
    return wanted, why


def evolve(workspace: Workspace, sandbox: str, dataset: str, schema: ResolvedSchema,
           wanted: dict[str, dict[str, Any]]) -> tuple[list[str], dict[str, str]]:  # fmt: skip
    """Add these fields (by path) to the dataset's own field group; the paths added, and why the others could
    not be (a clash with another schema of the profile, say). All in one change when they can be; else one
    field at a time, so that a field the registry refuses holds up no other."""
    if not wanted:
        return [], {}
    try:
        _add_fields(workspace, sandbox, dataset, schema, wanted)
    except AccordError:
        added, why = [], {}
        for path, spec in sorted(wanted.items()):
            try:
                _add_fields(workspace, sandbox, dataset, _schema_of(workspace, schema.id), {path: spec})
                added.append(path)
            except AccordError as exc:
                why[path] = f"the schema could not take it: {exc.message}"
                log.warning("streaming: %s of %s could not evolve: %s", path, dataset, exc.message)
        return added, why
    log.info("streaming: %s evolved: %s", dataset, ", ".join(sorted(wanted)))
    return sorted(wanted), {}


def _add_fields(workspace: Workspace, sandbox: str, dataset: str, schema: ResolvedSchema,
                wanted: dict[str, dict[str, Any]]) -> None:  # fmt: skip
    """One catalog change: the fields into `<dataset>-evolved` (made, and added to the schema, on first need)."""
    group_name = f"{dataset}-evolved"[:128]
    with workspace.catalog.session() as session:
        existing = registry.available_field_groups(session, _sandbox_id(session, sandbox)).get(group_name)
        tenant = (existing.fields[TENANT].to_document() if existing is not None
                  else {"type": "object", "properties": {}})  # fmt: skip
        for path, spec in sorted(wanted.items()):
            _place(tenant, path.split(".")[1:], spec)
        document = {"name": group_name, "title": f"Fields that streaming added to {dataset}",
                    "classes": [schema.class_name], "fields": {TENANT: tenant}}  # fmt: skip
        if existing is None:
            registry.create_field_group(session, sandbox, document)
        else:
            registry.update_field_group(session, sandbox, group_name, document)
        if group_name not in schema.field_groups:
            registry.update_schema(session, sandbox, schema.name, {
                "name": schema.name, "title": schema.title, "class": schema.class_name,
                "fieldGroups": [*schema.field_groups, group_name],
                "identities": [i.model_dump() for i in schema.identities]})  # fmt: skip


def _why_left_out(entity: dict[str, Any], problem: dict[str, str], why: dict[str, str]) -> str | None:
    """Why `evolve` leaves a record out for a problem (None: it adds the fields the problem names)."""
    fields, reason = _new_fields(entity, problem)
    if fields is None:
        return reason
    return next((why[path] for path in fields if path in why), None)


def _row_outcome(contract: str, entity: dict[str, Any], problem: dict[str, str], why: dict[str, str]) -> str:
    """What happened to a record left out, and why, for its diagnostics."""
    if contract == "discard_value":
        return "the record was left out (discard_value: nothing of it fits the schema)"
    if contract != "evolve":
        return f"the record was left out ({contract})"
    reason = _why_left_out(entity, problem, why) or why.get(problem["path"])
    return f"the record was left out (evolve: {reason})" if reason else "the record was left out (evolve)"


def _new_fields(entity: dict[str, Any], problem: dict[str, str]) -> tuple[dict[str, dict[str, Any]] | None, str]:
    """The fields `evolve` would add for a problem (a field the schema lacks, under `_tenant`, or `_tenant`
    itself when the schema has none), by path; or None, and why not."""
    path = problem["path"]
    if not problem["message"].startswith(UNKNOWN):
        return None, "a field's type is never changed"
    if not (path == TENANT or path.startswith(f"{TENANT}.")):
        return None, f"only fields under `{TENANT}` are added"
    parts = path.split(".")
    value: Any = entity
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            return None, "a field's name is letters, digits and `_`, with no dot"
        value = value[part]
    if path == TENANT:  # the schema has no custom field yet: each of the record's becomes one
        if not isinstance(value, dict) or not value:
            return None, "an empty `_tenant` says nothing of its fields"
        found: dict[str, dict[str, Any]] = {}
        for name in value:
            inner, reason = _new_fields(entity, {**problem, "path": f"{TENANT}.{name}"})
            if inner is None:
                return None, f"{TENANT}.{name}: {reason}"
            found |= inner
        return found, ""
    if not all(FIELD_NAME.match(part) for part in parts[1:]):
        return None, "a field's name is letters, digits and `_`"
    spec = _infer(value)
    if spec is None:
        return None, "a null, {}, [] or a list of mixed kinds says nothing of the field's type"
    return {path: spec}, ""


def _infer(value: Any, depth: int = 0) -> dict[str, Any] | None:
    """A field that holds this JSON value; None when the value says too little (null, {}, [], mixed kinds)."""
    if depth > 8:
        return None
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, dict):
        properties = {}
        for name, inner in value.items():
            spec = _infer(inner, depth + 1) if FIELD_NAME.match(name) else None
            if spec is None:
                return None
            properties[name] = spec
        return {"type": "object", "properties": properties} if properties else None
    if isinstance(value, list):
        kinds = [_infer(item, depth + 1) for item in value if item is not None]
        if not kinds or any(k is None for k in kinds):
            return None
        merged: dict[str, Any] | None = kinds[0]
        for kind in kinds[1:]:
            merged = _wider(merged, kind) if merged is not None and kind is not None else None
        return {"type": "array", "items": merged} if merged is not None else None
    return None


def _wider(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    """One field that holds what both hold (integer and number: number; objects: their fields merged)."""
    if a == b:
        return a
    if {a["type"], b["type"]} == {"integer", "number"}:
        return {"type": "number"}
    if a["type"] == b["type"] == "object":
        properties = dict(a["properties"])
        for name, spec in b["properties"].items():
            if name in properties:
                merged = _wider(properties[name], spec)
                if merged is None:
                    return None
                properties[name] = merged
            else:
                properties[name] = spec
        return {"type": "object", "properties": properties}
    if a["type"] == b["type"] == "array":
        items = _wider(a["items"], b["items"])
        return {"type": "array", "items": items} if items is not None else None
    return None


def _place(tenant: dict[str, Any], parts: list[str], spec: dict[str, Any]) -> None:
    """Put a field into the group's `_tenant` object, making the objects on its way."""
    holder = tenant
    for part in parts[:-1]:
        holder = holder["properties"].setdefault(part, {"type": "object", "properties": {}})
    holder["properties"][parts[-1]] = spec


def _error(code: str, problem: dict[str, str], outcome: str) -> dict[str, str]:
    return {"code": code, "path": problem["path"], "message": f"{problem['message']}: {outcome}"}


def _schema_of(workspace: Workspace, schema_id: str) -> ResolvedSchema:
    from accord.schema import resolve_schema_by_id

    with workspace.catalog.session() as session:
        return resolve_schema_by_id(session, schema_id)


def _sandbox_id(session: Any, sandbox: str) -> str:
    from accord.catalog import resolve_sandbox

    return resolve_sandbox(session, sandbox).id


__all__ = [
    "NO_IDENTITY",
    "ROW_LEFT_OUT",
    "VALUE_LEFT_OUT",
    "Sorted",
    "Verdict",
    "evolve",
    "incomplete",
    "plan",
    "refusals",
    "sort_records",
]
