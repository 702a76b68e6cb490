"""The campaign engine's tables, in a database of its own (not the catalog's).

Names follow the reference product where it has them: the send log is its broadLog (one row per
recipient and delivery, its id the `broadlogID` logs carry back to the CDP), the tracking log its
trackingLog, and a recipient's opt-outs its `blackList*` flags. An instance serves one
organisational unit, as the reference does: there is no sandbox column.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from accord.catalog import UtcDateTime, utcnow


class CampaignBase(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class RecipientRecord(CampaignBase):
    """A person the engine may mail: the `recipient` target mapping's columns, and opt-outs per channel."""

    __tablename__ = "recipients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(64))
    custom: Mapped[dict[str, Any]] = mapped_column(default=dict)
    black_list_email: Mapped[bool] = mapped_column(Boolean, default=False)
    black_list_mobile: Mapped[bool] = mapped_column(Boolean, default=False)
    black_list: Mapped[bool] = mapped_column(Boolean, default=False)  # no channel at all
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class ListRecord(CampaignBase):
    """A list of recipients: loaded from an audience, made by a workflow, or a subscription list."""

    __tablename__ = "lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    origin: Mapped[str] = mapped_column(String(16), default="manual")  # audience, workflow, manual, subscription
    audience_id: Mapped[str | None] = mapped_column(String(64))  # the CDP segment the list mirrors
    double_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class ListMemberRecord(CampaignBase):
    __tablename__ = "list_members"

    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id", ondelete="CASCADE"), primary_key=True,
                                              index=True)  # fmt: skip
    status: Mapped[str] = mapped_column(String(16), default="member")  # member; pending until a double opt-in
    added_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class TargetMappingRecord(CampaignBase):
    """Which columns an incoming audience may carry and the reconciliation key; at most `max_fields` of them."""

    __tablename__ = "target_mappings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    columns: Mapped[list[Any]] = mapped_column(default=list)
    max_fields: Mapped[int] = mapped_column(Integer, default=20)


class SeedAddressRecord(CampaignBase):
    """An address that receives proofs (`test`) or a copy of every delivery (`seed`)."""

    __tablename__ = "seed_addresses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(8), default="test")
    label: Mapped[str] = mapped_column(String(255), default="")
    __table_args__ = (UniqueConstraint("email", "kind"),)


class SuppressionRecord(CampaignBase):
    """An address no delivery mails: unsubscribed, hard-bounced or complained."""

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)  # lower-cased
    reason: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class DeliveryRecord(CampaignBase):
    """An e-mail delivery: its templates, its target, and where its sending stands."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    campaign_id: Mapped[str] = mapped_column(String(64), default="")
    campaign_name: Mapped[str] = mapped_column(String(255), default="")
    sender: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    target: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"list": name} | {"query": ...} | {"audience": id}
    state: Mapped[str] = mapped_column(String(16), default="draft")  # draft, proofed, sending, sent, failed
    error: Mapped[str | None] = mapped_column(Text)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class BroadLogRecord(CampaignBase):
    """The send log: one row per recipient and delivery, written before the SMTP transaction and after it.

    Its uniqueness is what makes sending idempotent: a restarted delivery sends only rows still pending,
    and a row `sending` when the engine died was in flight (at risk of a second copy)."""

    __tablename__ = "broad_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sending, sent, failed, bounced
    reason: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    event_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    __table_args__ = (
        UniqueConstraint("delivery_id", "recipient_id"),
        Index("ix_broad_log_delivery_status", "delivery_id", "status"),
    )


class TrackingLogRecord(CampaignBase):
    """An open, a click or an unsubscribe, as the tracking endpoint saw it."""

    __tablename__ = "tracking_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    broadlog_id: Mapped[int] = mapped_column(ForeignKey("broad_log.id", ondelete="CASCADE"), index=True)
    delivery_id: Mapped[int] = mapped_column(Integer)
    recipient_id: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))  # open, click, unsubscribe
    url: Mapped[str] = mapped_column(Text, default="")
    user_agent: Mapped[str] = mapped_column(Text, default="")
    event_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class WorkflowRecord(CampaignBase):
    __tablename__ = "workflows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class WorkflowRunRecord(CampaignBase):
    __tablename__ = "workflow_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, waiting, success, failed
    trigger: Mapped[str] = mapped_column(String(16), default="manual")
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))  # where `pid` runs: only that host can tell it died
    error: Mapped[str | None] = mapped_column(Text)
    # a run held by a wait activity: the scheduler resumes it from then (no thread sleeps for hours)
    wait_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ActivityRunRecord(CampaignBase):
    """One activity of a workflow run: its counts, its error, and what it passes on to the next."""

    __tablename__ = "activity_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("workflow_runs.id", ondelete="CASCADE"), index=True)
    activity: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, success, failed, skipped
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    output: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AudienceLoadRecord(CampaignBase):
    """The reference's audience load job audit: one per audience file loaded."""

    __tablename__ = "audience_loads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_runs.id", ondelete="SET NULL"), index=True)
    file: Mapped[str] = mapped_column(Text)
    list_name: Mapped[str] = mapped_column(String(255))
    loaded: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    rejects: Mapped[list[Any]] = mapped_column(default=list)  # [{"row": n, "key": ..., "reason": ...}]
    error: Mapped[str | None] = mapped_column(Text)  # why the whole file was refused (nothing of it loaded)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class CollectedFileRecord(CampaignBase):
    """A file a workflow's file collector picked up: `collected` by a run, `processed` when that run succeeded,
    `refused` when it cannot be loaded. A file of the same name, size and time is not picked again."""

    __tablename__ = "collected_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    activity: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    modified: Mapped[int] = mapped_column(BigInteger)  # the store's last-modified time in nanoseconds
    run_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_runs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="collected")  # collected, processed, refused
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
    __table_args__ = (Index("ix_collected_files_workflow", "workflow_id", "activity"),)


class LogExportCursorRecord(CampaignBase):
    """How far the log export has gone, per kind of log: the next run writes what came after."""

    __tablename__ = "log_export_cursors"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # delivery, tracking
    exported_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
