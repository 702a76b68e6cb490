"""Segment definitions: create, validate, edit, delete; compositions; references between segments.

A definition is PQL text, or a composition of other audiences (union, intersection, exclusion, a
percentage split) that is written as PQL over `inSegment(...)`. Definitions are checked against the
sandbox's union schemas when saved; `inSegment` references are resolved by name or id, and inlined
(with cycles refused) when a definition is evaluated."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import ActivationFlowRecord, SegmentDefinitionRecord, new_id, resolve_sandbox, utcnow
from accord.errors import (
    ConflictError,
    DocumentError,
    InvalidInputError,
    NotFoundError,
    did_you_mean,
    validation_problems,
)
from accord.schema import union_schema
from accord.segment.ast import Call, Node
from accord.segment.checker import Checked, check
from accord.segment.computed_values import computed_fields
from accord.segment.exceptions import PQLError, problem
from accord.segment.kinds import schema_fields
from accord.segment.parser import parse_pql
from accord.segment.references import CYCLE_HINT, cycle_from, describe_cycle, inline, references, referred_name

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,127}$"


class Expression(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["PQL"] = "PQL"
    format: Literal["pql/text"] = "pql/text"
    value: str = Field(min_length=1, max_length=20_000)


class Composition(BaseModel):
    """One of: union, intersection (lists of segments), exclude (`from` minus `exclude`), split."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    union: list[str] | None = Field(default=None, min_length=2)
    intersection: list[str] | None = Field(default=None, min_length=2)
    from_: str | None = Field(default=None, alias="from")
    exclude: list[str] | None = Field(default=None, min_length=1)
    split: str | None = Field(default=None, description="The segment to split")
    percent: tuple[int, int] | None = Field(default=None, description="[from, to): a slice of 0..100")

    @model_validator(mode="after")
    def _one_kind(self) -> Composition:
        kinds = [k for k, v in (("union", self.union), ("intersection", self.intersection),
                                ("exclude", self.exclude), ("split", self.split)) if v]  # fmt: skip
        if len(kinds) != 1:
            raise ValueError("a composition is exactly one of union, intersection, exclude (with from) or split")
        if self.exclude and not self.from_:
            raise ValueError("exclude needs `from`: the segment to take them out of")
        if self.split and (self.percent is None or not 0 <= self.percent[0] < self.percent[1] <= 100):
            raise ValueError("split needs `percent`: [from, to) with 0 <= from < to <= 100")
        return self

    def to_pql(self) -> str:
        def ref(name: str) -> str:
            return f"inSegment({_quote(name)})"

        if self.union:
            return " or ".join(ref(n) for n in self.union)
        if self.intersection:
            return " and ".join(ref(n) for n in self.intersection)
        if self.exclude:
            return ref(self.from_ or "") + "".join(f" and not {ref(n)}" for n in self.exclude)
        low, high = self.percent or (0, 100)
        return f"{ref(self.split or '')} and bucket() >= {low} and bucket() < {high}"


class EvaluationInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    batch: dict[str, Any] = Field(default_factory=lambda: {"enabled": True})
    streaming: dict[str, Any] = Field(default_factory=lambda: {"enabled": False})


class SegmentDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=4000)
    expression: Expression | None = None
    composition: Composition | None = None
    evaluationInfo: EvaluationInfo = Field(default_factory=EvaluationInfo)

    @model_validator(mode="after")
    def _expression_or_composition(self) -> SegmentDocument:
        if (self.expression is None) == (self.composition is None):
            raise ValueError("give either `expression` (PQL) or `composition`")
        return self

    @property
    def pql(self) -> str:
        return self.expression.value if self.expression else self.composition.to_pql()  # type: ignore[union-attr]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fields(session: Session, sandbox: str, class_name: str) -> dict[str, str]:
    schema = union_schema(session, sandbox, class_name)
    leaves = schema.leaves()
    if class_name == "profile":  # computed attributes are profile fields too (`computed_values.py`)
        leaves = {**leaves, **computed_fields(session, sandbox)}
    # every field, with what arrays and maps hold and the fields of their objects (`productListItems[].SKU`)
    return {**{path: spec.type.value for path, spec in leaves.items()}, **schema_fields(schema.fields)}


def validate_pql(session: Session, sandbox: str, text: str, *, own_name: str | None = None,
                 own_id: str | None = None) -> tuple[Node, Checked]:  # fmt: skip
    """Parse and check PQL against the sandbox's union schemas and its segments; raises with every problem.

    `own_name` and `own_id` are those of the segment being written: it cannot refer to itself."""
    tree = parse_pql(text)
    checked = check(tree, text, _fields(session, sandbox, "profile"), _fields(session, sandbox, "experienceevent"))
    known = _by_name_or_id(session, resolve_sandbox(session, sandbox).id)
    others = sorted({r.name for r in known.values() if r.id != own_id} - {own_name})
    problems = []
    for reference in checked.references:
        wanted, target = referred_name(reference), known.get(referred_name(reference))
        if wanted == own_name or (target is not None and target.id == own_id):
            message = "a segment cannot refer to itself"
        elif target is None:
            message = f"no segment {wanted!r}{did_you_mean(wanted, others)}"
        else:
            continue
        problems.append(problem(message, reference.pos.line, reference.pos.column, text))
    if problems:
        raise DocumentError("the segment definition", problems, code="SEGMENT-0401-400")
    return tree, checked


def _by_name_or_id(session: Session, sandbox_id: str) -> dict[str, SegmentDefinitionRecord]:
    records = session.scalars(select(SegmentDefinitionRecord).where(SegmentDefinitionRecord.sandbox_id == sandbox_id))
    found: dict[str, SegmentDefinitionRecord] = {}
    for record in records:
        found[record.id] = record
        found[record.name] = record
    return found


def _parse_document(document: Any) -> SegmentDocument:
    try:
        return SegmentDocument.model_validate(document)
    except ValidationError as exc:
        problems = validation_problems(exc.errors())
        raise DocumentError("the segment definition", problems, code="SEGMENT-0402-400") from None


def segment_document(record: SegmentDefinitionRecord) -> dict[str, Any]:
    return {
        "id": record.id, "name": record.name, "description": record.description,
        "expression": {"type": "PQL", "format": "pql/text", "value": record.expression},
        **({"composition": record.composition} if record.composition else {}),
        "evaluationInfo": {"batch": {"enabled": True}, "streaming": {"enabled": record.streaming}},
        "streamingEligible": not record.streaming_reason.startswith("not:"),
        "streamingReason": record.streaming_reason.removeprefix("not:"),
        "created": record.created_at.isoformat(), "updated": record.updated_at.isoformat(),
    }  # fmt: skip


def _apply(session: Session, sandbox: str, record: SegmentDefinitionRecord, parsed: SegmentDocument) -> None:
    text = parsed.pql
    _, checked = validate_pql(session, sandbox, text, own_name=parsed.name, own_id=record.id)
    _refuse_cycles(session, record, parsed.name, checked.references, text)
    wants_streaming = bool(parsed.evaluationInfo.streaming.get("enabled"))
    if wants_streaming and not checked.streaming:
        raise InvalidInputError(f"segment {parsed.name!r} cannot stream: {checked.streaming_reason}",
                                code="SEGMENT-0403-400")  # fmt: skip
    record.name, record.description, record.expression = parsed.name, parsed.description, text
    record.composition = parsed.composition.model_dump(by_alias=True, exclude_none=True) if parsed.composition else None
    record.streaming = wants_streaming
    record.streaming_reason = checked.streaming_reason if checked.streaming else f"not:{checked.streaming_reason}"
    record.updated_at = utcnow()


def _refuse_cycles(session: Session, record: SegmentDefinitionRecord, name: str, refers: list[Call],
                   text: str) -> None:  # fmt: skip
    """Refuse a definition whose references would lead into a cycle, naming the segments on it.

    The graph is the sandbox's after the write: this segment under its new name, with its new
    references. A cycle that does not pass through it (saved before cycles were refused) is refused
    too: this definition could not be evaluated either."""
    known = _by_name_or_id(session, record.sandbox_id) | {name: record, record.id: record}
    others = {r.id: r for r in known.values() if r.id != record.id}
    names = {r.id: r.name for r in others.values()} | {record.id: name}

    def targets(wanted: list[str]) -> list[str]:
        return [known[n].id for n in wanted if n in known]

    edges = {r.id: targets(_referred(r.expression)) for r in others.values()}
    edges[record.id] = targets([referred_name(call) for call in refers])
    path = cycle_from(record.id, edges)
    if path is None:
        return
    first = next(call for call in refers if targets([referred_name(call)]) == [path[1]])
    cycle = describe_cycle([names[step] for step in path])
    if path[-1] == record.id:
        message = f"segments would refer to each other in a cycle: {cycle}"
    else:
        message = f"{names[path[1]]!r} leads to segments that refer to each other in a cycle: {cycle}; {CYCLE_HINT}"
    raise DocumentError("the segment definition", [problem(message, first.pos.line, first.pos.column, text)],
                        code="SEGMENT-0406-400")  # fmt: skip


def create_segment(session: Session, sandbox: str, document: Any) -> dict[str, Any]:
    parsed = _parse_document(document)
    sandbox_id = resolve_sandbox(session, sandbox).id
    if parsed.name in _by_name_or_id(session, sandbox_id):
        raise ConflictError(f"a segment named {parsed.name!r} already exists", code="SEGMENT-0409-409")
    record = SegmentDefinitionRecord(id=new_id(), sandbox_id=sandbox_id, created_at=utcnow())
    _apply(session, sandbox, record, parsed)
    session.add(record)
    session.flush()
    return segment_document(record)


def find_segment(session: Session, sandbox: str, name: str) -> SegmentDefinitionRecord:
    sandbox_id = resolve_sandbox(session, sandbox).id
    known = _by_name_or_id(session, sandbox_id)
    if name not in known:
        names = sorted({r.name for r in known.values()})
        raise NotFoundError(f"no segment {name!r}{did_you_mean(name, names)}", code="SEGMENT-0404-404")
    return known[name]


def update_segment(session: Session, sandbox: str, name: str, document: Any) -> dict[str, Any]:
    """Replace a segment's definition with a whole new document (its name may change)."""
    record = find_segment(session, sandbox, name)
    parsed = _parse_document(document)
    known = _by_name_or_id(session, record.sandbox_id)
    clash = known.get(parsed.name)
    if clash is not None and clash.id != record.id:
        raise ConflictError(f"a segment named {parsed.name!r} already exists", code="SEGMENT-0409-409")
    if parsed.name != record.name:
        by_name = sorted(r.name for r in set(known.values()) if r.id != record.id and record.name in
                         _referred(r.expression))  # fmt: skip
        if by_name:
            raise ConflictError(f"segment {record.name!r} is used by name by {', '.join(by_name)}: renamed, they "
                                "would refer to nothing; change those first", code="SEGMENT-0415-409")  # fmt: skip
    _apply(session, sandbox, record, parsed)
    session.flush()
    return segment_document(record)


def change_segment(session: Session, sandbox: str, name: str, *, pql: str | None = None,
                   new_name: str | None = None, description: str | None = None,
                   streaming: bool | None = None) -> dict[str, Any]:  # fmt: skip
    """Change some of a segment's definition and keep the rest (what `accord segment update` does).

    A new expression replaces a composition."""
    current = segment_document(find_segment(session, sandbox, name))
    document: dict[str, Any] = {
        "name": new_name if new_name is not None else current["name"],
        "description": description if description is not None else current["description"],
        "evaluationInfo": {"streaming": {"enabled": streaming if streaming is not None
                                         else current["evaluationInfo"]["streaming"]["enabled"]}},
    }  # fmt: skip
    if pql is not None:
        document["expression"] = {"type": "PQL", "value": pql}
    elif "composition" in current:
        document["composition"] = current["composition"]
    else:
        document["expression"] = {"type": "PQL", "value": current["expression"]["value"]}
    return update_segment(session, sandbox, name, document)


def delete_segment(session: Session, sandbox: str, name: str) -> dict[str, Any]:
    record = find_segment(session, sandbox, name)
    users = [r.name for r in set(_by_name_or_id(session, record.sandbox_id).values())
             if r.id != record.id and {record.name, record.id} & set(_referred(r.expression))]  # fmt: skip
    if users:
        raise ConflictError(f"segment {record.name!r} is used by {', '.join(sorted(users))}; change those first "
                            "(`accord segment update`, or PUT /segment/definitions/{name})",
                            code="SEGMENT-0410-409")  # fmt: skip
    flows = _activating(session, record)
    if flows:
        raise ConflictError(f"activation flows send segment {record.name!r}: {', '.join(flows)}; delete them "
                            "first (`accord activation delete`)", code="SEGMENT-0411-409", flows=flows)  # fmt: skip
    document = segment_document(record)
    session.delete(record)
    return document


def _activating(session: Session, record: SegmentDefinitionRecord) -> list[str]:
    """The activation flows that send this segment (read from the catalog: destinations build on segments)."""
    flows = session.scalars(select(ActivationFlowRecord).where(ActivationFlowRecord.sandbox_id == record.sandbox_id))
    return sorted(f.name for f in flows
                  if any(a.get("segmentId") == record.id for a in f.definition.get("audiences", [])))  # fmt: skip


def _referred(text: str) -> list[str]:
    """The names and ids a stored expression refers to (none if it no longer parses: it cannot be
    evaluated either, and it must not stop other segments from being written)."""
    if "inSegment" not in text:  # most definitions refer to none: no need to parse them
        return []
    try:
        return [referred_name(call) for call in references(parse_pql(text))]
    except PQLError:
        return []


def segment_relations(session: Session, sandbox: str, name: str) -> dict[str, list[dict[str, Any]]]:
    """The audiences a segment refers to with `inSegment` and those that refer to it, by their names now.

    `refersTo` keeps, in the order written, each reference once: `{name, id}`, with `id` None for a segment
    that no longer exists (named as written); `referredBy` is sorted by name."""
    record = find_segment(session, sandbox, name)
    known = _by_name_or_id(session, record.sandbox_id)
    refers: dict[str, dict[str, Any]] = {}
    for wanted in _referred(record.expression):
        target = known.get(wanted)
        shown = {"name": target.name, "id": target.id} if target is not None else {"name": wanted, "id": None}
        refers.setdefault(shown["id"] or wanted, shown)
    referring = sorted((r for r in set(known.values()) if r.id != record.id and {record.name, record.id} &
                        set(_referred(r.expression))), key=lambda r: r.name)  # fmt: skip
    return {"refersTo": list(refers.values()), "referredBy": [{"name": r.name, "id": r.id} for r in referring]}


def segment_names(session: Session, sandbox_id: str) -> dict[str, str]:
    """Segment names by id."""
    rows = session.execute(select(SegmentDefinitionRecord.id, SegmentDefinitionRecord.name).where(
        SegmentDefinitionRecord.sandbox_id == sandbox_id))  # fmt: skip
    return {segment_id: name for segment_id, name in rows}


def list_segments(session: Session, sandbox: str) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    records = session.scalars(select(SegmentDefinitionRecord).where(SegmentDefinitionRecord.sandbox_id == sandbox_id)
                              .order_by(SegmentDefinitionRecord.name))  # fmt: skip
    return [segment_document(r) for r in records]


def resolved_tree(session: Session, sandbox_id: str, record: SegmentDefinitionRecord) -> Node:
    """The definition's tree with every `inSegment` replaced by the membership of the segment it names
    (errors name the segments: a missing one, a cycle)."""
    known = _by_name_or_id(session, sandbox_id)

    def lookup(wanted: str) -> tuple[str, Node] | None:
        found = known.get(wanted)
        return (found.name, parse_pql(found.expression)) if found is not None else None

    return inline(parse_pql(record.expression), lookup, (record.name,))


def evaluation_time() -> datetime:
    return utcnow()
