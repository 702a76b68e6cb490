"""Schemas as pure data: classes, field groups, identity descriptors, and their composition."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accord.errors import did_you_mean, problem_message
from accord.schema.fields import FieldSpec, FieldTree, FieldType, find, leaves, parse_fields, walk

TENANT = "_tenant"
NAMESPACE_SYMBOL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
CLASS_NAMES = ("profile", "experienceevent")


class IdentityDescriptor(BaseModel):
    """A field that holds an identity of a namespace; at most one per schema is primary."""

    model_config = ConfigDict(extra="forbid")

    path: str
    namespace: str
    primary: bool = False


class SchemaDocument(BaseModel):
    """What a user writes to create or replace a schema."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
    title: str = ""
    class_name: str = Field(alias="class")
    field_groups: list[str] = Field(default_factory=list, alias="fieldGroups")
    identities: list[IdentityDescriptor] = Field(default_factory=list)


class FieldGroupDocument(BaseModel):
    """What a user writes to create a custom field group; its fields live under `_tenant`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
    title: str = ""
    classes: list[str] = Field(min_length=1)
    fields: dict[str, Any]


@dataclass(frozen=True)
class SchemaClass:
    name: str
    id: str
    title: str
    fields: FieldTree


@dataclass(frozen=True)
class FieldGroup:
    name: str
    title: str
    classes: tuple[str, ...]
    fields: FieldTree
    standard: bool = False
    version: int = 1

    def to_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "classes": list(self.classes),
            "standard": self.standard,
            "version": self.version,
            "fields": {k: v.to_document() for k, v in self.fields.items()},
        }


@dataclass(frozen=True)
class ResolvedSchema:
    """A schema with its class and field groups merged into one field tree."""

    name: str
    title: str
    schema_class: SchemaClass
    field_groups: tuple[str, ...]
    fields: FieldTree
    identities: tuple[IdentityDescriptor, ...] = ()
    version: int = 1
    id: str = ""
    datasets: tuple[str, ...] = field(default=())

    @property
    def class_name(self) -> str:
        return self.schema_class.name

    def leaves(self) -> dict[str, FieldSpec]:
        return leaves(self.fields)

    def primary_identity(self) -> IdentityDescriptor | None:
        return next((i for i in self.identities if i.primary), None)

    def to_document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title,
            "class": self.class_name,
            "classId": self.schema_class.id,
            "version": self.version,
            "fieldGroups": list(self.field_groups),
            "identities": [i.model_dump() for i in self.identities],
            "identityMap": "identityMap" in self.fields,
            "datasets": list(self.datasets),
            "fields": {k: v.to_document() for k, v in self.fields.items()},
        }


@cache
def standard_classes() -> dict[str, SchemaClass]:
    raw = json.loads(resources.files("accord.schema").joinpath("standard/classes.json").read_text())
    return {name: SchemaClass(name, doc["id"], doc["title"], parse_fields(doc["fields"])) for name, doc in raw.items()}


@cache
def standard_field_groups() -> dict[str, FieldGroup]:
    groups: dict[str, FieldGroup] = {}
    folder = resources.files("accord.schema").joinpath("standard")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json") and entry.name != "classes.json":
            doc = json.loads(entry.read_text())
            groups[doc["name"]] = FieldGroup(
                doc["name"], doc["title"], tuple(doc["classes"]), parse_fields(doc["fields"]), standard=True
            )
    return groups


def pydantic_problems(exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    problems = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"] if p not in ("properties", "items", "values"))
        problems.append({"path": f"{prefix}{path}".rstrip("."), "message": problem_message(err)})
    return problems


MAX_DEPTH = 16
"""Deepest nesting of objects, arrays and maps in a field group (XDM's own go about 8 deep)."""


def _depth(document: Any) -> int:
    if not isinstance(document, dict):
        return 0
    children = [*(document.get("properties") or {}).values(), document.get("items"), document.get("values")]
    return 1 + max((_depth(c) for c in children if c is not None), default=0)


def parse_custom_field_group(document: FieldGroupDocument) -> tuple[FieldTree, list[dict[str, Any]]]:
    """Check a custom field group whole; every problem is returned with its path."""
    problems: list[dict[str, Any]] = []
    deepest = max((_depth(spec) for spec in document.fields.values()), default=0)
    if deepest > MAX_DEPTH:
        return {}, [
            {"path": "fields", "message": f"fields nest {deepest} levels deep; at most {MAX_DEPTH} are allowed"}
        ]
    for class_name in document.classes:
        if class_name not in CLASS_NAMES:
            problems.append({"path": "classes", "message": f"unknown class {class_name!r}; use {CLASS_NAMES}"})
    tree: FieldTree = {}
    for name, spec in document.fields.items():
        if name != TENANT:
            problems.append(
                {"path": f"fields.{name}", "message": f"custom fields must sit under `{TENANT}`, not at the root"}
            )
            continue
        try:
            tree[name] = FieldSpec.model_validate(spec)
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc, f"fields.{name}."))
    if not document.fields:
        problems.append({"path": "fields", "message": "a field group needs at least one field"})
    return tree, problems


def merge_trees(
    base: FieldTree, extra: FieldTree, origin: str, problems: list[dict[str, Any]], prefix: str = ""
) -> FieldTree:
    """Merge two field trees; objects merge field by field, other clashes are reported."""
    merged = dict(base)
    for name, spec in extra.items():
        path = f"{prefix}{name}"
        existing = merged.get(name)
        if existing is None:
            merged[name] = spec
        elif existing.type == FieldType.object and spec.type == FieldType.object:
            children = merge_trees(existing.properties or {}, spec.properties or {}, origin, problems, path + ".")
            merged[name] = existing.model_copy(update={"properties": children})
        elif existing != spec:
            problems.append(
                {
                    "path": path,
                    "message": f"field group {origin!r} defines it as {spec.type.value}, "
                    f"which clashes with {existing.type.value} from another field group",
                }
            )
    return merged


def compose(
    document: SchemaDocument, available_groups: dict[str, FieldGroup]
) -> tuple[ResolvedSchema | None, list[dict[str, Any]]]:
    """Resolve a schema document against the known field groups; returns every problem found."""
    problems: list[dict[str, Any]] = []
    schema_class = standard_classes().get(document.class_name)
    if schema_class is None:
        problems.append({"path": "class", "message": f"unknown class {document.class_name!r}; use {CLASS_NAMES}"})
        problems.extend(
            {"path": f"fieldGroups[{i}]", "message": f"unknown field group {name!r}"}
            for i, name in enumerate(document.field_groups)
            if name not in available_groups
        )
        return None, problems
    tree = dict(schema_class.fields)
    if len(set(document.field_groups)) != len(document.field_groups):
        problems.append({"path": "fieldGroups", "message": "a field group is listed twice"})
    for index, name in enumerate(document.field_groups):
        group = available_groups.get(name)
        if group is None:
            problems.append(
                {
                    "path": f"fieldGroups[{index}]",
                    "message": f"unknown field group {name!r}" + did_you_mean(name, list(available_groups)),
                }
            )
            continue
        if document.class_name not in group.classes:
            problems.append(
                {
                    "path": f"fieldGroups[{index}]",
                    "message": f"field group {name!r} is for {', '.join(group.classes)}, not {document.class_name}",
                }
            )
            continue
        tree = merge_trees(tree, group.fields, name, problems)
    problems.extend(identity_problems(tree, document.identities))
    resolved = ResolvedSchema(
        name=document.name,
        title=document.title,
        schema_class=schema_class,
        field_groups=tuple(document.field_groups),
        fields=tree,
        identities=tuple(document.identities),
    )
    return (None if problems else resolved), problems


def identity_problems(tree: FieldTree, identities: list[IdentityDescriptor]) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    all_paths = [p for p, _ in walk(tree)]
    for index, identity in enumerate(identities):
        where = f"identities[{index}]"
        spec = find(tree, identity.path)
        if spec is None:
            problems.append(
                {
                    "path": where,
                    "message": f"no field {identity.path!r} in the schema" + did_you_mean(identity.path, all_paths),
                }
            )
        elif spec.type != FieldType.string:
            problems.append({"path": where, "message": f"identity field {identity.path!r} must be a string"})
        if not NAMESPACE_SYMBOL.match(identity.namespace):
            problems.append({"path": where, "message": f"namespace {identity.namespace!r} is not a valid symbol"})
    if sum(i.primary for i in identities) > 1:
        problems.append({"path": "identities", "message": "at most one identity can be primary"})
    if len({i.path for i in identities}) != len(identities):
        problems.append({"path": "identities", "message": "a field can be the identity of only one namespace"})
    return problems
