"""Export a resolved schema as JSON Schema (draft 2020-12), XDM-style."""

from __future__ import annotations

from typing import Any

from accord.schema.fields import FieldSpec, FieldTree, FieldType
from accord.schema.model import ResolvedSchema

_SCALARS: dict[FieldType, dict[str, Any]] = {
    FieldType.string: {"type": "string"},
    FieldType.integer: {"type": "integer"},
    FieldType.number: {"type": "number"},
    FieldType.boolean: {"type": "boolean"},
    FieldType.date: {"type": "string", "format": "date"},
    FieldType.date_time: {"type": "string", "format": "date-time"},
}


def to_json_schema(schema: ResolvedSchema) -> dict[str, Any]:
    document: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://ns.accord.dev/{schema.class_name}/{schema.name}",
        "title": schema.title or schema.name,
        "meta:class": schema.schema_class.id,
        "meta:extends": [schema.schema_class.id, *schema.field_groups],
        "version": str(schema.version),
        **_object(schema.fields),
    }
    identities = {i.path: i for i in schema.identities}
    if identities:
        document["meta:identities"] = [i.model_dump() for i in schema.identities]
    return document


def _object(tree: FieldTree) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": {k: field_schema(v) for k, v in tree.items()}}
    required = [k for k, v in tree.items() if v.required]
    if required:
        out["required"] = required
    return out


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    if spec.type == FieldType.object:
        out = _object(spec.properties or {})
    elif spec.type == FieldType.array:
        out = {"type": "array", "items": field_schema(spec.items)} if spec.items else {"type": "array"}
    elif spec.type == FieldType.map:
        out = {"type": "object", "additionalProperties": field_schema(spec.values) if spec.values else {}}
        out["meta:xdmType"] = "map"
    else:
        out = dict(_SCALARS[spec.type])
    for key, value in (
        ("title", spec.title),
        ("description", spec.description),
        ("format", spec.format),
        ("enum", spec.enum),
        ("pattern", spec.pattern),
        ("maxLength", spec.max_length),
        ("minimum", spec.minimum),
        ("maximum", spec.maximum),
    ):
        if value not in (None, ""):
            out[key] = value
    return out
