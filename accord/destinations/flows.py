"""Activation flows: one destination account, the audiences it receives and when, what goes out under which names.

A flow's definition is a document (JSON or YAML through the adapters), validated whole against the
destination's spec, the sandbox's audiences, identity namespaces and union profile schema: every
problem is reported at once with its path (`audiences[1].schedule.time`, `mapping[3].source`...).
The reference product's guardrails are the defaults (250 audiences and 50 mapped fields per flow);
a flow may raise them in its `limits`, and over a limit it is refused, never silently cut.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import resolve_sandbox, utcnow
from accord.catalog.activations import ActivationFlowRecord, DestinationAccountRecord
from accord.catalog.reading import utc_time
from accord.destinations.accounts import NAME, find_account
from accord.destinations.naming import DEFAULT_TEMPLATE, check_template
from accord.destinations.registry import destination_spec
from accord.destinations.spec import DestinationSpec, SyncMode
from accord.errors import ConflictError, DocumentError, InvalidInputError, NotFoundError, did_you_mean
from accord.errors import validation_problems as problems_of
from accord.governance import action_problems

IDENTITY_PREFIX = "identityMap."
"""A mapping source that names an identity namespace (`identityMap.Email`) rather than a profile attribute."""
STATES = ("enabled", "disabled", "error")
TARGET = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,127}$")
OPERATION = "operation"
RESERVED_TARGETS = ("graph", "segmentMembership.status", OPERATION)
"""Columns an export writes or works with itself (and every name starting with `_`): no mapped field may take them."""
"""The column (and streaming row field) that says what to do with a record of a sync-mode flow."""


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


BY_FREQUENCY = ("3h", "6h", "8h", "12h", "after-segment-job")
"""The schedules that need no more said, most frequent first: the default of a destination that takes no `once`."""


class Schedule(_Document):
    """When an audience goes out: once, daily at a time, every 3/6/8/12 hours, or after the segment job."""

    frequency: Literal["once", "daily", "3h", "6h", "8h", "12h", "after-segment-job"] = "once"
    time: str | None = Field(default=None, description="HH:MM in UTC: the time of a daily run (and of a once run).")
    start: date | None = Field(default=None, description="First day the audience goes out (UTC).")
    end: date | None = Field(default=None, description="Last day it goes out (UTC); none: no end.")

    @field_validator("time")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                time.fromisoformat(value)
            except ValueError:
                raise ValueError("must be a time of day as HH:MM (UTC)") from None
        return value


class Audience(_Document):
    segment: str = Field(min_length=1, description="The audience's segment definition, by name or id.")
    schedule: Schedule = Field(default_factory=Schedule)
    file_name: str | None = Field(default=None, alias="fileName", description="A file name template for it alone.")
    segment_id: str | None = Field(default=None, alias="segmentId", description="Set by Accord: the resolved id.")


class MappingEntry(_Document):
    source: str = Field(min_length=1, description="A profile attribute path, or `identityMap.<namespace>`.")
    target: str = Field(min_length=1, description="The field's name at the destination (a file column).")

    @property
    def namespace(self) -> str | None:
        return self.source.removeprefix(IDENTITY_PREFIX) if self.source.startswith(IDENTITY_PREFIX) else None


class CsvOptions(_Document):
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quote: str = Field(default='"', min_length=1, max_length=1)
    escape: str = Field(default='"', min_length=1, max_length=1)
    null_value: str = Field(default="", alias="nullValue", max_length=16)
    header: bool = True

    @model_validator(mode="after")
    def _distinct(self) -> CsvOptions:
        """What the file could not be read back with (and the engine refuses to write)."""
        if self.delimiter == self.quote:
            raise ValueError("the delimiter and the quote must differ")
        if "\n" in (self.delimiter, self.quote, self.escape) or "\r" in (self.delimiter, self.quote, self.escape):
            raise ValueError("a line break cannot be the delimiter, the quote or the escape")
        if self.delimiter == self.escape:
            raise ValueError("the delimiter and the escape must differ")
        return self


class FileSettings(_Document):
    format: Literal["csv", "jsonl", "parquet"] = "csv"
    compression: Literal["none", "gzip"] = "none"
    csv: CsvOptions = Field(default_factory=CsvOptions)
    name_template: str = Field(default=DEFAULT_TEMPLATE, alias="nameTemplate", min_length=1, max_length=1024)
    split_rows: int | None = Field(default=None, alias="splitRows", ge=1, description="Default: the destination's.")
    manifest: bool = Field(default=False, description="Write manifest-<flowId>-<runId>.json beside the files.")


class LimitOverrides(_Document):
    audiences_per_flow: int | None = Field(default=None, alias="audiencesPerFlow", ge=1)
    attributes_per_flow: int | None = Field(default=None, alias="attributesPerFlow", ge=1)


class FlowDefinition(_Document):
    """What an activation flow sends, where and when."""

    audiences: list[Audience] = Field(min_length=1)
    mapping: list[MappingEntry] = Field(min_length=1)
    mandatory: list[str] = Field(default_factory=list, description="Targets a profile must have to be sent.")
    dedup_key: list[str] = Field(default_factory=list, alias="dedupKey",
                                 description="One identity target, or one or two attribute targets.")  # fmt: skip
    export_mode: Literal["full", "incremental"] = Field(default="full", alias="exportMode")
    sync_mode: SyncMode | None = Field(
        default=None,
        alias="syncMode",
        description="Record-style sync keyed by the dedup key: insert (records new to the destination), update "
        "(records it has that changed), upsert (both) or mirror (both, and deletes of records that left).",
    )
    consent_channel: str | None = Field(
        default=None,
        alias="consentChannel",
        pattern=r"^[A-Za-z]{1,32}$",
        description="Leave out profiles that refused this marketing channel (`consents.marketing.<channel>.val` "
        "n or dn); default: the destination's.",
    )
    marketing_actions: list[str] = Field(
        default_factory=list,
        alias="marketingActions",
        max_length=50,
        description="Marketing actions this flow performs besides the destination's own (data usage policies "
        "may forbid some for some data): core (`emailTargeting`, `exportToThirdParty`...) or the sandbox's own.",
    )
    file: FileSettings = Field(default_factory=FileSettings)
    limits: LimitOverrides = Field(default_factory=LimitOverrides)

    def targets(self) -> list[str]:
        return [m.target for m in self.mapping]


def parse_definition(document: Any) -> FlowDefinition:
    try:
        return FlowDefinition.model_validate(document)
    except ValidationError as exc:
        raise DocumentError("the activation flow", problems_of(exc.errors()), code="ACTIVATION-0400-400") from None


def flow_document(record: ActivationFlowRecord, account: DestinationAccountRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "account": account.name,
        "destination": account.destination,
        "state": record.state,
        "error": record.error,
        **record.definition,
        "createdAt": utc_time(record.created_at).isoformat(),  # type: ignore[union-attr]
        "updatedAt": utc_time(record.updated_at).isoformat(),  # type: ignore[union-attr]
    }


def create_flow(session: Session, sandbox: str, name: str, account: str, document: Any) -> ActivationFlowRecord:
    """Create an activation flow of `account` from its definition, checked whole (all problems at once)."""
    if not NAME.match(name):
        raise InvalidInputError(f"activation flow name {name!r} must be letters, digits, '_', '.', '-'",
                                code="ACTIVATION-0401-400")  # fmt: skip
    sandbox_id = resolve_sandbox(session, sandbox).id
    account_record = find_account(session, sandbox_id, account)
    definition = parse_definition(document)
    checked = check_definition(session, sandbox, definition, destination_spec(account_record.destination))
    taken = select(ActivationFlowRecord.id).where(ActivationFlowRecord.sandbox_id == sandbox_id,
                                                  ActivationFlowRecord.name == name)  # fmt: skip
    if session.scalar(taken):
        raise ConflictError(f"an activation flow named {name!r} already exists", code="ACTIVATION-0409-409")
    record = ActivationFlowRecord(sandbox_id=sandbox_id, name=name, account_id=account_record.id,
                                  definition=checked.model_dump(mode="json", by_alias=True))  # fmt: skip
    session.add(record)
    session.flush()
    return record


def check_definition(
    session: Session, sandbox: str, definition: FlowDefinition, spec: DestinationSpec
) -> FlowDefinition:
    """The definition with its audiences resolved to segment ids, or every problem it has (DocumentError)."""
    from accord.identity import list_namespaces
    from accord.schema import FieldType, union_schema
    from accord.segment import computed_fields, find_segment

    problems: list[dict[str, Any]] = []

    def problem(path: str, message: str) -> None:
        problems.append({"path": path, "message": message})

    audiences_limit = definition.limits.audiences_per_flow or spec.limits.audiences_per_flow
    if len(definition.audiences) > audiences_limit:
        problem("audiences", f"{len(definition.audiences)} audiences, more than the {audiences_limit} a flow may "
                "carry (raise `limits.audiencesPerFlow` to allow more)")  # fmt: skip
    resolved = []
    for i, audience in enumerate(definition.audiences):
        where = f"audiences[{i}]"
        segment_id = None
        try:
            segment_id = find_segment(session, sandbox, audience.segment).id
        except NotFoundError as exc:
            problem(f"{where}.segment", exc.message)
        schedule = audience.schedule
        if "frequency" not in schedule.model_fields_set and "once" not in spec.schedules:
            # none asked for, and the default is one the destination does not take: its most frequent that
            # needs nothing more said (a daily schedule needs its time)
            periodic = [f for f in BY_FREQUENCY if f in spec.schedules]
            schedule = schedule.model_copy(update={"frequency": periodic[0] if periodic else spec.schedules[0]})
            audience = audience.model_copy(update={"schedule": schedule})
        if schedule.frequency not in spec.schedules:
            problem(f"{where}.schedule.frequency", f"{spec.name} takes {', '.join(spec.schedules)}; "
                    f"not {schedule.frequency!r}")  # fmt: skip
        if schedule.frequency == "daily" and schedule.time is None:
            problem(f"{where}.schedule.time", "a daily schedule needs a time (HH:MM, UTC)")
        if schedule.start and schedule.end and schedule.end < schedule.start:
            problem(f"{where}.schedule.end", "ends before it starts")
        if audience.file_name is not None:
            for message in check_template(audience.file_name):
                problem(f"{where}.fileName", message)
        resolved.append(audience.model_copy(update={"segment_id": segment_id}))
    if len({a.segment_id for a in resolved if a.segment_id}) < len([a for a in resolved if a.segment_id]):
        problem("audiences", "an audience is named twice")

    attributes_limit = definition.limits.attributes_per_flow or spec.limits.attributes_per_flow
    if len(definition.mapping) > attributes_limit:
        problem("mapping", f"{len(definition.mapping)} mapped fields, more than the {attributes_limit} a flow may "
                "carry (raise `limits.attributesPerFlow` to allow more)")  # fmt: skip
    known = {n.symbol for n in list_namespaces(session, sandbox)}
    leaves = {**union_schema(session, sandbox, "profile").leaves(), **computed_fields(session, sandbox)}
    every_path = {p for path in leaves for p in _prefixes(path)}
    seen: set[str] = set()
    for i, entry in enumerate(definition.mapping):
        where = f"mapping[{i}]"
        if not TARGET.match(entry.target):
            problem(f"{where}.target", "must start with a letter and hold letters, digits, '_', '.', ':', '-'")
        elif entry.target in RESERVED_TARGETS:
            problem(
                f"{where}.target", f"{entry.target!r} is a column Accord writes itself: give the field another name"
            )
        elif entry.target in seen:
            problem(f"{where}.target", f"{entry.target!r} is mapped twice")
        seen.add(entry.target)
        namespace = entry.namespace
        if namespace is not None:
            if namespace not in known:
                problem(
                    f"{where}.source", f"no identity namespace {namespace!r}{did_you_mean(namespace, sorted(known))}"
                )
            elif spec.namespaces is not None and namespace not in spec.namespaces:
                problem(f"{where}.source", f"{spec.name} accepts the namespaces {', '.join(spec.namespaces)}; "
                        f"not {namespace!r}")  # fmt: skip
            continue
        field = leaves.get(entry.source)
        if field is None:
            hint = (
                "it is an object: map its fields one by one"
                if entry.source in every_path
                else (f"the union profile schema has no such field{did_you_mean(entry.source, list(leaves))}")
            )
            problem(f"{where}.source", f"{entry.source!r} cannot be exported: {hint}")
        elif field.type in (FieldType.array, FieldType.map):
            problem(f"{where}.source", f"{entry.source!r} is {'an array' if field.type == FieldType.array else 'a map'}"
                    "; arrays and maps cannot be exported: map one of its fields instead")  # fmt: skip
    targets = definition.targets()
    for i, target in enumerate(definition.mandatory):
        if target not in targets:
            problem(f"mandatory[{i}]", f"{target!r} is not a mapped target")
    identity_targets = {m.target for m in definition.mapping if m.namespace}
    key = definition.dedup_key
    for i, target in enumerate(key):
        if target not in targets:
            problem(f"dedupKey[{i}]", f"{target!r} is not a mapped target")
    if key and not set(key) - set(targets):
        if any(t in identity_targets for t in key) and len(key) != 1:
            problem("dedupKey", "an identity namespace is a key on its own: give one identity target")
        elif len(key) > 2:
            problem("dedupKey", "give one identity target, or one or two attribute targets")

    if definition.sync_mode is not None:
        _check_sync(definition, spec, problem)
    channel = definition.consent_channel or spec.consent_channel
    if channel and f"consents.marketing.{channel}.val" not in leaves:
        problem("consentChannel", f"the union profile schema has no consents.marketing.{channel}.val: add the "
                "consents-and-preferences field group to a profile schema, or name another channel")  # fmt: skip
    files = spec.files
    if files is not None:
        if definition.file.format not in files.formats:
            problem("file.format", f"{spec.name} takes {', '.join(files.formats)}")
        if definition.file.compression not in files.compressions:
            problem("file.compression", f"{spec.name} takes {', '.join(files.compressions)}")
    for message in check_template(definition.file.name_template):
        problem("file.nameTemplate", message)
    sandbox_id = resolve_sandbox(session, sandbox).id
    for found in action_problems(session, sandbox_id, definition.marketing_actions, "marketingActions"):
        problem(found["path"], found["message"])
    if problems:
        raise DocumentError("the activation flow", problems, code="ACTIVATION-0400-400")
    update: dict[str, Any] = {"audiences": resolved}
    if definition.sync_mode is not None:
        update["export_mode"] = "incremental"  # a sync mode diffs against what the destination acknowledged
    return definition.model_copy(update=update)


def _check_sync(definition: FlowDefinition, spec: DestinationSpec, problem: Callable[[str, str], None]) -> None:
    """A sync mode needs a destination that takes it, and a dedup key to match records by."""
    mode = definition.sync_mode
    if mode not in spec.sync_modes:
        takes = f"takes only {', '.join(spec.sync_modes)}" if spec.sync_modes else "takes no sync mode"
        problem("syncMode", f"{spec.name} {takes}; not {mode!r}")
    if not definition.dedup_key:
        problem("dedupKey", f"syncMode {mode!r} matches records by the dedup key: give one identity target, or one "
                "or two attribute targets")  # fmt: skip
    if "export_mode" in definition.model_fields_set and definition.export_mode == "full":
        problem("exportMode", "a sync mode sends only what changed: leave exportMode out")


def _prefixes(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def find_flow(session: Session, sandbox_id: str, name: str) -> ActivationFlowRecord:
    record = session.scalar(select(ActivationFlowRecord).where(ActivationFlowRecord.sandbox_id == sandbox_id,
                                                               ActivationFlowRecord.name == name))  # fmt: skip
    if record is None:
        record = session.scalar(select(ActivationFlowRecord).where(ActivationFlowRecord.sandbox_id == sandbox_id,
                                                                   ActivationFlowRecord.id == name))  # fmt: skip
    if record is None:
        names = list(session.scalars(select(ActivationFlowRecord.name).where(
            ActivationFlowRecord.sandbox_id == sandbox_id)))  # fmt: skip
        raise NotFoundError(f"no activation flow named {name!r}{did_you_mean(name, names)}",
                            code="ACTIVATION-0404-404", flow=name, available=names)  # fmt: skip
    return record


def get_flow(session: Session, sandbox: str, name: str) -> dict[str, Any]:
    record = find_flow(session, resolve_sandbox(session, sandbox).id, name)
    account = session.get(DestinationAccountRecord, record.account_id)
    assert account is not None  # a flow's account cannot be deleted while the flow exists
    return flow_document(record, account)


def list_flows(session: Session, sandbox: str) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    rows = session.execute(
        select(ActivationFlowRecord, DestinationAccountRecord)
        .join(DestinationAccountRecord, DestinationAccountRecord.id == ActivationFlowRecord.account_id)
        .where(ActivationFlowRecord.sandbox_id == sandbox_id)
        .order_by(ActivationFlowRecord.name)
    )
    return [flow_document(flow, account) for flow, account in rows]


def set_state(session: Session, sandbox: str, name: str, state: Literal["enabled", "disabled"]) -> ActivationFlowRecord:
    """Enable or disable a flow; enabling one in error clears its error."""
    record = find_flow(session, resolve_sandbox(session, sandbox).id, name)
    record.state, record.error, record.updated_at = state, None, utcnow()
    session.flush()
    return record


def delete_flow_record(session: Session, sandbox: str, name: str) -> tuple[str, str]:
    """Delete a flow's record with its runs and dead letters; its (sandbox id, flow id)."""
    record = find_flow(session, resolve_sandbox(session, sandbox).id, name)
    session.delete(record)
    return record.sandbox_id, record.id


def definition_of(record: ActivationFlowRecord) -> FlowDefinition:
    return FlowDefinition.model_validate(record.definition)
