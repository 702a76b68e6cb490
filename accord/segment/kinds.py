"""The kinds of values the checker reasons about, and the schema fields it knows them from.

A kind is a short text: `string`, `number`, `boolean`, `date`, `timestamp`, `null`, `unknown`, `list of K`,
`map of K`, and `object:<where>` for an object, `<where>` being the path of its fields in the schema's field
list (`productListItems[]` for the items of that array, `identityMap{}[]` for the items of that map's lists).
The schema's field list names every field by its path: leaves, objects, and the fields of the objects an array
or a map holds (`productListItems[].SKU`), so that a condition on the items of an array can be checked."""

from __future__ import annotations

import re

from accord.schema.fields import FieldSpec, FieldTree, FieldType

SCALARS = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean", "date": "date",
           "date-time": "timestamp"}  # fmt: skip
ITEMS, VALUES = "[]", "{}"
"""What a field path says between an array (a map) and its items (its values)."""


def _described(spec: FieldSpec) -> str:
    if spec.type == FieldType.array and spec.items is not None:
        return f"array of {_described(spec.items)}"
    if spec.type == FieldType.map and spec.values is not None:
        return f"map of {_described(spec.values)}"
    return spec.type.value


def schema_fields(tree: FieldTree, prefix: str = "") -> dict[str, str]:
    """Every field of a schema by path, with its type as the checker reads it (`array of string`, `object`)."""
    found: dict[str, str] = {}
    for name, spec in tree.items():
        path = f"{prefix}{name}"
        found[path] = _described(spec)
        if spec.type == FieldType.object and spec.properties:
            found.update(schema_fields(spec.properties, path + "."))
        inner, where = spec, path
        while inner.type in (FieldType.array, FieldType.map):
            step = inner.items if inner.type == FieldType.array else inner.values
            if step is None:
                break
            where += ITEMS if inner.type == FieldType.array else VALUES
            inner = step
        if inner is not spec and inner.type == FieldType.object and inner.properties:
            found.update(schema_fields(inner.properties, where + "."))
    return found


def field_kind(described: str, path: str) -> str:
    """The kind of a field of the given type (`array of object`) at a path (where its items' fields are)."""
    if described in SCALARS:
        return SCALARS[described]
    if described == "object":
        return f"object:{path}"
    if described in ("array", "map"):  # the type of the items is not known
        return "list of unknown" if described == "array" else "map of unknown"
    if described.startswith("array of "):
        return "list of " + field_kind(described.removeprefix("array of "), path + ITEMS)
    if described.startswith("map of "):
        return "map of " + field_kind(described.removeprefix("map of "), path + VALUES)
    return "unknown"


def element(kind: str) -> str:
    """What a list (or a map) of that kind holds; `unknown` when that is not known."""
    for head in ("list of ", "map of "):
        if kind.startswith(head):
            return kind.removeprefix(head)
    return "unknown"


def is_list(kind: str) -> bool:
    return kind.startswith("list of ") or kind == "list"


def is_map(kind: str) -> bool:
    return kind.startswith("map of ") or kind == "map"


def is_object(kind: str) -> bool:
    return kind.startswith("object:")


def shown(kind: str) -> str:
    """A kind as a user reads it: objects without where their fields are."""
    return re.sub(r"object:\S*", "object", kind)


def comparable(left: str, right: str) -> bool:
    """Whether two kinds can be compared (for equality, or in a list)."""
    if "unknown" in (left, right) or "null" in (left, right) or left == right:
        return not (is_object(left) or is_object(right)) or "unknown" in (left, right)
    if is_list(left) and is_list(right):
        return comparable(element(left), element(right))
    return {left, right} <= {"date", "timestamp"}


def item_fields(fields: dict[str, str], where: str) -> dict[str, str]:
    """The fields of the objects at `where` (`productListItems[]`), by their path inside an object."""
    start = where + "."
    return {path.removeprefix(start): described for path, described in fields.items() if path.startswith(start)}
