"""A schema's field tree as a reader goes through it: each field once, parents before children, with its type,
where it comes from (the class, or the field groups that define it) and the identity it holds.

The registry merges a class and its field groups into one tree and forgets who brought which field; the outline
finds out again by looking each field up in the class's tree and in each field group's, so that a field two groups
share (an object such as `person`) names both."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from accord.catalog import resolve_sandbox
from accord.schema.fields import FieldSpec, FieldTree, FieldType
from accord.schema.model import FieldGroup, ResolvedSchema
from accord.schema.registry import available_field_groups, get_schema

ITEMS = "[]"
"""What a path says between an array and the fields of its items (`productListItems[].SKU`)."""


@dataclass(frozen=True)
class FieldLine:
    """One field of a schema's tree."""

    path: str
    """Dotted, with `[]` between an array of objects and its items' fields."""
    name: str
    depth: int
    """0 for a field at the root."""
    type: str
    """The field's type, and what an array or a map holds: `string`, `array of object`, `map of integer`."""
    title: str
    required: bool
    from_class: bool
    """The class itself defines the field (else only field groups do)."""
    field_groups: tuple[str, ...]
    """The schema's field groups that define the field, in the schema's order."""
    namespace: str | None = None
    """The identity namespace of the values the field holds, when it is an identity."""
    primary: bool = False


def _type_of(spec: FieldSpec) -> str:
    if spec.type == FieldType.array and spec.items is not None:
        return f"array of {_type_of(spec.items)}"
    if spec.type == FieldType.map and spec.values is not None:
        return f"map of {_type_of(spec.values)}"
    return spec.type.value


def _children(spec: FieldSpec) -> tuple[FieldTree, str] | None:
    """The fields below a field, and how their paths join it: an object's, or the items' of an array of objects."""
    if spec.type == FieldType.object and spec.properties:
        return spec.properties, "."
    if spec.type == FieldType.array and spec.items is not None and spec.items.properties:
        return spec.items.properties, f"{ITEMS}."
    return None


def _fields(tree: FieldTree, prefix: str = "", depth: int = 0) -> list[tuple[str, str, int, FieldSpec]]:
    found: list[tuple[str, str, int, FieldSpec]] = []
    for name, spec in tree.items():
        path = f"{prefix}{name}"
        found.append((path, name, depth, spec))
        if (below := _children(spec)) is not None:
            found.extend(_fields(below[0], path + below[1], depth + 1))
    return found


def outline(schema: ResolvedSchema, groups: Mapping[str, FieldGroup]) -> list[FieldLine]:
    """Every field of a resolved schema, parents before children, with its origin and identity.

    `groups`: the field groups the sandbox knows (`available_field_groups`); a group the schema names but
    `groups` lacks is no origin."""
    of_class = {path for path, *_ in _fields(schema.schema_class.fields)}
    of_group = {name: {path for path, *_ in _fields(groups[name].fields)}
                for name in schema.field_groups if name in groups}  # fmt: skip
    identities = {i.path: i for i in schema.identities}
    lines = []
    for path, name, depth, spec in _fields(schema.fields):
        identity = identities.get(path)
        lines.append(FieldLine(
            path=path, name=name, depth=depth, type=_type_of(spec), title=spec.title, required=spec.required,
            from_class=path in of_class, field_groups=tuple(g for g, paths in of_group.items() if path in paths),
            namespace=identity.namespace if identity else None, primary=bool(identity and identity.primary),
        ))  # fmt: skip
    return lines


def schema_outline(session: Session, sandbox: str, name: str) -> tuple[ResolvedSchema, list[FieldLine]]:
    """A schema of the sandbox and its field tree (`outline`), as a page shows them."""
    resolved = get_schema(session, sandbox, name)
    return resolved, outline(resolved, available_field_groups(session, resolve_sandbox(session, sandbox).id))
