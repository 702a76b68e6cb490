"""Schema registry service: field groups, schemas, union schemas, with evolution rules."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import DatasetRecord, FieldGroupRecord, SchemaRecord, resolve_sandbox, utcnow
from accord.errors import did_you_mean
from accord.schema.evolution import breaking_changes
from accord.schema.exceptions import (
    BreakingChangeError,
    DuplicateNameError,
    FieldGroupNotFoundError,
    InvalidSchemaError,
    SchemaNotFoundError,
)
from accord.schema.fields import parse_fields
from accord.schema.model import (
    FieldGroup,
    FieldGroupDocument,
    ResolvedSchema,
    SchemaDocument,
    compose,
    merge_trees,
    parse_custom_field_group,
    pydantic_problems,
    standard_field_groups,
)


def _parse(model: type[SchemaDocument] | type[FieldGroupDocument], document: Any) -> Any:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise InvalidSchemaError(pydantic_problems(exc)) from None


# -- field groups -----------------------------------------------------------------------------------


def available_field_groups(session: Session, sandbox_id: str) -> dict[str, FieldGroup]:
    groups = dict(standard_field_groups())
    for record in session.scalars(select(FieldGroupRecord).where(FieldGroupRecord.sandbox_id == sandbox_id)):
        groups[record.name] = FieldGroup(
            record.name, record.title, tuple(record.classes), parse_fields(record.fields), version=record.version
        )
    return groups


def list_field_groups(session: Session, sandbox: str) -> list[FieldGroup]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    return sorted(available_field_groups(session, sandbox_id).values(), key=lambda g: (not g.standard, g.name))


def get_field_group(session: Session, sandbox: str, name: str) -> FieldGroup:
    groups = available_field_groups(session, resolve_sandbox(session, sandbox).id)
    if name not in groups:
        raise FieldGroupNotFoundError(name, sorted(groups))
    return groups[name]


def create_field_group(session: Session, sandbox: str, document: Any) -> FieldGroup:
    """Add a custom field group (fields under `_tenant`); validated whole before anything is stored."""
    parsed: FieldGroupDocument = _parse(FieldGroupDocument, document)
    sandbox_id = resolve_sandbox(session, sandbox).id
    tree, problems = parse_custom_field_group(parsed)
    if problems:
        raise InvalidSchemaError(problems)
    if parsed.name in available_field_groups(session, sandbox_id):
        raise DuplicateNameError(f"a field group named {parsed.name!r} already exists", name=parsed.name)
    session.add(
        FieldGroupRecord(
            sandbox_id=sandbox_id,
            name=parsed.name,
            title=parsed.title,
            classes=parsed.classes,
            fields={k: v.to_document() for k, v in tree.items()},
        )
    )
    session.flush()
    return FieldGroup(parsed.name, parsed.title, tuple(parsed.classes), tree)


def update_field_group(session: Session, sandbox: str, name: str, document: Any) -> FieldGroup:
    """Replace a custom field group's fields; schemas in use may only grow."""
    parsed: FieldGroupDocument = _parse(FieldGroupDocument, {**document, "name": name})
    sandbox_id = resolve_sandbox(session, sandbox).id
    record = session.scalar(
        select(FieldGroupRecord).where(FieldGroupRecord.sandbox_id == sandbox_id, FieldGroupRecord.name == name)
    )
    if record is None:
        raise FieldGroupNotFoundError(name, sorted(available_field_groups(session, sandbox_id)))
    tree, problems = parse_custom_field_group(parsed)
    if problems:
        raise InvalidSchemaError(problems)
    before = {r.id: _resolve(session, r) for r in _schemas_using(session, sandbox_id, name)}
    record.fields = {k: v.to_document() for k, v in tree.items()}
    record.classes = parsed.classes
    record.title = parsed.title
    record.version += 1
    record.updated_at = utcnow()
    session.flush()
    for schema_id, old in before.items():
        schema_record = session.get(SchemaRecord, schema_id)
        assert schema_record is not None
        _check_evolution(session, schema_record, old, _resolve(session, schema_record))
        schema_record.version += 1
    return FieldGroup(name, parsed.title, tuple(parsed.classes), tree, version=record.version)


def _schemas_using(session: Session, sandbox_id: str, group: str) -> list[SchemaRecord]:
    records = session.scalars(select(SchemaRecord).where(SchemaRecord.sandbox_id == sandbox_id))
    return [r for r in records if group in r.field_groups]


# -- schemas ----------------------------------------------------------------------------------------


def _record(session: Session, sandbox_id: str, name: str) -> SchemaRecord:
    record = session.scalar(
        select(SchemaRecord).where(SchemaRecord.sandbox_id == sandbox_id, SchemaRecord.name == name)
    )
    if record is None:
        names = list(session.scalars(select(SchemaRecord.name).where(SchemaRecord.sandbox_id == sandbox_id)))
        raise SchemaNotFoundError(name, names)
    return record


def _resolve(session: Session, record: SchemaRecord) -> ResolvedSchema:
    document = SchemaDocument.model_validate(
        {
            "name": record.name,
            "title": record.title,
            "class": record.class_name,
            "fieldGroups": record.field_groups,
            "identities": record.identities,
        }
    )
    resolved, problems = compose(document, available_field_groups(session, record.sandbox_id))
    if resolved is None:
        raise InvalidSchemaError(problems)
    datasets = tuple(
        session.scalars(
            select(DatasetRecord.name).where(DatasetRecord.schema_id == record.id).order_by(DatasetRecord.name)
        )
    )
    return ResolvedSchema(
        name=resolved.name,
        title=resolved.title,
        schema_class=resolved.schema_class,
        field_groups=resolved.field_groups,
        fields=resolved.fields,
        identities=resolved.identities,
        version=record.version,
        id=record.id,
        datasets=datasets,
    )


def resolve_schema_by_id(session: Session, schema_id: str) -> ResolvedSchema:
    record = session.get(SchemaRecord, schema_id)
    if record is None:
        raise SchemaNotFoundError(schema_id, [])
    return _resolve(session, record)


def _namespace_problems(session: Session, sandbox_id: str, document: SchemaDocument) -> list[dict[str, Any]]:
    """Identity descriptors must name namespaces that exist (standard, or made in this sandbox)."""
    from accord.identity import namespaces

    known = list(namespaces(session, sandbox_id))
    return [
        {"path": f"identities[{index}]", "message": f"unknown identity namespace {identity.namespace!r}"
         + did_you_mean(identity.namespace, known) + " (create it with `accord identity create`)"}
        for index, identity in enumerate(document.identities)
        if identity.namespace not in known
    ]  # fmt: skip


def create_schema(session: Session, sandbox: str, document: Any) -> ResolvedSchema:
    """Create a schema from a class, field groups and identity descriptors; all problems at once."""
    parsed: SchemaDocument = _parse(SchemaDocument, document)
    sandbox_id = resolve_sandbox(session, sandbox).id
    _resolved, problems = compose(parsed, available_field_groups(session, sandbox_id))
    problems += _namespace_problems(session, sandbox_id, parsed)
    if problems:
        raise InvalidSchemaError(problems)
    exists = session.scalar(
        select(SchemaRecord.id).where(SchemaRecord.sandbox_id == sandbox_id, SchemaRecord.name == parsed.name)
    )
    if exists:
        raise DuplicateNameError(f"a schema named {parsed.name!r} already exists", name=parsed.name)
    record = SchemaRecord(
        sandbox_id=sandbox_id,
        name=parsed.name,
        title=parsed.title,
        class_name=parsed.class_name,
        field_groups=parsed.field_groups,
        identities=[i.model_dump() for i in parsed.identities],
    )
    session.add(record)
    session.flush()
    return _resolve(session, record)


def get_schema(session: Session, sandbox: str, name: str) -> ResolvedSchema:
    return _resolve(session, _record(session, resolve_sandbox(session, sandbox).id, name))


def list_schemas(session: Session, sandbox: str) -> list[ResolvedSchema]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    records = session.scalars(
        select(SchemaRecord).where(SchemaRecord.sandbox_id == sandbox_id).order_by(SchemaRecord.name)
    )
    return [_resolve(session, r) for r in records]


def update_schema(session: Session, sandbox: str, name: str, document: Any) -> ResolvedSchema:
    """Replace a schema's field groups and identities; once a dataset uses it, only additive changes."""
    parsed: SchemaDocument = _parse(SchemaDocument, {**document, "name": name})
    sandbox_id = resolve_sandbox(session, sandbox).id
    record = _record(session, sandbox_id, name)
    old = _resolve(session, record)
    new, problems = compose(parsed, available_field_groups(session, sandbox_id))
    problems += _namespace_problems(session, sandbox_id, parsed)
    if problems or new is None:
        raise InvalidSchemaError(problems)
    if parsed.class_name != record.class_name and old.datasets:
        raise BreakingChangeError(name, [{"path": "class", "message": "the class of a schema in use cannot change"}])
    _check_evolution(session, record, old, new)
    record.title = parsed.title or record.title
    record.class_name = parsed.class_name
    record.field_groups = parsed.field_groups
    record.identities = [i.model_dump() for i in parsed.identities]
    record.version += 1
    record.updated_at = utcnow()
    session.flush()
    return _resolve(session, record)


def _check_evolution(session: Session, record: SchemaRecord, old: ResolvedSchema, new: ResolvedSchema) -> None:
    in_use = session.scalar(select(DatasetRecord.id).where(DatasetRecord.schema_id == record.id).limit(1))
    if in_use is None:
        return
    problems = breaking_changes(old.fields, new.fields, old.identities, new.identities)
    if problems:
        raise BreakingChangeError(record.name, problems)
    check_union(session, record.sandbox_id, new.class_name, replacing={record.id: new})


def delete_schema(session: Session, sandbox: str, name: str) -> None:
    record = _record(session, resolve_sandbox(session, sandbox).id, name)
    users = list(session.scalars(select(DatasetRecord.name).where(DatasetRecord.schema_id == record.id)))
    if users:
        raise BreakingChangeError(name, [{"path": "", "message": f"datasets use it: {', '.join(users)}"}])
    session.delete(record)


# -- union ------------------------------------------------------------------------------------------


def check_union(
    session: Session, sandbox_id: str, class_name: str, replacing: dict[str, ResolvedSchema] | None = None
) -> ResolvedSchema:
    """The union of the schemas of a class behind profile-enabled datasets; clashes are refused."""
    from accord.schema.model import standard_classes

    replacing = replacing or {}
    # by a subquery, not a join and DISTINCT: PostgreSQL cannot compare the schemas' JSON columns
    in_profile = select(DatasetRecord.schema_id).where(DatasetRecord.profile_enabled.is_(True))
    rows = session.execute(
        select(SchemaRecord)
        .where(
            SchemaRecord.sandbox_id == sandbox_id,
            SchemaRecord.class_name == class_name,
            SchemaRecord.id.in_(in_profile),
        )
        .order_by(SchemaRecord.name)
    ).scalars()
    schema_class = standard_classes()[class_name]
    tree = dict(schema_class.fields)
    problems: list[dict[str, Any]] = []
    members: list[str] = []
    identities: list[Any] = []
    for record in rows:
        resolved = replacing.get(record.id) or _resolve(session, record)
        tree = merge_trees(tree, resolved.fields, resolved.name, problems)
        members.append(resolved.name)
        identities.extend(resolved.identities)
    if problems:
        raise BreakingChangeError(f"_union_{class_name}", problems)
    return ResolvedSchema(
        name=f"_union_{class_name}",
        title=f"Union of {class_name} schemas",
        schema_class=schema_class,
        field_groups=tuple(members),
        fields=tree,
        identities=tuple({(i.path, i.namespace): i for i in identities}.values()),
    )


def union_schema(session: Session, sandbox: str, class_name: str) -> ResolvedSchema:
    from accord.schema.model import CLASS_NAMES

    if class_name not in CLASS_NAMES:
        raise InvalidSchemaError([{"path": "class", "message": f"unknown class {class_name!r}; use {CLASS_NAMES}"}])
    return check_union(session, resolve_sandbox(session, sandbox).id, class_name)
