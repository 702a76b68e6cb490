"""The field model of XDM-style schemas: a tree of typed fields, addressed by dotted paths."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class FieldType(StrEnum):
    string = "string"
    integer = "integer"
    number = "number"
    boolean = "boolean"
    date = "date"
    date_time = "date-time"
    object = "object"
    array = "array"
    map = "map"


SCALAR_TYPES = frozenset(
    {FieldType.string, FieldType.integer, FieldType.number, FieldType.boolean, FieldType.date, FieldType.date_time}
)
STRING_FORMATS = ("email", "uri", "uuid", "hostname", "ipv4")


class FieldSpec(BaseModel):
    """One field; objects hold `properties`, arrays `items`, maps `values` (keys are strings)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    type: FieldType
    title: str = ""
    description: str = ""
    required: bool = False
    format: str | None = None
    enum: list[str] | None = None
    pattern: str | None = None
    max_length: int | None = Field(default=None, alias="maxLength", ge=1)
    minimum: float | None = None
    maximum: float | None = None
    properties: dict[str, FieldSpec] | None = None
    items: FieldSpec | None = None
    values: FieldSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        t = self.type
        if t == FieldType.object and not self.properties:
            raise ValueError("an object field needs `properties`")
        if t != FieldType.object and self.properties is not None:
            raise ValueError(f"`properties` only belongs on object fields, not {t.value}")
        if t == FieldType.array and self.items is None:
            raise ValueError("an array field needs `items`")
        if t != FieldType.array and self.items is not None:
            raise ValueError("`items` only belongs on array fields")
        if t == FieldType.map and self.values is None:
            raise ValueError("a map field needs `values`")
        if t != FieldType.map and self.values is not None:
            raise ValueError("`values` only belongs on map fields")
        string_only = {"format": self.format, "enum": self.enum, "pattern": self.pattern, "maxLength": self.max_length}
        for key, value in string_only.items():
            if value is not None and t != FieldType.string:
                raise ValueError(f"`{key}` only applies to string fields, not {t.value}")
        if self.format is not None and self.format not in STRING_FORMATS:
            raise ValueError(f"unknown format {self.format!r}; known: {', '.join(STRING_FORMATS)}")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"`pattern` is not a valid regular expression: {exc}") from None
        if (self.minimum is not None or self.maximum is not None) and t not in (FieldType.integer, FieldType.number):
            raise ValueError("`minimum`/`maximum` only apply to integer and number fields")
        for name in self.properties or {}:
            if not FIELD_NAME.match(name):
                raise ValueError(f"field name {name!r} must be letters, digits and underscores")
        return self

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_defaults=True, mode="json") | {"type": self.type.value}


FieldTree = dict[str, FieldSpec]


def parse_fields(document: dict[str, Any]) -> FieldTree:
    """Parse a `{name: field}` mapping; pydantic errors carry their paths."""
    return {name: FieldSpec.model_validate(spec) for name, spec in document.items()}


def walk(tree: FieldTree, prefix: str = "") -> list[tuple[str, FieldSpec]]:
    """Every field of a tree with its dotted path, parents before children (arrays and maps are leaves)."""
    found: list[tuple[str, FieldSpec]] = []
    for name, spec in tree.items():
        path = f"{prefix}{name}"
        found.append((path, spec))
        if spec.type == FieldType.object and spec.properties:
            found.extend(walk(spec.properties, path + "."))
    return found


def leaves(tree: FieldTree) -> dict[str, FieldSpec]:
    """Fields that hold values (scalars, arrays, maps), by path."""
    return {path: spec for path, spec in walk(tree) if spec.type != FieldType.object}


def value_at(record: Any, parts: Sequence[str]) -> Any:
    """The value a record (nested dicts, as JSON gives it) holds at a field's path, split at its dots; None
    where the path leads nowhere."""
    value = record
    for part in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def find(tree: FieldTree, path: str) -> FieldSpec | None:
    node: FieldSpec | None = None
    current: FieldTree | None = tree
    for part in path.split("."):
        if current is None or part not in current:
            return None
        node = current[part]
        current = node.properties
    return node
