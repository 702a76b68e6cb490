"""The catalog's table of the streaming context: inlets, each bound to a dataset, where messages come in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from accord.catalog.models import Base, UtcDateTime, utcnow


class InletRecord(Base):
    """A streaming inlet: its id is the one in its URL (`/collection/{id}`); its write key is kept hashed."""

    __tablename__ = "streaming_inlets"
    __table_args__ = (UniqueConstraint("sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="xdm")
    """`xdm` (the reference product's messages) or `segment` (the Segment spec's calls)."""
    dataset_id: Mapped[str | None] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), nullable=True)
    """Where its messages go; with none, a message names its dataset (`header.datasetId`) or schema."""
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    """Open without a token, on purpose: then only its own dataset can be written."""
    write_key_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    """SHA-256 of a Segment inlet's write key (the key itself is shown once, when made)."""
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The Segment inlet's mapping and datasets; the schema contract."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
