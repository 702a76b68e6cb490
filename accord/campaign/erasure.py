"""What the campaign instance holds of people, found and erased (privacy jobs).

A person is found by their recipients: those whose external id is one of their identity values, or whose
e-mail address (lower-cased) is one of their e-mail values. With the recipients go their list memberships,
their send-log rows (broadLog) and tracking-log rows, and, by address, the suppression list, test and seed
addresses and the bounce messages (DSNs) kept in the bounce mailbox; the audit records of audience files
lose the rejected rows that named them. The files the instance keeps under its folders (audience files
landed, log files exported) lose the rows naming them (`destinations.scrubbing`).

Rows are deleted with `secure_delete` on, and a SQLite database is then compacted
(`accord.secure_delete`): nothing of them stays in free pages or in the write-ahead log.

An instance has no sandboxes (it serves one organisation, as the reference's does): a privacy job of a
sandbox reaches it when the sandbox activates to it (`accord campaign connect`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select

from accord.campaign.engine import CampaignEngine
from accord.campaign.models import (
    AudienceLoadRecord,
    BroadLogRecord,
    DeliveryRecord,
    ListMemberRecord,
    ListRecord,
    RecipientRecord,
    SeedAddressRecord,
    SuppressionRecord,
    TrackingLogRecord,
)
from accord.campaign.recipients import recipient_document
from accord.secure_delete import compact_database, secure_session_deletes


@dataclass
class CampaignErased:
    recipients: int = 0
    list_memberships: int = 0
    delivery_logs: int = 0
    tracking_logs: int = 0
    suppressions: int = 0
    seed_addresses: int = 0
    load_rejects: int = 0
    bounce_messages: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)
    log_emptied: bool = True

    def total(self) -> int:
        return (
            self.recipients
            + self.list_memberships
            + self.delivery_logs
            + self.tracking_logs
            + self.suppressions
            + self.seed_addresses
            + self.load_rejects
            + self.bounce_messages
            + sum(f["rows"] for f in self.files)
        )

    def to_document(self) -> dict[str, Any]:
        return {"recipients": self.recipients, "listMemberships": self.list_memberships,
                "deliveryLogs": self.delivery_logs, "trackingLogs": self.tracking_logs,
                "suppressions": self.suppressions, "seedAddresses": self.seed_addresses,
                "audienceLoadRejects": self.load_rejects, "bounceMessages": self.bounce_messages,
                "files": self.files}  # fmt: skip


def _recipients(session: Any, external_ids: set[str], emails: set[str]) -> list[RecipientRecord]:
    conditions = []
    if external_ids:
        conditions.append(RecipientRecord.external_id.in_(sorted(external_ids)))
    if emails:
        conditions.append(func.lower(RecipientRecord.email).in_(sorted(emails)))
    if not conditions:
        return []
    return list(session.scalars(select(RecipientRecord).where(or_(*conditions)).order_by(RecipientRecord.id)))


def recipients_of(engine: CampaignEngine, external_ids: set[str], emails: set[str]) -> dict[str, Any]:
    """Everything the instance holds of these recipients (by external id or lower-cased e-mail address)."""
    with engine.database.session() as session:
        found = _recipients(session, external_ids, emails)
        ids = [r.id for r in found]
        addresses = sorted({r.email.lower() for r in found if r.email} | emails)
        lists = session.execute(select(ListMemberRecord.recipient_id, ListRecord.name, ListMemberRecord.status)
                                .join(ListRecord, ListRecord.id == ListMemberRecord.list_id)
                                .where(ListMemberRecord.recipient_id.in_(ids))).all()  # fmt: skip
        sends = session.execute(select(BroadLogRecord, DeliveryRecord.name).join(
            DeliveryRecord, DeliveryRecord.id == BroadLogRecord.delivery_id).where(
            BroadLogRecord.recipient_id.in_(ids)).order_by(BroadLogRecord.id)).all()  # fmt: skip
        tracks = session.scalars(select(TrackingLogRecord).where(TrackingLogRecord.recipient_id.in_(ids))
                                 .order_by(TrackingLogRecord.id)).all()  # fmt: skip
        suppressed = session.scalars(select(SuppressionRecord).where(SuppressionRecord.email.in_(addresses))).all()
        seeds = session.scalars(select(SeedAddressRecord).where(func.lower(SeedAddressRecord.email).in_(addresses)))
        rejects = _rejects(session, {r.external_id for r in found} | external_ids, set(addresses))
        return {
            "recipients": [recipient_document(r) for r in found],
            "listMemberships": [{"recipientId": r, "list": name, "status": status} for r, name, status in lists],
            "deliveryLogs": [_send_document(b, name) for b, name in sends],
            "trackingLogs": [_track_document(t) for t in tracks],
            "suppressions": [
                {"email": s.email, "reason": s.reason, "at": s.created_at.isoformat()} for s in suppressed
            ],
            "seedAddresses": [{"email": s.email, "kind": s.kind} for s in seeds],
            "audienceLoadRejects": [{"file": load.file, **reject} for load, reject in rejects],
        }


def _send_document(row: BroadLogRecord, delivery: str) -> dict[str, Any]:
    return {
        "broadlogId": row.id,
        "delivery": delivery,
        "recipientId": row.recipient_id,
        "email": row.email,
        "status": row.status,
        "reason": row.reason,
        "at": row.event_at.isoformat(),
    }


def _track_document(row: TrackingLogRecord) -> dict[str, Any]:
    return {
        "trackinglogId": row.id,
        "broadlogId": row.broadlog_id,
        "type": row.type,
        "url": row.url,
        "userAgent": row.user_agent,
        "at": row.event_at.isoformat(),
    }


def _rejects(session: Any, keys: set[str], addresses: set[str]) -> list[tuple[AudienceLoadRecord, dict[str, Any]]]:
    found = []
    for load in session.scalars(select(AudienceLoadRecord)):
        for reject in load.rejects or []:
            if _names_reject(reject, keys, addresses):
                found.append((load, reject))
    return found


def _names_reject(reject: dict[str, Any], keys: set[str], addresses: set[str]) -> bool:
    reason = str(reject.get("reason", "")).lower()
    return str(reject.get("key", "")) in keys or any(address in reason for address in addresses)


def forget_recipients(engine: CampaignEngine, external_ids: set[str], emails: set[str]) -> CampaignErased:
    """Erase these recipients (by external id or lower-cased e-mail) and everything that names them."""
    erased = CampaignErased()
    with engine.database.session() as session:
        secure_session_deletes(session)
        found = _recipients(session, external_ids, emails)
        ids = [r.id for r in found]
        addresses = sorted({r.email.lower() for r in found if r.email} | emails)
        keys = {r.external_id for r in found} | external_ids
        for load, _reject in _rejects(session, keys, set(addresses)):
            kept = [r for r in load.rejects if not _names_reject(r, keys, set(addresses))]
            erased.load_rejects += len(load.rejects) - len(kept)
            load.rejects = kept
        if ids:
            erased.tracking_logs = _deleted(session, delete(TrackingLogRecord).where(
                TrackingLogRecord.recipient_id.in_(ids)))  # fmt: skip
            erased.delivery_logs = _deleted(session, delete(BroadLogRecord).where(BroadLogRecord.recipient_id.in_(ids)))
            erased.list_memberships = _deleted(session, delete(ListMemberRecord).where(
                ListMemberRecord.recipient_id.in_(ids)))  # fmt: skip
            erased.recipients = _deleted(session, delete(RecipientRecord).where(RecipientRecord.id.in_(ids)))
        if addresses:
            erased.suppressions = _deleted(session, delete(SuppressionRecord).where(
                SuppressionRecord.email.in_(addresses)))  # fmt: skip
            erased.seed_addresses = _deleted(session, delete(SeedAddressRecord).where(
                func.lower(SeedAddressRecord.email).in_(addresses)))  # fmt: skip
    erased.bounce_messages = _forget_bounces(engine, set(addresses))
    if erased.total():
        erased.log_emptied = compact_database(engine.database.engine)
    return erased


def _deleted(session: Any, statement: Any) -> int:
    return int(session.execute(statement).rowcount or 0)


def _forget_bounces(engine: CampaignEngine, addresses: set[str]) -> int:
    """Remove the bounce messages (new and read) that name one of the addresses."""
    mailbox = engine.settings.campaign_bounce_mailbox
    if mailbox is None or not addresses:
        return 0
    removed = 0
    for sub in ("new", "cur"):
        folder = Path(mailbox).expanduser() / sub
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.is_file() and any(a.encode() in path.read_bytes().lower() for a in addresses):
                path.unlink()
                removed += 1
    return removed


def bounce_messages_naming(engine: CampaignEngine, addresses: set[str]) -> list[str]:
    """The bounce messages (paths) that name one of the addresses."""
    mailbox = engine.settings.campaign_bounce_mailbox
    if mailbox is None or not addresses:
        return []
    found = []
    for sub in ("new", "cur"):
        folder = Path(mailbox).expanduser() / sub
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.is_file() and any(a.encode() in path.read_bytes().lower() for a in addresses):
                found.append(str(path))
    return found


def instance_folders(engine: CampaignEngine) -> list[Path]:
    """The instance's own folders of files: audiences landed, logs exported."""
    return [folder for folder in (engine.landing, engine.logs) if folder.is_dir()]
