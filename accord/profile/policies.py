"""Merge policies: which value wins when several fragments of one person disagree.

`timestamp` ordered: the newest fragment (by when its batch was ingested) wins, attribute by
attribute. `dataset_precedence`: the first dataset of the policy's list that has a value wins.
Identity stitching `graph` merges every fragment of the person's identity graph; `none` only the
fragments of the identity asked for. Each sandbox has one default; a lookup names or defaults one;
with no policy at all, the implicit default is timestamp ordered with graph stitching."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accord.catalog import DatasetRecord, MergePolicyRecord, resolve_sandbox
from accord.errors import ConflictError, DocumentError, NotFoundError, did_you_mean, validation_problems


class MergePolicyDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
    kind: Literal["timestamp", "dataset_precedence"] = "timestamp"
    datasets: list[str] = Field(default_factory=list, description="For dataset_precedence: highest first.")
    stitching: Literal["graph", "none"] = "graph"
    default: bool = False

    @model_validator(mode="after")
    def _datasets_for_precedence(self) -> MergePolicyDocument:
        if self.kind == "dataset_precedence" and not self.datasets:
            raise ValueError("a dataset_precedence policy needs its datasets, highest precedence first")
        if self.kind == "timestamp" and self.datasets:
            raise ValueError("datasets only apply to dataset_precedence")
        return self


@dataclass(frozen=True)
class MergePolicy:
    name: str
    kind: str
    datasets: tuple[str, ...]
    """Dataset ids, highest precedence first."""
    stitching: str
    default: bool

    def to_document(self, names: dict[str, str] | None = None) -> dict[str, Any]:
        names = names or {}
        return {"name": self.name, "kind": self.kind, "datasets": [names.get(d, d) for d in self.datasets],
                "stitching": self.stitching, "default": self.default}  # fmt: skip


IMPLICIT = MergePolicy("default", "timestamp", (), "graph", True)


def create_policy(session: Session, sandbox: str, document: Any) -> MergePolicy:
    try:
        parsed = MergePolicyDocument.model_validate(document)
    except ValidationError as exc:
        problems = validation_problems(exc.errors())
        raise DocumentError("the merge policy", problems, code="PROFILE-0400-400") from None
    sandbox_id = resolve_sandbox(session, sandbox).id
    by_name = {d.name: d for d in session.scalars(select(DatasetRecord).where(DatasetRecord.sandbox_id == sandbox_id))}
    problems = [{"path": f"datasets[{i}]", "message": f"no dataset {name!r}{did_you_mean(name, list(by_name))}"}
                for i, name in enumerate(parsed.datasets) if name not in by_name]  # fmt: skip
    if problems:
        raise DocumentError("the merge policy", problems, code="PROFILE-0400-400")
    exists = session.scalar(select(MergePolicyRecord.id).where(MergePolicyRecord.sandbox_id == sandbox_id,
                                                               MergePolicyRecord.name == parsed.name))  # fmt: skip
    if exists:
        raise ConflictError(f"a merge policy named {parsed.name!r} already exists", code="PROFILE-0409-409")
    first = session.scalar(select(MergePolicyRecord.id).where(MergePolicyRecord.sandbox_id == sandbox_id)) is None
    default = parsed.default or first
    if default:  # one default per sandbox
        session.execute(update(MergePolicyRecord).where(MergePolicyRecord.sandbox_id == sandbox_id)
                        .values(is_default=False))  # fmt: skip
    ids = [by_name[n].id for n in parsed.datasets]
    session.add(MergePolicyRecord(sandbox_id=sandbox_id, name=parsed.name, kind=parsed.kind, datasets=ids,
                                  stitching=parsed.stitching, is_default=default))  # fmt: skip
    session.flush()
    return MergePolicy(parsed.name, parsed.kind, tuple(ids), parsed.stitching, default)


def _policy(record: MergePolicyRecord) -> MergePolicy:
    return MergePolicy(record.name, record.kind, tuple(record.datasets), record.stitching, record.is_default)


def list_policies(session: Session, sandbox: str) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    names = {d.id: d.name for d in session.scalars(select(DatasetRecord).where(DatasetRecord.sandbox_id == sandbox_id))}
    records = session.scalars(select(MergePolicyRecord).where(MergePolicyRecord.sandbox_id == sandbox_id)
                              .order_by(MergePolicyRecord.name))  # fmt: skip
    return [_policy(r).to_document(names) for r in records]


def resolve_policy(session: Session, sandbox: str, name: str | None) -> MergePolicy:
    """The named policy, or the sandbox's default (implicitly timestamp ordered, graph stitched)."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    records = list(session.scalars(select(MergePolicyRecord).where(MergePolicyRecord.sandbox_id == sandbox_id)))
    if name is None:
        default = next((r for r in records if r.is_default), None)
        return _policy(default) if default else IMPLICIT
    found = next((r for r in records if r.name == name), None)
    if found is None:
        names = [r.name for r in records]
        raise NotFoundError(f"no merge policy named {name!r}{did_you_mean(name, names)}", code="PROFILE-0404-404",
                            available=names)  # fmt: skip
    return _policy(found)
