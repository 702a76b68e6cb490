"""Lineage: from the attributes a use of data reads to the labelled dataset fields they come from.

A profile attribute (`personalEmail.address`) is merged from every profile-enabled dataset of the profile
class whose schema has it; an event attribute, from those of the experience event class. Each such field
brings the labels of its dataset, of the field itself, of the objects that hold it (a label on `homeAddress`
covers `homeAddress.city`) and, when the use reads a whole object, of the fields inside it. An identity
(`identityMap.Email`) comes from the fields that the datasets' schemas declare as identities of its namespace.

Whoever describes a use (an activation flow, say) says how each attribute is reached (`via`: "segment
buyers") and what the use is (`outer`: "activation weekly", "destination ads"); this turns that into
labelled pieces, each with its whole lineage path, and asks the enabled policies of the sandbox."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import DatasetRecord
from accord.errors import PermissionDeniedError
from accord.governance.policies import Labelled, Violation, violations
from accord.governance.store import enabled_policies, labels_by_dataset
from accord.schema import resolve_schema_by_id

IDENTITY_PREFIX = "identityMap."
CLASSES = {"profile": "profile", "event": "experienceevent"}


@dataclass(frozen=True)
class FieldUse:
    """An attribute a use reads: its path, whether of the profile or of its events, and how it is reached."""

    path: str
    scope: Literal["profile", "event"] = "profile"
    via: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Source:
    name: str
    class_name: str
    paths: frozenset[str]
    """Every path of its schema, objects included."""
    identities: dict[str, tuple[str, ...]]
    """namespace -> the paths holding identities of it."""
    labels: dict[str, frozenset[str]]
    """field ("" for the dataset) -> labels."""


def _sources(session: Session, sandbox_id: str) -> list[_Source]:
    labelled = labels_by_dataset(session, sandbox_id)
    found = []
    records = session.scalars(select(DatasetRecord).where(DatasetRecord.sandbox_id == sandbox_id,
                                                          DatasetRecord.profile_enabled.is_(True))
                              .order_by(DatasetRecord.name))  # fmt: skip
    for record in records:
        schema = resolve_schema_by_id(session, record.schema_id)
        paths: set[str] = set()
        for leaf in schema.leaves():
            parts = leaf.split(".")
            paths.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        identities: dict[str, list[str]] = {}
        for descriptor in schema.identities:
            identities.setdefault(descriptor.namespace, []).append(descriptor.path)
        found.append(_Source(record.name, schema.class_name, frozenset(paths),
                             {k: tuple(v) for k, v in identities.items()}, labelled.get(record.id, {})))  # fmt: skip
    return found


def _carried(source: _Source, path: str) -> frozenset[str]:
    carried = set(source.labels.get("", frozenset()))
    for field, labels in source.labels.items():
        if field and (field == path or path.startswith(field + ".") or field.startswith(path + ".")):
            carried |= labels
    return frozenset(carried)


def pieces_of(session: Session, sandbox_id: str, uses: Iterable[FieldUse], outer: Sequence[str] = ()) -> list[Labelled]:
    """Every dataset field the uses reach, with its labels and lineage: field, dataset, then `via`, then `outer`."""
    sources = _sources(session, sandbox_id)
    pieces: dict[tuple[str, ...], frozenset[str]] = {}
    for use in uses:
        wanted_class = CLASSES[use.scope]
        for source in sources:
            if source.class_name != wanted_class:
                continue
            if use.path.startswith(IDENTITY_PREFIX):
                fields = source.identities.get(use.path.removeprefix(IDENTITY_PREFIX), ())
            else:
                fields = (use.path,) if use.path in source.paths else ()
            for field in fields:
                lineage = (f"field {field}", f"dataset {source.name}", *use.via, *outer)
                pieces[lineage] = pieces.get(lineage, frozenset()) | _carried(source, field)
    return [Labelled(labels, path) for path, labels in pieces.items()]


def evaluate_use(session: Session, sandbox_id: str, actions: Iterable[str], uses: Iterable[FieldUse],
                 outer: Sequence[str] = ()) -> list[Violation]:  # fmt: skip
    """The sandbox's enabled policies that a use performing `actions` on these attributes breaks."""
    wanted = frozenset(actions)
    policies = [p for p in enabled_policies(session, sandbox_id) if p.action in wanted]
    if not policies:  # the usual case: no enabled policy forbids what this use does, and no lineage is needed
        return []
    return violations(policies, wanted, pieces_of(session, sandbox_id, uses, outer))


class PolicyViolationError(PermissionDeniedError):
    """A use of data that enabled policies forbid: each violation with its policy, labels and lineage."""

    code = "GOVERNANCE-0450-403"

    def __init__(self, what: str, found: Sequence[Violation]) -> None:
        first = found[0]
        path = " -> ".join(first.paths[0]) if first.paths else "its data"
        labels = ", ".join(sorted(first.labels)) or "what the data lacks"
        more = f" (and {len(found) - 1} more violation{'s' if len(found) > 2 else ''})" if len(found) > 1 else ""
        super().__init__(
            f"{what} breaks data usage policy {first.policy!r} ({first.action} forbidden for {first.expression}): "
            f"labels {labels} through {path}{more}",
            violations=[v.to_dict() for v in found],
        )
        self.violations = list(found)
