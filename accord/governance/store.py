"""Labels on datasets and fields, custom labels and marketing actions, and policies, as a sandbox stores them.

Every sandbox has the core policies, made the first time its policies are read and shipped disabled, as in
the reference product: an organisation enables those that match its contracts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from accord.catalog import (
    CustomLabelRecord,
    DataLabelRecord,
    DatasetRecord,
    MarketingActionRecord,
    PolicyRecord,
    resolve_sandbox,
    utcnow,
)
from accord.errors import ConflictError, InvalidInputError, NotFoundError, did_you_mean
from accord.governance.exceptions import PolicyExpressionError
from accord.governance.expressions import parse_policy_expression
from accord.governance.labels import CORE_ACTIONS, CORE_LABELS, LABEL_NAME
from accord.governance.policies import Policy
from accord.schema import resolve_schema_by_id

CORE_POLICIES: tuple[tuple[str, str, str, str], ...] = (
    ("core-export-to-third-party", "exportToThirdParty", "C1 OR C2 OR C12",
     "Data that may not leave Accord (C12), go to a third party (C2), or leave it unaggregated (C1)"),
    ("core-cross-site-targeting", "crossSiteTargeting", "C4 OR C5", "Data that may not target across sites"),
    ("core-onsite-advertising", "onsiteAdvertising", "C4 OR C6", "Data that may not target ads on site"),
    ("core-onsite-personalization", "onsitePersonalization", "C4 OR C7", "Data that may not target content on site"),
    ("core-analytics", "analytics", "C8", "Data that may not measure the organisation's sites and apps"),
    ("core-data-science", "dataScience", "C9", "Data that may not be used in data science"),
    ("core-single-identity", "singleIdentityPersonalization", "C10", "Data that may not be activated one to one"),
    ("core-segment-match", "segmentMatch", "C11", "Data that may not be shared with match partners"),
    ("core-combine-with-pii", "combineWithPii", "C3 AND I1", "Data that may not be combined with identifying data"),
)  # fmt: skip
"""Name, marketing action, expression, description of each core policy (disabled until enabled)."""


def known_labels(session: Session, sandbox_id: str) -> dict[str, dict[str, str]]:
    """The core and custom labels of a sandbox: name -> {category, description}."""
    found = {name: {"category": label.category, "description": label.description} for name, label in
             CORE_LABELS.items()}  # fmt: skip
    for record in session.scalars(select(CustomLabelRecord).where(CustomLabelRecord.sandbox_id == sandbox_id)):
        found[record.name] = {"category": "custom", "description": record.description}
    return found


def known_actions(session: Session, sandbox_id: str) -> dict[str, dict[str, str]]:
    found = {name: {"title": a.title, "description": a.description, "core": "yes"} for name, a in
             CORE_ACTIONS.items()}  # fmt: skip
    records = session.scalars(select(MarketingActionRecord).where(MarketingActionRecord.sandbox_id == sandbox_id))
    for record in records:
        found[record.name] = {"title": record.title, "description": record.description, "core": "no"}
    return found


def list_labels(session: Session, sandbox: str) -> list[dict[str, str]]:
    """The labels a sandbox may use: the core ones, then its own."""
    known = known_labels(session, resolve_sandbox(session, sandbox).id)
    return [{"name": name, **about} for name, about in known.items()]


def list_actions(session: Session, sandbox: str) -> list[dict[str, Any]]:
    """The marketing actions of a sandbox: the core ones, then its own."""
    known = known_actions(session, resolve_sandbox(session, sandbox).id)
    return [{"name": name, "title": a["title"], "description": a["description"], "core": a["core"] == "yes"}
            for name, a in known.items()]  # fmt: skip


def create_label(session: Session, sandbox: str, name: str, description: str = "") -> dict[str, str]:
    """A custom label (its name may not be a core label's)."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    if not LABEL_NAME.fullmatch(name):
        raise InvalidInputError(f"label name {name[:80]!r}: a letter, then letters, digits and _, up to 64",
                                code="GOVERNANCE-0410-400")  # fmt: skip
    if name in known_labels(session, sandbox_id):
        raise ConflictError(f"label {name!r} already exists", code="GOVERNANCE-0411-409")
    session.add(CustomLabelRecord(sandbox_id=sandbox_id, name=name, description=description[:1024]))
    return {"name": name, "category": "custom", "description": description[:1024]}


def action_problems(session: Session, sandbox_id: str, actions: list[str], path: str) -> list[dict[str, str]]:
    """A problem (at `path[i]`) for each marketing action the sandbox does not know, with the closest names."""
    known = known_actions(session, sandbox_id)
    return [{"path": f"{path}[{i}]", "message": f"no marketing action {a[:80]!r}" + did_you_mean(a, list(known))}
            for i, a in enumerate(actions) if a not in known]  # fmt: skip


def create_action(session: Session, sandbox: str, name: str, title: str = "", description: str = "") -> dict[str, str]:
    """A marketing action of the sandbox's own; its name must not be a core one's nor taken."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    if not LABEL_NAME.fullmatch(name):
        raise InvalidInputError(f"marketing action name {name[:80]!r}: a letter, then letters, digits and _",
                                code="GOVERNANCE-0412-400")  # fmt: skip
    if name in known_actions(session, sandbox_id):
        raise ConflictError(f"marketing action {name!r} already exists", code="GOVERNANCE-0413-409")
    record = MarketingActionRecord(sandbox_id=sandbox_id, name=name, title=title[:256] or name,
                                   description=description[:1024])  # fmt: skip
    session.add(record)
    return {"name": name, "title": record.title, "description": record.description, "core": "no"}


def _dataset(session: Session, sandbox_id: str, name: str) -> DatasetRecord:
    record = session.scalar(select(DatasetRecord).where(DatasetRecord.sandbox_id == sandbox_id,
                                                        DatasetRecord.name == name))  # fmt: skip
    if record is None:
        names = list(session.scalars(select(DatasetRecord.name).where(DatasetRecord.sandbox_id == sandbox_id)))
        raise NotFoundError(f"no dataset {name!r}" + did_you_mean(name, names), code="GOVERNANCE-0414-404")
    return record


def _checked(session: Session, sandbox_id: str, dataset: DatasetRecord, labels: list[str], field: str) -> None:
    """Every label exists and the field is one of the dataset's schema (an object or a leaf); all problems at once."""
    known = known_labels(session, sandbox_id)
    problems = [{"path": f"labels[{i}]", "message": f"no label {label[:80]!r}" + did_you_mean(label, list(known))}
                for i, label in enumerate(labels) if label not in known]  # fmt: skip
    if not labels:
        problems.append({"path": "labels", "message": "give at least one label"})
    if field:
        paths = _schema_paths(session, dataset)
        if field not in paths:
            problems.append({"path": "field", "message": f"dataset {dataset.name}'s schema has no field {field[:200]!r}"
                             + did_you_mean(field, sorted(paths))})  # fmt: skip
    if problems:
        raise InvalidInputError("; ".join(p["message"] for p in problems), code="GOVERNANCE-0415-400",
                                problems=problems)  # fmt: skip


def _schema_paths(session: Session, dataset: DatasetRecord) -> set[str]:
    """Every field path of a dataset's schema, objects included (`homeAddress` and `homeAddress.city`)."""
    paths: set[str] = set()
    for leaf in resolve_schema_by_id(session, dataset.schema_id).leaves():
        parts = leaf.split(".")
        paths.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return paths


def add_labels(session: Session, sandbox: str, dataset: str, labels: list[str], field: str = "") -> dict[str, Any]:
    """Label a dataset (every field of it) or one field; labels it already has are kept once."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    record = _dataset(session, sandbox_id, dataset)
    _checked(session, sandbox_id, record, labels, field)
    have = set(session.scalars(select(DataLabelRecord.label).where(DataLabelRecord.dataset_id == record.id,
                                                                   DataLabelRecord.field == field)))  # fmt: skip
    for label in dict.fromkeys(labels):
        if label not in have:
            session.add(DataLabelRecord(sandbox_id=sandbox_id, dataset_id=record.id, field=field, label=label))
    session.flush()
    return dataset_labels(session, sandbox, dataset)


def remove_labels(session: Session, sandbox: str, dataset: str, labels: list[str], field: str = "") -> dict[str, Any]:
    """Take labels off a dataset (or one of its fields); a label it does not hold there is a `NotFoundError`
    naming those it holds, and nothing is removed."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    record = _dataset(session, sandbox_id, dataset)
    held = set(session.scalars(select(DataLabelRecord.label).where(DataLabelRecord.dataset_id == record.id,
                                                                   DataLabelRecord.field == field)))  # fmt: skip
    missing = [label for label in labels if label not in held]
    if missing:
        where = f"field {field!r} of dataset {dataset!r}" if field else f"dataset {dataset!r}"
        raise NotFoundError(f"{where} has no label {', '.join(m[:64] for m in missing[:10])}; it holds: "
                            f"{', '.join(sorted(held)) or 'none'}", code="GOVERNANCE-0416-404",
                            missing=missing[:100])  # fmt: skip
    session.execute(delete(DataLabelRecord).where(DataLabelRecord.dataset_id == record.id,
                                                  DataLabelRecord.field == field,
                                                  DataLabelRecord.label.in_(labels)))  # fmt: skip
    return dataset_labels(session, sandbox, dataset)


def dataset_fields(session: Session, sandbox: str, dataset: str) -> list[str]:
    """Every field a dataset's labels may be put on: its schema's paths, objects included, in order
    (`homeAddress` before `homeAddress.city`)."""
    return sorted(_schema_paths(session, _dataset(session, resolve_sandbox(session, sandbox).id, dataset)))


def dataset_labels(session: Session, sandbox: str, dataset: str) -> dict[str, Any]:
    """A dataset's labels: its own, and each labelled field's."""
    record = _dataset(session, resolve_sandbox(session, sandbox).id, dataset)
    rows = session.execute(select(DataLabelRecord.field, DataLabelRecord.label)
                           .where(DataLabelRecord.dataset_id == record.id)).all()  # fmt: skip
    fields: dict[str, list[str]] = {}
    for field, label in rows:
        fields.setdefault(field, []).append(label)
    return {"dataset": record.name, "labels": sorted(fields.pop("", [])),
            "fields": {f: sorted(v) for f, v in sorted(fields.items())}}  # fmt: skip


def labels_by_dataset(session: Session, sandbox_id: str) -> dict[str, dict[str, frozenset[str]]]:
    """Every label of the sandbox: dataset id -> field ("" for the dataset) -> labels."""
    found: dict[str, dict[str, set[str]]] = {}
    rows = session.execute(select(DataLabelRecord.dataset_id, DataLabelRecord.field, DataLabelRecord.label)
                           .where(DataLabelRecord.sandbox_id == sandbox_id))  # fmt: skip
    for dataset_id, field, label in rows:
        found.setdefault(dataset_id, {}).setdefault(field, set()).add(label)
    return {d: {f: frozenset(v) for f, v in fields.items()} for d, fields in found.items()}


# -- policies -------------------------------------------------------------------------------------------


def _ensure_core(session: Session, sandbox_id: str) -> None:
    have = set(session.scalars(select(PolicyRecord.name).where(PolicyRecord.sandbox_id == sandbox_id,
                                                               PolicyRecord.core.is_(True))))  # fmt: skip
    for name, action, expression, description in CORE_POLICIES:
        if name not in have:
            session.add(PolicyRecord(sandbox_id=sandbox_id, name=name, action=action, expression=expression,
                                     description=description, enabled=False, core=True))  # fmt: skip
    session.flush()


def create_policy(session: Session, sandbox: str, name: str, action: str, expression: str, *,
                  description: str = "", enabled: bool = False) -> dict[str, Any]:  # fmt: skip
    """A policy, checked whole: its name, its action, and its expression (every unknown label, with its column)."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    _ensure_core(session, sandbox_id)
    problems = []
    if not 1 <= len(name) <= 128 or not name[0].isalnum() or not all(c.isalnum() or c in "._-" for c in name):
        problems.append({"path": "name", "message": "1 to 128 letters, digits, '.', '_' and '-'"})
    problems += [{**p, "path": "action"} for p in action_problems(session, sandbox_id, [action], "action")]
    try:
        parse_policy_expression(expression, known_labels(session, sandbox_id))
    except PolicyExpressionError as exc:
        problems += [{**p, "path": "expression"} for p in exc.details.get("problems", [])]
    if problems:
        said = "; ".join(f"{p['path']}" + (f" column {p['column']}" if "column" in p else "") + f": {p['message']}"
                         for p in problems)  # fmt: skip
        raise InvalidInputError(f"policy {name[:128]!r} is not valid: {said}", code="GOVERNANCE-0420-400",
                                problems=problems)  # fmt: skip
    if session.scalar(select(PolicyRecord.id).where(PolicyRecord.sandbox_id == sandbox_id, PolicyRecord.name == name)):
        raise ConflictError(f"policy {name!r} already exists", code="GOVERNANCE-0421-409")
    record = PolicyRecord(sandbox_id=sandbox_id, name=name, action=action, expression=expression,
                          description=description[:1024], enabled=enabled, core=False)  # fmt: skip
    session.add(record)
    session.flush()
    return policy_document(record)


def set_policy_enabled(session: Session, sandbox: str, name: str, enabled: bool) -> dict[str, Any]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    _ensure_core(session, sandbox_id)
    record = session.scalar(
        select(PolicyRecord).where(PolicyRecord.sandbox_id == sandbox_id, PolicyRecord.name == name)
    )
    if record is None:
        names = list(session.scalars(select(PolicyRecord.name).where(PolicyRecord.sandbox_id == sandbox_id)))
        raise NotFoundError(f"no policy {name!r}" + did_you_mean(name, names), code="GOVERNANCE-0422-404")
    record.enabled, record.updated_at = enabled, utcnow()
    return policy_document(record)


def list_policies(session: Session, sandbox: str) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    _ensure_core(session, sandbox_id)
    records = session.scalars(select(PolicyRecord).where(PolicyRecord.sandbox_id == sandbox_id)
                              .order_by(PolicyRecord.core.desc(), PolicyRecord.name))  # fmt: skip
    return [policy_document(r) for r in records]


def enabled_policies(session: Session, sandbox_id: str) -> list[Policy]:
    """The sandbox's enabled policies, parsed (one that no longer parses, say a custom label gone, is skipped:
    it was checked when saved)."""
    known = known_labels(session, sandbox_id)
    found = []
    for record in session.scalars(select(PolicyRecord).where(PolicyRecord.sandbox_id == sandbox_id,
                                                             PolicyRecord.enabled.is_(True))
                                  .order_by(PolicyRecord.name)):  # fmt: skip
        try:
            found.append(Policy(record.name, record.action, parse_policy_expression(record.expression, known),
                                record.expression))  # fmt: skip
        except PolicyExpressionError:
            continue
    return found


def policy_document(record: PolicyRecord) -> dict[str, Any]:
    return {"name": record.name, "description": record.description, "marketingAction": record.action,
            "expression": record.expression, "enabled": record.enabled, "core": record.core,
            "updatedAt": record.updated_at.isoformat()}  # fmt: skip
