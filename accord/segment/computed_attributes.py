"""Computed attributes: named profile attributes aggregated from each profile's events within a lookback.

A definition is written as the reference product writes it: a PQL aggregation over the events,
`xEvent[<filter>].<function>(<event field>)`, and a lookback `duration {count, unit}`. The functions are
`count()`, `sum`, `avg`, `min`, `max`, `mostRecent` (the value of the latest event that holds one) and
`first` (of the earliest). Definitions are validated whole, every problem with its path (and line and
column in the expression); at most 25 are active per sandbox. Values are computed by `computed_evaluation.py`
and read through `computed_values.py`.

Computed attributes belong to segmentation: each is a PQL event aggregation, computed in the segment job's
own pass over the events, and audiences read them; profiles are upstream of both (a lookup shows a person's
values through the segment face, as it shows their memberships)."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from accord.catalog import ActivationFlowRecord, ComputedAttributeRecord, new_id, resolve_sandbox, utcnow
from accord.errors import ConflictError, DocumentError, NotFoundError, did_you_mean, validation_problems
from accord.jobs import holder
from accord.lake import sandbox_job, sandbox_lock
from accord.schema import FieldType, union_schema
from accord.segment.ast import Events, Method, Node, Path
from accord.segment.checker import check
from accord.segment.computed_evaluation import UNITS, Refresh
from accord.segment.computed_values import ACTIVE, attribute_path
from accord.segment.definitions import list_segments
from accord.segment.exceptions import PQLError, problem
from accord.segment.jobs import evaluate
from accord.segment.parser import parse_pql
from accord.segment.reads import attributes_read
from accord.workspace import Workspace

MAX_ACTIVE = 25
"""Computed attributes per sandbox that are not disabled (the reference product's guardrail)."""
MAX_LOOKBACK = timedelta(days=90)
FUNCTIONS = {"count": "COUNT", "sum": "SUM", "avg": "AVG", "min": "MIN", "max": "MAX", "mostRecent": "MOST_RECENT",
             "first": "FIRST"}  # fmt: skip
"""Each function as PQL spells it, and its `mergeFunction` name in the reference product's API."""
SCALARS = {FieldType.string, FieldType.integer, FieldType.number, FieldType.boolean, FieldType.date,
           FieldType.date_time}  # fmt: skip
NAME = r"^[A-Za-z][A-Za-z0-9]{0,63}$"
NAME_RULE = "a name must start with a letter and hold only letters and digits, at most 64 (it names a field)"
INVALID = "COMPUTED-0400-400"
STATUS_CHANGES = {"DRAFT": {"DRAFT", "NEW"}, "NEW": {"NEW", "DISABLED"}, "PROCESSING": {"DISABLED"},
                  "PROCESSED": {"DISABLED"}, "FAILED": {"DISABLED"}, "DISABLED": {"DISABLED", "NEW"}}  # fmt: skip
"""What a status may become by an update (refreshes set PROCESSING, PROCESSED and FAILED)."""


class Duration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, description="How many units back from the evaluation time")
    unit: Literal["HOURS", "DAYS", "WEEKS", "MONTHS"] = Field(description="A month is 30 days")

    @field_validator("unit", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        """`days`, `day` and `DAYS` alike."""
        if not isinstance(value, str):
            return value
        unit = value.strip().upper()
        return unit if unit.endswith("S") else unit + "S"

    @property
    def span(self) -> timedelta:
        return UNITS[self.unit] * self.count


class AttributeExpression(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["PQL"] = "PQL"
    format: Literal["pql/text"] = "pql/text"
    value: str = Field(min_length=1, max_length=20_000,
                       description='xEvent[<filter>].<function>(<event field>), e.g. xEvent[eventType = '
                                   '"commerce.purchases"].sum(commerce.order.priceTotal)')  # fmt: skip


class ComputedAttributeDocument(BaseModel):
    """A computed attribute as created: the reference product's `/attributes` request body."""

    model_config = ConfigDict(extra="forbid")

    # the pattern is checked below, to be told in words rather than as a pattern; the schema still shows it
    name: str = Field(json_schema_extra={"pattern": NAME},
                      description="Letters and digits, starting with a letter, at most 64: a field name")  # fmt: skip
    displayName: str = Field(default="", max_length=256)
    description: str = Field(default="", max_length=4000)
    expression: AttributeExpression
    duration: Duration = Field(description="The lookback: events within it count, at most 90 days")
    status: Literal["DRAFT", "NEW"] = Field(default="NEW", description="DRAFT: saved, not yet a profile field")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.match(NAME, value):
            shown = value if len(value) <= 70 else value[:67] + "..."
            raise ValueError(f"{shown!r}: {NAME_RULE}")
        return value


class ComputedAttributeChange(BaseModel):
    """What an update may change (the name is the field's path: it stays)."""

    model_config = ConfigDict(extra="forbid")

    displayName: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=4000)
    expression: AttributeExpression | None = None
    duration: Duration | None = None
    status: Literal["DRAFT", "NEW", "DISABLED"] | None = None


@dataclasses.dataclass(frozen=True)
class Aggregation:
    """A checked expression: its function, the event field it reads, its filter, and the type of its value."""

    function: str
    field: str | None
    filter: Node | None
    type: str


def parse_aggregation(tree: Node) -> tuple[str, str | None, Node | None]:
    """(function, event field, filter) of an expression already checked by `check_expression`."""
    assert isinstance(tree, Method) and isinstance(tree.target, Events)
    field = tree.args[0].dotted if tree.args and isinstance(tree.args[0], Path) else None
    return tree.name, field, tree.target.where


def check_expression(session: Session, sandbox: str, text: str, path: str = "expression.value") -> Aggregation:
    """Check an expression against the experience event union schema; raises with every problem (an unknown
    function and a bad filter together), in the order of the text."""
    try:
        tree = parse_pql(text)
    except PQLError as exc:
        raise PQLError([{**p, "path": path} for p in exc.problems]) from None
    if not (isinstance(tree, Method) and isinstance(tree.target, Events)):
        raise PQLError([_placed("a computed attribute is one aggregation over events: xEvent[<filter>]."
                                f"<function>(<field>), with a function of {', '.join(FUNCTIONS)}", tree, text,
                                path)])  # fmt: skip
    problems = _call_problems(tree, text, path)
    leaves = union_schema(session, sandbox, "experienceevent").leaves()
    # checked as PQL: the filter in the events' scope, the field's type for the function (min and max stand for
    # mostRecent and first, which take any value); a call that is not one of ours is left out, its filter not
    checked = Method(tree.pos, tree, "isNotNull", ())
    if problems:
        checked = Method(tree.pos, dataclasses.replace(tree, name="count", args=()), "isNotNull", ())
    elif tree.name in ("mostRecent", "first"):
        checked = Method(tree.pos, dataclasses.replace(tree, name="max"), "isNotNull", ())
    try:
        check(checked, text, {}, {p: spec.type.value for p, spec in leaves.items()})
    except PQLError as exc:
        problems.extend({**p, "path": path} for p in exc.problems)
    if problems:
        raise PQLError(sorted(problems, key=lambda p: (p["line"], p["column"])))
    function, field, where = parse_aggregation(tree)
    if field is None:
        return Aggregation(function, None, where, "integer")
    kind = leaves[field].type
    if kind not in SCALARS:
        article = "an" if kind.value[0] in "aeiou" else "a"
        raise PQLError([_placed(f"{field} is {article} {kind.value}: a computed attribute aggregates fields that "
                                "hold one value", tree.args[0], text, path)])  # fmt: skip
    if function == "avg" or (function == "sum" and kind == FieldType.number):
        return Aggregation(function, field, where, "number")
    return Aggregation(function, field, where, kind.value)


def _call_problems(tree: Method, text: str, path: str) -> list[dict[str, Any]]:
    """What is wrong with the aggregation's call itself: a function that is not one of ours, or its arguments."""
    if tree.name not in FUNCTIONS:
        return [_placed(f"unknown function {tree.name!r}{did_you_mean(tree.name, list(FUNCTIONS))}; a computed "
                        f"attribute takes {', '.join(FUNCTIONS)}", tree, text, path)]  # fmt: skip
    wanted = 0 if tree.name == "count" else 1
    if len(tree.args) != wanted or (wanted and not isinstance(tree.args[0], Path)):
        message = "count() takes nothing" if not wanted else f"{tree.name} takes one event field"
        return [_placed(message, tree, text, path)]
    return []


def _placed(message: str, node: Node, text: str, path: str) -> dict[str, Any]:
    return problem(message, node.pos.line, node.pos.column, text, path)


def _shape(model: type[BaseModel], document: Any) -> tuple[Any, ComputedAttributeChange, list[dict[str, Any]]]:
    """The document as `model` takes it (None if it does not) with pydantic's problems, and the parts of it that
    fit, as a change: their own checks (the lookback, the expression, the status) are told with those problems."""
    if not isinstance(document, dict):
        raise DocumentError("the computed attribute", [{"path": "", "message": "the document must be an object: "
                            f"{', '.join(model.model_fields)}"}], code=INVALID)  # fmt: skip
    try:
        parsed = model.model_validate(document)
    except ValidationError as exc:
        failed = {e["loc"][0] for e in exc.errors() if e["loc"]}
        fitting = {k: v for k, v in document.items() if k in ComputedAttributeChange.model_fields and k not in failed}
        return None, ComputedAttributeChange.model_validate(fitting), validation_problems(exc.errors())
    fitting = {k: v for k, v in parsed.model_dump(exclude_unset=True).items()
               if k in ComputedAttributeChange.model_fields}  # fmt: skip
    return parsed, ComputedAttributeChange.model_validate(fitting), []


def _checked(
    session: Session, sandbox: str, expression: str | None, duration: Duration | None, problems: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The stored definition of an expression and a lookback (None when not both are given), or every problem,
    with those already found (DocumentError)."""
    problems = list(problems)
    aggregation = None
    if expression is not None:
        try:
            aggregation = check_expression(session, sandbox, expression)
        except PQLError as exc:
            problems.extend(exc.problems)
    if duration is not None and duration.span > MAX_LOOKBACK:  # after the expression, as the document has them
        problems.append({"path": "duration", "message": f"{duration.count} {duration.unit.lower()} is longer than "
                         "the 90 days a computed attribute may look back"})  # fmt: skip
    if problems:
        raise DocumentError("the computed attribute", problems, code=INVALID)
    if aggregation is None or duration is None or expression is None:
        return None
    return {"expression": expression, "duration": duration.model_dump(), "function": aggregation.function,
            "field": aggregation.field, "type": aggregation.type}  # fmt: skip


def computed_attribute_document(record: ComputedAttributeRecord) -> dict[str, Any]:
    """A computed attribute as the API shows it (in the reference product's words where it has them)."""
    definition = record.definition
    status, error = record.status, record.error
    session = object_session(record)
    if status == "PROCESSING" and session is not None and not _refresh_may_run(session, record.sandbox_id):
        # a refresh that was stopped (killed) left it so: shown as the last finished refresh left it
        status = "PROCESSED" if record.last_evaluated_at is not None else "NEW"
        error = "a refresh was interrupted before it finished: " + (
            f"the values are those of {record.last_evaluated_at.isoformat()}" if record.last_evaluated_at
            else "no value yet")  # fmt: skip
    return {
        "id": record.id, "name": record.name, "displayName": definition.get("displayName") or record.name,
        "description": record.description, "path": attribute_path(record.name),
        "expression": {"type": "PQL", "format": "pql/text", "value": definition["expression"]},
        "mergeFunction": {"value": FUNCTIONS[definition["function"]]}, "field": definition.get("field"),
        "duration": definition["duration"], "returnSchema": {"meta:xdmType": definition["type"]},
        "status": status, "lastEvaluatedAt": record.last_evaluated_at.isoformat()
        if record.last_evaluated_at else None, "lastEvaluationError": error,
        "created": record.created_at.isoformat(), "updated": record.updated_at.isoformat(),
    }  # fmt: skip


def _refresh_may_run(session: Session, sandbox_id: str) -> bool:
    """Whether a process may be refreshing the sandbox's attributes now: a refresh holds the sandbox's lock
    (a lock whose process is gone from this host holds nothing)."""
    found = holder(session, sandbox_lock(sandbox_id))
    return found is not None and not found.owner.gone


def _records(session: Session, sandbox_id: str) -> list[ComputedAttributeRecord]:
    return list(session.scalars(select(ComputedAttributeRecord).where(
        ComputedAttributeRecord.sandbox_id == sandbox_id).order_by(ComputedAttributeRecord.name)))  # fmt: skip


def _refuse_over_limit(session: Session, sandbox_id: str) -> None:
    active = session.scalar(select(func.count()).select_from(ComputedAttributeRecord).where(
        ComputedAttributeRecord.sandbox_id == sandbox_id, ComputedAttributeRecord.status != "DISABLED"))  # fmt: skip
    if (active or 0) >= MAX_ACTIVE:
        raise ConflictError(f"the sandbox has {active} computed attributes that are not disabled, the most it "
                            "may have: disable or delete one first", code="COMPUTED-0410-409",
                            limit=MAX_ACTIVE)  # fmt: skip


def create_computed_attribute(session: Session, sandbox: str, document: Any) -> dict[str, Any]:
    """Create a computed attribute from its whole document; refused whole, with every problem (its shape, name,
    lookback and expression at once), before a taken name or the limit is."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    parsed, fitting, problems = _shape(ComputedAttributeDocument, document)
    expression = fitting.expression.value if fitting.expression else None
    definition = _checked(session, sandbox, expression, fitting.duration, problems)
    # no problem: the document parsed whole, and both expression and lookback were checked
    assert isinstance(parsed, ComputedAttributeDocument) and definition is not None
    if any(r.name.lower() == parsed.name.lower() for r in _records(session, sandbox_id)):
        raise ConflictError(f"a computed attribute named {parsed.name!r} already exists", code="COMPUTED-0409-409")
    _refuse_over_limit(session, sandbox_id)
    record = ComputedAttributeRecord(id=new_id(), sandbox_id=sandbox_id, name=parsed.name,
                                     description=parsed.description, status=parsed.status,
                                     definition={**definition, "displayName": parsed.displayName or parsed.name},
                                     created_at=utcnow(), updated_at=utcnow())  # fmt: skip
    session.add(record)
    session.flush()
    return computed_attribute_document(record)


def find_computed_attribute(session: Session, sandbox: str, name: str) -> ComputedAttributeRecord:
    """A computed attribute by name or id."""
    records = _records(session, resolve_sandbox(session, sandbox).id)
    for record in records:
        if name in (record.name, record.id):
            return record
    raise NotFoundError(f"no computed attribute {name!r}{did_you_mean(name, [r.name for r in records])}",
                        code="COMPUTED-0404-404")  # fmt: skip


def list_computed_attributes(session: Session, sandbox: str) -> list[dict[str, Any]]:
    return [computed_attribute_document(r) for r in _records(session, resolve_sandbox(session, sandbox).id)]


def update_computed_attribute(session: Session, sandbox: str, name: str, change: Any) -> dict[str, Any]:
    """Change some of a computed attribute (what is not given is kept). A new expression or lookback makes it
    `NEW`: it has no value until the next refresh. Disabling one that audiences or flows use is refused, and so
    is a new definition that changes the type of its value (they were checked against the old one)."""
    record = find_computed_attribute(session, sandbox, name)
    _, parsed, problems = _shape(ComputedAttributeChange, change)  # a part that does not fit is kept, and told
    status = parsed.status or record.status
    if status != record.status and status not in STATUS_CHANGES[record.status]:
        problems.append({"path": "status", "message": f"a {record.status} computed attribute can become "
                         f"{' or '.join(sorted(STATUS_CHANGES[record.status]))}, not {status}"})  # fmt: skip
    definition = dict(record.definition)
    expression = parsed.expression.value if parsed.expression else definition["expression"]
    duration = parsed.duration or Duration.model_validate(definition["duration"])
    redefined = expression != definition["expression"] or duration.model_dump() != definition["duration"]
    # an unchanged expression and lookback were checked when they were given
    checked = _checked(session, sandbox, expression if redefined else None, duration if redefined else None, problems)
    if status == "DISABLED" and record.status != "DISABLED":
        _refuse_in_use(session, sandbox, record, "disabled")
    if record.status == "DISABLED" and status != "DISABLED":
        _refuse_over_limit(session, record.sandbox_id)
    if checked is not None:
        if checked["type"] != definition["type"] and record.status in ACTIVE:
            _refuse_in_use(session, sandbox, record, f"changed from {definition['type']} to {checked['type']}")
        definition.update(checked)
    if parsed.displayName is not None:
        definition["displayName"] = parsed.displayName or record.name
    if parsed.description is not None:
        record.description = parsed.description
    if redefined and status not in ("DRAFT", "DISABLED"):
        status = "NEW"
    record.definition, record.status, record.updated_at = definition, status, utcnow()
    if redefined:
        record.last_evaluated_at, record.error = None, None
    session.flush()
    return computed_attribute_document(record)


def delete_computed_attribute(session: Session, sandbox: str, name: str) -> dict[str, Any]:
    """Delete a computed attribute; refused while audiences or activation flows use it."""
    record = find_computed_attribute(session, sandbox, name)
    if record.status in ACTIVE:
        _refuse_in_use(session, sandbox, record, "deleted")
    document = computed_attribute_document(record)
    session.delete(record)
    return document


def _refuse_in_use(session: Session, sandbox: str, record: ComputedAttributeRecord, verb: str) -> None:
    """Refuse to take away a field that segments read or activation flows map (or to change what it holds), naming
    them. Flows are read from the catalog (destinations build on segments, not the reverse)."""
    path = attribute_path(record.name)
    names = [s["name"] for s in list_segments(session, sandbox)]
    reads = attributes_read(session, sandbox, names) if names else {}
    segments = sorted(n for n, found in reads.items() if any(r.path == path and r.segments[0] == n for r in found))
    flows = sorted(f.name for f in session.scalars(select(ActivationFlowRecord).where(
        ActivationFlowRecord.sandbox_id == record.sandbox_id))
        if any(m.get("source") == path for m in f.definition.get("mapping", [])))  # fmt: skip
    if segments or flows:
        parts = ([f"segments {', '.join(segments)}"] if segments else []) + \
            ([f"activation flows {', '.join(flows)}"] if flows else [])  # fmt: skip
        users = "; ".join(parts)
        raise ConflictError(f"computed attribute {record.name!r} is used by {users}: it cannot be {verb} until they "
                            "no longer read it", code="COMPUTED-0411-409", segments=segments, flows=flows)  # fmt: skip


def refresh_computed_attributes(workspace: Workspace, sandbox: str, now: datetime | None = None) -> dict[str, Any]:
    """Evaluate every active computed attribute of a sandbox over every profile, now; holds the sandbox's lock.

    The attributes alone, in the grouped pass over the events a segment job makes (a job computes them in
    its own pass, beside its audiences: `computed_evaluation.Refresh`)."""
    with sandbox_job(workspace, sandbox, "computed attributes refresh"):
        at = now or utcnow()
        refresh = Refresh.start(workspace, sandbox, at)
        if not refresh.attributes:
            return {"evaluated": [], "evaluatedAt": None, "profiles": 0}
        table = refresh.stored(lambda: evaluate(workspace, sandbox, {}, at, refresh.values))
    return {"evaluated": [a.name for a in refresh.attributes], "evaluatedAt": at.isoformat(),
            "profiles": table.num_rows}  # fmt: skip
