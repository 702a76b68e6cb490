"""Base connections: a connector and its configuration, with the secret fields encrypted at rest.

A configuration is split when it is stored: its secret fields (by the names a configuration uses,
their aliases) are sealed together with the secret key, the rest is kept as plain JSON, and the
names of the secrets it holds are noted so that they can be shown without their values. Paths of
this machine that a configuration names must lie inside the operator's allowed roots, checked
when the connection is created and again each time it is opened."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from accord.access import AllowedRoots
from accord.catalog import ConnectionRecord, DataflowRecord, SessionReader, resolve_sandbox, utcnow
from accord.errors import (
    AccordError,
    ConflictError,
    DocumentError,
    InvalidInputError,
    NotFoundError,
    did_you_mean,
    validation_problems,
)
from accord.sources.listing import SHOWN_COLUMNS, connection_from_row, read_connections
from accord.sources.registry import connector_class, connector_spec
from accord.sources.secrets import SecretBox
from accord.sources.spec import CheckStep, PluginSpec, Source

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _problems(exc: ValidationError, prefix: str) -> list[dict[str, Any]]:
    return validation_problems(exc.errors(), prefix)


def validate_config(connector: str, config: dict[str, Any], roots: AllowedRoots) -> BaseModel:
    """The configuration as the connector's model, its local paths inside the allowed roots."""
    return validate_spec_config(connector_spec(connector), config, roots, "SOURCE-0400-400")


def validate_spec_config(spec: PluginSpec, config: dict[str, Any], roots: AllowedRoots, code: str) -> BaseModel:
    """A configuration as the model of a connector's or destination's spec, its local paths inside the allowed roots.

    Error messages name the fields and what is wrong, never the values given (which may be secrets)."""
    try:
        model = spec.config.model_validate(config)
    except ValidationError as exc:
        raise DocumentError(f"the {spec.name} configuration", _problems(exc, "config."), code=code) from None
    for field, path in spec.local_paths(model).items():
        roots.resolve(path, f"config.{field}")
    return model


def split_secrets(connector: str, model: BaseModel) -> tuple[dict[str, Any], dict[str, Any]]:
    """A configuration as (plain settings, secret settings), both by the names a configuration uses."""
    return split_spec_secrets(connector_spec(connector), model)


def split_spec_secrets(spec: PluginSpec, model: BaseModel) -> tuple[dict[str, Any], dict[str, Any]]:
    """A configuration as (plain settings, secret settings); the local paths it names made absolute.

    A relative path means the folder it names now, from where the configuration is given: kept absolute, so
    that a run started elsewhere (the scheduler of `accord serve`, another shell) reads the same one."""
    secret_names = set(spec.secret_fields())
    values = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    secrets = {k: values.pop(k) for k in list(values) if k in secret_names}
    for field, path in spec.local_paths(model).items():
        values[field] = str(Path(path).expanduser().absolute())
    return values, secrets


def connection_document(record: ConnectionRecord) -> dict[str, Any]:
    """A connection as the API and CLI show it: secret fields are never included, only named."""
    return connection_from_row({column: getattr(record, column) for column in SHOWN_COLUMNS})


def create_connection(
    session: Session,
    box: SecretBox,
    sandbox: str,
    name: str,
    connector: str,
    config: dict[str, Any],
    roots: AllowedRoots | None = None,
) -> ConnectionRecord:
    """Create a connection; its secrets are sealed, and the local paths it names must lie inside `roots`
    (without `roots`, a connection that names a local path is refused)."""
    if not NAME.match(name):
        raise InvalidInputError(
            f"connection name {name!r} must be letters, digits, '_', '.', '-'", code="SOURCE-0401-400"
        )
    sandbox_id = resolve_sandbox(session, sandbox).id
    model = validate_config(connector, config, roots or AllowedRoots.nothing())
    values, secrets = split_secrets(connector, model)
    exists = session.scalar(
        select(ConnectionRecord.id).where(ConnectionRecord.sandbox_id == sandbox_id, ConnectionRecord.name == name)
    )
    if exists:
        raise ConflictError(f"a connection named {name!r} already exists", code="SOURCE-0410-409")
    record = ConnectionRecord(
        sandbox_id=sandbox_id,
        name=name,
        connector=connector,
        config=values,
        secrets=box.seal(secrets),
        secret_fields=sorted(secrets),
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


def get_connection(session: Session, sandbox: str, name: str) -> dict[str, Any]:
    return connection_document(find_connection(session, resolve_sandbox(session, sandbox).id, name))


def list_connections(session: Session, sandbox: str) -> list[dict[str, Any]]:
    return read_connections(SessionReader(session), resolve_sandbox(session, sandbox).id)


def open_source(record: ConnectionRecord, box: SecretBox, roots: AllowedRoots | None = None) -> Source:  # type: ignore[type-arg]
    """The connector, configured with the connection's settings and decrypted secrets.

    Its local paths are checked again: the allowed roots, or where a symlink leads, may have changed."""
    cls = connector_class(record.connector)
    config = {**record.config, **box.open(record.secrets)}
    roots = roots or AllowedRoots.nothing()
    return cls(validate_config(record.connector, config, roots), roots)


def test_connection(
    session: Session, box: SecretBox, sandbox: str, name: str, roots: AllowedRoots | None = None
) -> dict[str, Any]:
    record = find_connection(session, resolve_sandbox(session, sandbox).id, name)
    steps: list[CheckStep] = open_source(record, box, roots).check()
    return {"connection": name, "ok": all(s.ok for s in steps), "steps": step_documents(steps)}


def step_documents(steps: list[CheckStep]) -> list[dict[str, Any]]:
    """The steps of a connection test as the API and CLI show them."""
    return [{"step": s.name, "ok": s.ok, "message": s.message, **({"hint": s.hint} if s.hint else {})} for s in steps]


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


def seal_clear_secrets(session: Session, box: SecretBox) -> int:
    """Seal the secrets that connections stored before catalog revision 0009 kept in clear; returns how many
    connections were sealed.

    The old code picked secret fields by their Python names while configurations are stored by alias,
    so `secretAccessKey`, `accountKey`, `sasToken` and `privateKey` stayed among the plain settings.
    Such rows are the ones whose `secret_fields` is NULL. A row whose connector is not installed here,
    or whose sealed part this key cannot open, is left for a process that can."""
    pending = list(session.scalars(select(ConnectionRecord).where(ConnectionRecord.secret_fields.is_(None))))
    if not pending:
        return 0
    if session.get_bind().dialect.name == "sqlite":  # overwrite the clear text in the file, not just unlink it
        session.execute(text("PRAGMA secure_delete = ON"))
    sealed = 0
    for record in pending:
        try:
            secret_names = set(connector_spec(record.connector).secret_fields())
            secrets = box.open(record.secrets)
        except AccordError:
            continue
        config = dict(record.config)
        secrets |= {key: config.pop(key) for key in list(config) if key in secret_names}
        record.config, record.secrets, record.secret_fields = config, box.seal(secrets), sorted(secrets)
        sealed += 1
    session.flush()
    return sealed
