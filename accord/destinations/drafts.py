"""Activation flows before they are saved: what a flow to a destination may map, and what the data usage policies
would say of a draft (the workspace's review step), checked exactly as saving it checks it, with nothing stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import resolve_sandbox
from accord.catalog.activations import ActivationFlowRecord
from accord.destinations.accounts import NAME, find_account
from accord.destinations.export import consent_fields
from accord.destinations.flows import IDENTITY_PREFIX, check_definition, parse_definition
from accord.destinations.registry import destination_spec
from accord.destinations.spec import DestinationSpec
from accord.destinations.usage import flow_actions, flow_violations
from accord.errors import DocumentError

STAND_IN = {"source": f"{IDENTITY_PREFIX}-", "target": "standIn"}
"""What a draft that maps nothing is checked with, its own problems left out: the rest of the draft is checked."""


def exportable_sources(session: Session, sandbox: str, spec: DestinationSpec) -> dict[str, list[str]]:
    """What a flow to this destination may map, as `check_definition` accepts it: `identities`, the
    `identityMap.<namespace>` of each namespace of the sandbox the destination takes, and `attributes`, each path
    of the union profile schema that holds one value (objects, arrays and maps cannot be exported)."""
    from accord.identity import list_namespaces
    from accord.schema import FieldType, union_schema
    from accord.segment import computed_fields

    accepted = [n.symbol for n in list_namespaces(session, sandbox)
                if spec.namespaces is None or n.symbol in spec.namespaces]  # fmt: skip
    leaves = {**union_schema(session, sandbox, "profile").leaves(), **computed_fields(session, sandbox)}
    attributes = sorted(p for p, f in leaves.items() if f.type not in (FieldType.array, FieldType.map))
    return {"identities": [f"{IDENTITY_PREFIX}{symbol}" for symbol in accepted], "attributes": attributes}


def evaluate_draft(session: Session, sandbox: str, name: str, account: str, document: Any) -> dict[str, Any]:
    """What saving this flow would meet, without saving it: its name and definition checked as `create_flow`
    checks them, every problem at once (`DocumentError`, paths as the API's: `name`, `mapping[0].source`...);
    then the marketing actions it performs, the enabled policies it breaks (as `evaluate_flow` says of a saved
    flow), and the consents its profiles must not have refused (`consents`: the fields read, a profile whose
    value is `n` or `dn` is left out).

    A draft that maps nothing yet (a wizard's first steps) is checked for everything else all the same, its
    audiences and schedules against the sandbox and the destination, and told that it must map something."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    record = find_account(session, sandbox_id, account)
    spec = destination_spec(record.destination)
    problems = _name_problems(session, sandbox_id, name)
    unmapped = isinstance(document, dict) and not document.get("mapping")
    if unmapped:
        problems.append({"path": "mapping", "message": "map at least one attribute or identity"})
        document = {**document, "mapping": [STAND_IN]}
    try:
        definition = check_definition(session, sandbox, parse_definition(document), spec)
    except DocumentError as exc:
        problems += [p for p in exc.problems if not (unmapped and str(p.get("path", "")).startswith("mapping"))]
    if problems:
        raise DocumentError("the activation flow", problems, code="ACTIVATION-0400-400")
    found = flow_violations(session, sandbox, name, definition, record)
    actions = flow_actions(definition, record)
    consents = consent_fields(definition.model_copy(update={"marketing_actions": actions}), spec)
    return {"activation": name, "destination": record.name, "marketingActions": actions, "allowed": not found,
            "violations": [v.to_dict() for v in found], "consents": sorted(set(consents.values()))}  # fmt: skip


def _name_problems(session: Session, sandbox_id: str, name: str) -> list[dict[str, Any]]:
    if not NAME.match(name):
        return [{"path": "name", "message": f"activation flow name {name[:200]!r} must be letters, digits, '_', '.', "
                 "'-', starting with a letter or digit, at most 128"}]  # fmt: skip
    taken = select(ActivationFlowRecord.id).where(ActivationFlowRecord.sandbox_id == sandbox_id,
                                                  ActivationFlowRecord.name == name)  # fmt: skip
    if session.scalar(taken):
        return [{"path": "name", "message": f"an activation flow named {name!r} already exists"}]
    return []
