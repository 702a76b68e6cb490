"""The catalog's tables: operational metadata of every context, one sandbox at a time."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from accord.catalog.reading import aware


def new_id() -> str:
    """A 24-hex-digit identifier, the shape the reference product's catalog uses."""
    return secrets.token_hex(12)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A time stored in UTC, always given back with its offset (SQLite keeps none: values came back naive).
    A time given with another offset is converted to UTC first, written or compared (SQLite would keep its
    wall-clock figures and drop the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.astimezone(UTC) if value is not None and value.tzinfo is not None else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return aware(value) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Sandbox(Base):
    __tablename__ = "sandboxes"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class UserRecord(Base):
    """A person (who may sign in with a password) or a service account (which only holds API tokens)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(256), nullable=True)
    kind: Mapped[str] = mapped_column(String(16), default="person")
    password_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    """Wrong passwords since the last sign-in: the lock-out grows with them."""
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class SessionRecord(Base):
    """A person signed in (the web workspace's cookie): stored by the hashes of its secret and CSRF token."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    origin: Mapped[str] = mapped_column(String(256), default="")


class RoleRecord(Base):
    """A custom role: a named set of permissions (the built-in roles live in code, `accord.access`)."""

    __tablename__ = "roles"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(512), default="")
    permissions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class RoleGrantRecord(Base):
    """A role held by a user in one sandbox, or in every sandbox (`sandbox_id` NULL)."""

    __tablename__ = "role_grants"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(64))
    sandbox_id: Mapped[str | None] = mapped_column(
        ForeignKey("sandboxes.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True)
    """The user (a person or a service account) the token acts for: it holds at most what they hold."""
    role: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """A role the token is narrowed to (NULL: all the user holds)."""
    sandbox_id: Mapped[str | None] = mapped_column(
        ForeignKey("sandboxes.id", ondelete="CASCADE"), nullable=True, index=True
    )
    """The one sandbox the token may use; NULL for every sandbox its user holds a role in."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class ActivityRecord(Base):
    """One change made through the API or the CLI, or refused to its caller: append-only (the database refuses
    to update or delete a row, by triggers the migration makes)."""

    __tablename__ = "activity_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    via: Mapped[str] = mapped_column(String(8))
    user: Mapped[str] = mapped_column(String(128), index=True)
    token: Mapped[str | None] = mapped_column(String(128), nullable=True)
    sandbox: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    """NULL: a change of the whole home (users, roles, tokens, sandboxes)."""
    action: Mapped[str] = mapped_column(String(200))
    object_type: Mapped[str] = mapped_column(String(64), index=True)
    object_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(Integer)
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    origin: Mapped[str] = mapped_column(String(256))


class DataLabelRecord(Base):
    """A data usage label on a dataset (`field` empty) or on one field of it (a dotted path)."""

    __tablename__ = "data_labels"
    __table_args__ = (UniqueConstraint("dataset_id", "field", "label"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(512), default="")
    label: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class CustomLabelRecord(Base):
    """A label of the organisation's own, beside the core ones."""

    __tablename__ = "custom_labels"
    __table_args__ = (UniqueConstraint("sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(1024), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class MarketingActionRecord(Base):
    """A marketing action of the organisation's own, beside the core ones."""

    __tablename__ = "marketing_actions"
    __table_args__ = (UniqueConstraint("sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(256), default="")
    description: Mapped[str] = mapped_column(String(1024), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class PolicyRecord(Base):
    """A data usage policy: a marketing action forbidden for data whose labels match an expression."""

    __tablename__ = "data_usage_policies"
    __table_args__ = (UniqueConstraint("sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(1024), default="")
    action: Mapped[str] = mapped_column(String(64))
    expression: Mapped[str] = mapped_column(String(4000))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    core: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class FieldGroupRecord(Base):
    """A custom field group; standard field groups ship with Accord and are not stored."""

    __tablename__ = "field_groups"
    __table_args__ = (UniqueConstraint("sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(256), default="")
    classes: Mapped[list[Any]] = mapped_column(JSON)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class SchemaRecord(Base):
    __tablename__ = "schemas"
    __table_args__ = (UniqueConstraint("sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(256), default="")
    class_name: Mapped[str] = mapped_column(String(32))
    field_groups: Mapped[list[Any]] = mapped_column(JSON)
    identities: Mapped[list[Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class DatasetRecord(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    schema_id: Mapped[str] = mapped_column(ForeignKey("schemas.id"), index=True)
    profile_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    ttl_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """For experience events: older events leave profiles and are purged from the lake."""
    schema_contract: Mapped[str] = mapped_column(String(16), default="discard_row", server_default="discard_row")
    """What streaming does with data that does not fit the schema (`accord.lake.contracts`)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class BatchRecord(Base):
    """One ingestion into a dataset; also the run record of that ingestion."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="loading")
    source_name: Mapped[str] = mapped_column(String(1024), default="")
    file_format: Mapped[str] = mapped_column(String(32), default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    input_record_count: Mapped[int] = mapped_column(BigInteger, default=0)
    output_record_count: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_record_count: Mapped[int] = mapped_column(BigInteger, default=0)
    error_threshold: Mapped[float] = mapped_column(Float, default=5.0)
    schema_version: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_key: Mapped[str | None] = mapped_column(String(1024), nullable=True, index=True)
    """Which item of which dataflow this batch ingested (dataflow id and the source's key)."""
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    """SHA-256 of the bytes ingested (the file as received), to tell when the same file comes again."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class BatchSourceRecord(Base):
    """One source item (a file, a chunk of rows) that a successful batch ingested."""

    __tablename__ = "batch_sources"

    source_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)


class ConnectionRecord(Base):
    """A base connection: a connector and its configuration; secrets are stored encrypted."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    connector: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    secrets: Mapped[str] = mapped_column(String, default="")
    secret_fields: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    """Names of the secret settings sealed in `secrets`; NULL on rows stored before revision 0009, whose
    secrets may still be in `config` until they are sealed (`sources.seal_clear_secrets`)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class DataflowRecord(Base):
    """Source connection -> target dataset, with a mapping, read options, a schedule and its state."""

    __tablename__ = "dataflows"
    __table_args__ = (UniqueConstraint("sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    source: Mapped[dict[str, Any]] = mapped_column(JSON)
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    read_options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    backfill: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    error_threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    running_run_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class FlowRunRecord(Base):
    """One run of a dataflow, whatever started it."""

    __tablename__ = "flow_runs"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    dataflow_id: Mapped[str] = mapped_column(ForeignKey("dataflows.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    trigger: Mapped[str] = mapped_column(String(16), default="manual")
    records_received: Mapped[int] = mapped_column(BigInteger, default=0)
    records_ingested: Mapped[int] = mapped_column(BigInteger, default=0)
    records_failed: Mapped[int] = mapped_column(BigInteger, default=0)
    files: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    batch_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)


class AlertSubscriptionRecord(Base):
    """Who wants to hear about what: an event of one dataflow (or all), optionally sent to a webhook."""

    __tablename__ = "alert_subscriptions"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    dataflow_id: Mapped[str | None] = mapped_column(ForeignKey("dataflows.id", ondelete="CASCADE"), nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    delay_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    activation_id: Mapped[str | None] = mapped_column(
        ForeignKey("activation_flows.id", ondelete="CASCADE"), nullable=True
    )
    """One activation flow (events `activation.*`), or all of the sandbox's when NULL."""
    skip_rate_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    """`activation.skipped`: the share of received profiles left out above which it is raised."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AlertRecord(Base):
    """An alert raised for a subscription, and how its delivery went."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("alert_subscriptions.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    dataflow_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    activation_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    message: Mapped[str] = mapped_column(String(2048), default="")
    delivery: Mapped[str] = mapped_column(String(16), default="none")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class IdentityNamespaceRecord(Base):
    """A custom identity namespace; standard namespaces ship with Accord and are not stored."""

    __tablename__ = "identity_namespaces"
    __table_args__ = (UniqueConstraint("sandbox_id", "symbol"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    symbol: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256))
    identity_type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(1024), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class IdentityRulesRecord(Base):
    """A sandbox's identity linking rules: unique namespaces and namespace priority."""

    __tablename__ = "identity_rules"

    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), primary_key=True)
    unique_namespaces: Mapped[list[Any]] = mapped_column(JSON, default=list)
    priority: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class MergePolicyRecord(Base):
    """How fragments merge into a profile: timestamp ordered or dataset precedence; stitching none or graph."""

    __tablename__ = "merge_policies"
    __table_args__ = (UniqueConstraint("sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    datasets: Mapped[list[Any]] = mapped_column(JSON, default=list)
    stitching: Mapped[str] = mapped_column(String(16), default="graph")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class IdentityRemovalRecord(Base):
    """A user's removal of a link between two identities, or of an identity from its graph."""

    __tablename__ = "identity_removals"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    node: Mapped[str] = mapped_column(String(1200))
    other: Mapped[str | None] = mapped_column(String(1200), nullable=True)
    reason: Mapped[str] = mapped_column(String(1024), default="")
    removed_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class SegmentDefinitionRecord(Base):
    """An audience: a PQL expression (or a composition of other audiences) and how it is evaluated."""

    __tablename__ = "segment_definitions"
    __table_args__ = (UniqueConstraint("sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    expression: Mapped[str] = mapped_column(Text)
    composition: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    streaming: Mapped[bool] = mapped_column(Boolean, default=False)
    streaming_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class SegmentJobRecord(Base):
    """A batch segment job: which definitions, when, how it went, and how many qualified for each."""

    __tablename__ = "segment_jobs"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    segments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Where a job under way is: its step, and how much of it is done."""
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    """Someone asked the job to stop: it stops at its next step and ends `cancelled`."""
    trigger: Mapped[str] = mapped_column(String(16), default="manual")
    """What started it: `manual` (CLI, API, workspace) or `schedule`."""
    owner: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """The process that runs the job, or will (`pid`, `host`, `seen`: epoch seconds when it was known to run):
    a job left `queued` or `running` by a process that is gone was interrupted."""


class SegmentScheduleRecord(Base):
    """When a sandbox's batch audiences are evaluated on their own (and its profiles rebuilt first)."""

    __tablename__ = "segment_schedules"

    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    every_hours: Mapped[int] = mapped_column(Integer, default=24)
    start_at: Mapped[str] = mapped_column(String(5), default="00:00")
    """The first run of the day, `HH:MM` UTC; the others follow every `every_hours`."""
    rebuild_profiles: Mapped[bool] = mapped_column(Boolean, default=False)
    """Rebuild the profile store right before the segment job."""
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ComputedAttributeRecord(Base):
    """A computed attribute: a profile attribute aggregated from the profile's events within a lookback."""

    __tablename__ = "computed_attributes"
    __table_args__ = (UniqueConstraint("sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """What it aggregates: function, field, event filter (PQL), lookback; validated by the profile context."""
    status: Mapped[str] = mapped_column(String(16), default="NEW")
    """DRAFT, NEW (not evaluated since it was defined), PROCESSING, PROCESSED, FAILED or DISABLED."""
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Why its last evaluation failed (None when it succeeded)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class JobLeaseRecord(Base):
    """A lock held by a running job: only one process holds a name; its heartbeat says it is alive."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    """What is locked, such as `sandbox:<id>` or `batch:<id>`."""
    token: Mapped[str] = mapped_column(String(24))
    """Which hold of the lock this is: only its holder gives it back or beats it."""
    purpose: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


# The destinations context's tables live in their own module; importing it here puts them on `Base.metadata`
from accord.catalog import activations as _activations  # noqa: E402, F401
from accord.catalog import inlets as _inlets  # noqa: E402, F401  (the streaming context's table)
from accord.catalog import privacy as _privacy  # noqa: E402, F401  (the governance context's table)
