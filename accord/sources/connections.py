"""Base connections: a connector and its configuration, with the secret fields encrypted at rest."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import ConnectionRecord, DataflowRecord, resolve_sandbox, utcnow
from accord.errors import ConflictError, DocumentError, InvalidInputError, NotFoundError, did_you_mean
from accord.sources.registry import connector_class, connector_spec
from accord.sources.secrets import SecretBox
from accord.sources.spec import CheckStep, Source

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _problems(exc: ValidationError, prefix: str) -> list[dict[str, Any]]:
    return [{"path": prefix + ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]


def validate_config(connector: str, config: dict[str, Any]) -> BaseModel:
    spec = connector_spec(connector)
    try:
        return spec.config.model_validate(config)
    except ValidationError as exc:
        raise DocumentError(
            f"the {spec.name} configuration", _problems(exc, "config."), code="SOURCE-0400-400"
        ) from None


def connection_document(record: ConnectionRecord) -> dict[str, Any]:
    """A connection as the API and CLI show it: secret fields are never included, only named."""
    secret_names = connector_spec(record.connector).secret_fields()
    return {
        "id": record.id,
        "name": record.name,
        "connector": record.connector,
        # Connections made before secrets were matched by their written names kept some in `config`.
        "config": {k: v for k, v in record.config.items() if k not in secret_names},
        "secretFields": secret_names if record.secrets else [],
        "createdAt": record.created_at.isoformat(),
    }


def create_connection(
    session: Session, box: SecretBox, sandbox: str, name: str, connector: str, config: dict[str, Any]
) -> ConnectionRecord:
    if not NAME.match(name):
        raise InvalidInputError(
            f"connection name {name!r} must be letters, digits, '_', '.', '-'", code="SOURCE-0401-400"
        )
    sandbox_id = resolve_sandbox(session, sandbox).id
    model = validate_config(connector, config)
    secret_names = connector_spec(connector).secret_fields()
    values = model.model_dump(by_alias=True, exclude_none=True)
    secrets = {k: values.pop(k) for k in list(values) if k in secret_names}
    exists = session.scalar(
        select(ConnectionRecord.id).where(ConnectionRecord.sandbox_id == sandbox_id, ConnectionRecord.name == name)
    )
    if exists:
        raise ConflictError(f"a connection named {name!r} already exists", code="SOURCE-0410-409")
    record = ConnectionRecord(
        sandbox_id=sandbox_id, name=name, connector=connector, config=values, secrets=box.seal(secrets)
    )
    session.add(record)
    session.flush()
    return record


def find_connection(session: Session, sandbox_id: str, name: str) -> ConnectionRecord:
    record = session.scalar(
        select(ConnectionRecord).where(ConnectionRecord.sandbox_id == sandbox_id, ConnectionRecord.name == name)
    )
    if record is None:
        names = list(session.scalars(select(ConnectionRecord.name).where(ConnectionRecord.sandbox_id == sandbox_id)))
        raise NotFoundError(
            f"no connection named {name!r}{did_you_mean(name, names)}",
            code="SOURCE-0405-404",
            connection=name,
            available=names,
        )
    return record


def list_connections(session: Session, sandbox: str) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    records = session.scalars(
        select(ConnectionRecord).where(ConnectionRecord.sandbox_id == sandbox_id).order_by(ConnectionRecord.name)
    )
    return [connection_document(r) for r in records]


def open_source(record: ConnectionRecord, box: SecretBox) -> Source:  # type: ignore[type-arg]
    """The connector, configured with the connection's settings and decrypted secrets."""
    cls = connector_class(record.connector)
    return cls(validate_config(record.connector, {**record.config, **box.open(record.secrets)}))


def test_connection(session: Session, box: SecretBox, sandbox: str, name: str) -> dict[str, Any]:
    record = find_connection(session, resolve_sandbox(session, sandbox).id, name)
    steps: list[CheckStep] = open_source(record, box).check()
    return {
        "connection": name,
        "ok": all(s.ok for s in steps),
        "steps": [
            {"step": s.name, "ok": s.ok, "message": s.message, **({"hint": s.hint} if s.hint else {})} for s in steps
        ],
    }


def delete_connection(session: Session, sandbox: str, name: str) -> None:
    record = find_connection(session, resolve_sandbox(session, sandbox).id, name)
    users = list(session.scalars(select(DataflowRecord.name).where(DataflowRecord.connection_id == record.id)))
    if users:
        raise ConflictError(
            f"dataflows use connection {name!r}: {', '.join(users)}; delete them first",
            code="SOURCE-0411-409",
            dataflows=users,
        )
    session.delete(record)


def touch(record: ConnectionRecord) -> None:
    record.updated_at = utcnow()
