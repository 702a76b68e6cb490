"""The catalog's table of the governance context's privacy jobs: access and delete requests, and their reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from accord.catalog.models import Base, UtcDateTime, new_id, utcnow


class PrivacyJobRecord(Base):
    """A privacy job: what it was asked (kind, identities), how it went, and what it found or removed per store."""

    __tablename__ = "privacy_jobs"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    """`access` or `delete`."""
    status: Mapped[str] = mapped_column(String(16), default="queued")
    """queued, processing, complete or error."""
    identities: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """The identities asked for, normalised ({namespace, value}). Once a delete job ends, only their digests
    (`{namespace, digest}`, keyed by `salt`): the job names nobody it erased."""
    salt: Mapped[str] = mapped_column(String(64), default="")
    """The key of the digests of a delete job's identities, its own (a digest cannot be looked up elsewhere)."""
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """People found (graphs), identities they hold, rows found or removed in all."""
    report: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """Per store: its name, whether it was reached, what was found or removed, errors."""
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(128), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    host: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
