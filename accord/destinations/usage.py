"""What an activation flow does with data, as data usage policies see it, and their enforcement.

A flow performs its destination's marketing actions and its own (`marketingActions`) on the attributes it
exports (its mapping) and on those its audiences read (each segment's definition, the segments it refers to
included). Enforcement happens when a flow is saved, when a segment it sends changes (`change_segment`,
`update_segment`: the change is refused; a segment that one it sends refers to, too), at every run (the run
fails, and its alert says why) and when its dead letters are replayed (the replay is refused). A
violation names the policy and the lineage that caused it: field, dataset, segment, flow, destination."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord import segment
from accord.catalog import resolve_sandbox
from accord.catalog.activations import ActivationFlowRecord, DestinationAccountRecord
from accord.destinations import flows
from accord.destinations.accounts import account_document, checked_actions, find_account
from accord.destinations.flows import FlowDefinition, definition_of, find_flow
from accord.destinations.registry import destination_spec
from accord.governance import FieldUse, PolicyViolationError, Violation, evaluate_use


def flow_actions(definition: FlowDefinition, account: DestinationAccountRecord) -> list[str]:
    """The marketing actions a flow performs: its destination's, its account's and its own."""
    return sorted({*destination_spec(account.destination).marketing_actions, *(account.marketing_actions or []),
                   *definition.marketing_actions})  # fmt: skip


def flow_violations(session: Session, sandbox: str, name: str, definition: FlowDefinition,
                    account: DestinationAccountRecord) -> list[Violation]:  # fmt: skip
    """The enabled policies a flow of this definition, through this account, breaks."""
    actions = set(flow_actions(definition, account))
    uses = [FieldUse(m.source, "profile", ()) for m in definition.mapping]
    wanted = [a.segment_id or a.segment for a in definition.audiences]
    for reads in segment.attributes_read(session, sandbox, wanted).values():
        uses += [FieldUse(r.path, r.scope, tuple(f"segment {s}" for s in r.segments)) for r in reads]
    outer = (f"activation {name}", f"destination {account.name} ({account.destination})")
    return evaluate_use(session, resolve_sandbox(session, sandbox).id, actions, uses, outer)


def enforce_flow(session: Session, sandbox: str, name: str, definition: FlowDefinition,
                 account: DestinationAccountRecord) -> None:  # fmt: skip
    """Refuse a flow that breaks an enabled policy (`PolicyViolationError`, with every violation)."""
    found = flow_violations(session, sandbox, name, definition, account)
    if found:
        raise PolicyViolationError(f"activation flow {name}", found)


def evaluate_flow(session: Session, sandbox: str, name: str) -> dict[str, Any]:
    """What the policies say of a stored flow now, without running it: its actions and every violation."""
    record = find_flow(session, resolve_sandbox(session, sandbox).id, name)
    account = session.get(DestinationAccountRecord, record.account_id)
    assert account is not None  # an account with flows cannot be deleted
    definition = definition_of(record)
    found = flow_violations(session, sandbox, record.name, definition, account)
    actions = flow_actions(definition, account)
    return {"activation": record.name, "destination": account.name, "marketingActions": actions,
            "allowed": not found, "violations": [v.to_dict() for v in found]}  # fmt: skip


def _check_flows_sending(session: Session, sandbox: str, segment_id: str, name: str) -> None:
    """Refuse (by raising, which rolls the change back) when a flow that sends this segment, or a segment that
    refers to it (`inSegment`, at any depth), now breaks a policy."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    flows = session.scalars(select(ActivationFlowRecord).where(ActivationFlowRecord.sandbox_id == sandbox_id))
    for flow in flows:
        definition = definition_of(flow)
        if not any(a.segment_id == segment_id for a in definition.audiences) and not _reaches(
                session, sandbox, definition, name):  # fmt: skip
            continue
        account = session.get(DestinationAccountRecord, flow.account_id)
        assert account is not None
        found = flow_violations(session, sandbox, flow.name, definition, account)
        if found:
            raise PolicyViolationError(f"this change of the segment: activation flow {flow.name}", found)


def _reaches(session: Session, sandbox: str, definition: FlowDefinition, name: str) -> bool:
    """Whether a segment the flow sends reads anything through segment `name`."""
    wanted = [a.segment_id or a.segment for a in definition.audiences]
    return any(name in read.segments for reads in segment.attributes_read(session, sandbox, wanted).values()
               for read in reads)  # fmt: skip


def create_flow(session: Session, sandbox: str, name: str, account: str, document: Any) -> ActivationFlowRecord:
    """`flows.create_flow`, refused when the new flow breaks an enabled policy (nothing is saved then)."""
    record = flows.create_flow(session, sandbox, name, account, document)
    found = session.get(DestinationAccountRecord, record.account_id)
    assert found is not None
    enforce_flow(session, sandbox, record.name, definition_of(record), found)
    return record


def update_segment_checked(session: Session, sandbox: str, name: str, document: Any) -> dict[str, Any]:
    """`segment.update_segment`, refused when a flow sending the segment (or one referring to it) would then
    break a policy."""
    changed = segment.update_segment(session, sandbox, name, document)
    _check_flows_sending(session, sandbox, changed["id"], changed["name"])
    return changed


def change_segment_checked(session: Session, sandbox: str, name: str, **changes: Any) -> dict[str, Any]:
    """`segment.change_segment`, refused when a flow sending the segment would then break a policy."""
    changed = segment.change_segment(session, sandbox, name, **changes)
    _check_flows_sending(session, sandbox, changed["id"], changed["name"])
    return changed


def set_account_actions(session: Session, sandbox: str, name: str, actions: list[str]) -> dict[str, Any]:
    """Set the marketing actions every flow through an account performs (besides its destination's); refused
    (nothing changed) when a flow of the account would then break an enabled policy."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    account = find_account(session, sandbox_id, name)
    account.marketing_actions = checked_actions(session, sandbox_id, actions)
    session.flush()
    for flow in session.scalars(select(ActivationFlowRecord).where(ActivationFlowRecord.account_id == account.id)):
        found = flow_violations(session, sandbox, flow.name, definition_of(flow), account)
        if found:
            raise PolicyViolationError(f"this change of the account's marketing actions: activation flow {flow.name}",
                                       found)  # fmt: skip
    return account_document(account)
