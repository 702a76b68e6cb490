"""The catalog's tables of the destinations context: accounts, activation flows, their runs, dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from accord.catalog.models import Base, UtcDateTime, new_id, utcnow


class DestinationAccountRecord(Base):
    """A destination account: a destination and its configuration; secrets sealed as for connections."""

    __tablename__ = "destination_accounts"
    __table_args__ = (UniqueConstraint("sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    destination: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    secrets: Mapped[str] = mapped_column(String, default="")
    secret_fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    marketing_actions: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    """What every flow of the account does with data, besides its destination's own (data usage policies)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ActivationFlowRecord(Base):
    """An activation flow: one account, its audiences with their schedules, the mapping and the file options."""

    __tablename__ = "activation_flows"
    __table_args__ = (UniqueConstraint("sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    account_id: Mapped[str] = mapped_column(ForeignKey("destination_accounts.id"), index=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The flow as validated (`accord.destinations.flows.FlowDefinition`): audiences, mapping, files, limits."""
    state: Mapped[str] = mapped_column(String(16), default="enabled")
    """enabled, disabled, or error (`error` says why)."""
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ActivationRunRecord(Base):
    """One run of an activation flow, whatever started it, with what it sent and left out."""

    __tablename__ = "activation_runs"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    flow_id: Mapped[str] = mapped_column(ForeignKey("activation_flows.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    trigger: Mapped[str] = mapped_column(String(16), default="manual")
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    full: Mapped[bool] = mapped_column(Boolean, default=True)
    """Whether the run sent every member (a full file) or only the changes since the last run."""
    profiles_received: Mapped[int] = mapped_column(BigInteger, default=0)
    identities_activated: Mapped[int] = mapped_column(BigInteger, default=0)
    profiles_failed: Mapped[int] = mapped_column(BigInteger, default=0)
    excluded: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Profiles left out, by reason: missing mandatory attribute, consent, duplicate, policy."""
    audiences: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """Per audience the run sent: segment id and name, profiles received, rows, changes, left out."""
    files: Mapped[list[Any]] = mapped_column(JSON, default=list)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)


class DeadLetterRecord(Base):
    """A request a streaming destination never accepted: the request, the last answer, and if it was replayed."""

    __tablename__ = "activation_dead_letters"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    flow_id: Mapped[str] = mapped_column(ForeignKey("activation_flows.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[str | None] = mapped_column(String(24), nullable=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Method, URL (without credentials), headers without secrets, and body."""
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """The last answer's status and the start of its body, or the network error."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    replay_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
