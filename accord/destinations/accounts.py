"""Destination accounts: a destination and its configuration, secrets sealed as for source connections.

An account is what an activation flow sends through. Its configuration is validated against the
destination's model, its secret fields are sealed with the home's secret key (never returned: the
documents name them in `secretFields`), the local paths it names must lie inside the operator's
allowed roots, and `test_account` tries it step by step with the same messages as a connection test."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.access import AllowedRoots
from accord.catalog import resolve_sandbox, utcnow
from accord.catalog.activations import ActivationFlowRecord, DestinationAccountRecord
from accord.catalog.reading import utc_time
from accord.destinations.registry import destination_class, destination_spec
from accord.destinations.spec import Destination
from accord.errors import ConflictError, InvalidInputError, NotFoundError, did_you_mean
from accord.governance import action_problems
from accord.sources import SecretBox, split_spec_secrets, step_documents, validate_spec_config

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def account_document(record: DestinationAccountRecord) -> dict[str, Any]:
    """An account as the API and CLI show it: secret fields are named, never given."""
    return {
        "id": record.id,
        "name": record.name,
        "destination": record.destination,
        "config": record.config,
        "secretFields": list(record.secret_fields or []),
        "marketingActions": list(record.marketing_actions or []),
        "createdAt": utc_time(record.created_at).isoformat(),  # type: ignore[union-attr]
    }


def create_account(
    session: Session,
    box: SecretBox,
    sandbox: str,
    name: str,
    destination: str,
    config: dict[str, Any],
    roots: AllowedRoots | None = None,
    marketing_actions: list[str] | None = None,
) -> DestinationAccountRecord:
    """Create an account of `destination`; its secrets are sealed, its local paths must lie inside `roots`.
    `marketing_actions`: what every flow through it does with data besides the destination's own (data usage
    policies forbid actions for labelled data): say it here for a file destination whose use only the
    organisation knows."""
    if not NAME.match(name):
        raise InvalidInputError(
            f"destination account name {name!r} must be letters, digits, '_', '.', '-'", code="DEST-0401-400"
        )
    sandbox_id = resolve_sandbox(session, sandbox).id
    actions = checked_actions(session, sandbox_id, marketing_actions or [])
    spec = destination_spec(destination)
    model = validate_spec_config(spec, config, roots or AllowedRoots.nothing(), "DEST-0400-400")
    values, secrets = split_spec_secrets(spec, model)
    taken = select(DestinationAccountRecord.id).where(DestinationAccountRecord.sandbox_id == sandbox_id)
    if session.scalar(taken.where(DestinationAccountRecord.name == name)):
        raise ConflictError(f"a destination account named {name!r} already exists", code="DEST-0409-409")
    same_kind = session.scalar(
        select(func.count())
        .select_from(DestinationAccountRecord)
        .where(DestinationAccountRecord.sandbox_id == sandbox_id, DestinationAccountRecord.destination == destination)
    )
    if (same_kind or 0) >= spec.limits.destinations_per_sandbox:
        raise InvalidInputError(
            f"this sandbox already holds {same_kind} accounts of {spec.name} "
            f"(at most {spec.limits.destinations_per_sandbox})",
            code="DEST-0429-400",
        )
    record = DestinationAccountRecord(sandbox_id=sandbox_id, name=name, destination=destination, config=values,
                                      secrets=box.seal(secrets), secret_fields=sorted(secrets),
                                      marketing_actions=actions)  # fmt: skip
    session.add(record)
    session.flush()
    return record


def checked_actions(session: Session, sandbox_id: str, actions: list[str]) -> list[str]:
    """Marketing actions the sandbox knows (core or its own), without repeats; every unknown one at once."""
    problems = action_problems(session, sandbox_id, actions, "marketingActions")
    if problems:
        raise InvalidInputError("; ".join(p["message"] for p in problems), code="DEST-0426-400", problems=problems)
    return list(dict.fromkeys(actions))


def find_account(session: Session, sandbox_id: str, name: str) -> DestinationAccountRecord:
    record = session.scalar(
        select(DestinationAccountRecord).where(
            DestinationAccountRecord.sandbox_id == sandbox_id, DestinationAccountRecord.name == name
        )
    )
    if record is None:
        names = list(session.scalars(select(DestinationAccountRecord.name).where(
            DestinationAccountRecord.sandbox_id == sandbox_id)))  # fmt: skip
        raise NotFoundError(f"no destination account named {name!r}{did_you_mean(name, names)}",
                            code="DEST-0405-404", account=name, available=names)  # fmt: skip
    return record


def list_accounts(session: Session, sandbox: str) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    records = session.scalars(
        select(DestinationAccountRecord)
        .where(DestinationAccountRecord.sandbox_id == sandbox_id)
        .order_by(DestinationAccountRecord.name)
    )
    return [account_document(r) for r in records]


def get_account(session: Session, sandbox: str, name: str) -> dict[str, Any]:
    return account_document(find_account(session, resolve_sandbox(session, sandbox).id, name))


def open_destination(
    record: DestinationAccountRecord, box: SecretBox, roots: AllowedRoots | None = None
) -> Destination:  # type: ignore[type-arg]
    """The destination, configured with the account's settings and decrypted secrets; local paths checked again."""
    spec = destination_spec(record.destination)
    config = {**record.config, **box.open(record.secrets)}
    roots = roots or AllowedRoots.nothing()
    return destination_class(record.destination)(validate_spec_config(spec, config, roots, "DEST-0400-400"), roots)


def test_account(
    session: Session, box: SecretBox, sandbox: str, name: str, roots: AllowedRoots | None = None
) -> dict[str, Any]:
    record = find_account(session, resolve_sandbox(session, sandbox).id, name)
    steps = open_destination(record, box, roots).check()
    return {"account": name, "ok": all(s.ok for s in steps), "steps": step_documents(steps)}


def delete_account(session: Session, sandbox: str, name: str) -> None:
    record = find_account(session, resolve_sandbox(session, sandbox).id, name)
    users = list(session.scalars(select(ActivationFlowRecord.name).where(ActivationFlowRecord.account_id == record.id)))
    if users:
        raise ConflictError(f"activation flows use destination account {name!r}: {', '.join(users)}; delete them first",
                            code="DEST-0410-409", flows=users)  # fmt: skip
    session.delete(record)


def touch(record: DestinationAccountRecord) -> None:
    record.updated_at = utcnow()
