"""Bounces that come back by mail: delivery status notifications (RFC 3464) read from a Maildir.

A server that accepted a message may fail to deliver it later and say so in a DSN: a multipart/report
(report-type=delivery-status) with a machine-readable part per recipient (Action, Status, Diagnostic-Code)
and the returned message or its headers. Each DSN is matched to its send-log row by the returned message's
`X-Accord-Broadlog` header (or its Message-ID), classified hard (status 5.x.x) or soft (4.x.x), and the row
becomes `bounced` with the reason; a hard bounce puts the address on the suppression list. A processed file
moves from `new/` to `cur/`, so that the next run does not count it again; a message that is not a DSN, or
that cannot be parsed, is counted as unreadable and left where it is."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from email import message_from_bytes, message_from_string, policy
from email.message import Message
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from accord.access import AllowedRoots
from accord.campaign.engine import CampaignEngine
from accord.campaign.exceptions import BounceMailboxError
from accord.campaign.models import BroadLogRecord
from accord.campaign.recipients import suppress_many

log = logging.getLogger("accord.campaign")

BROADLOG_HEADER = "X-Accord-Broadlog"


@dataclass(frozen=True)
class Bounce:
    """What a DSN says of one recipient of one message."""

    kind: str  # hard, soft
    status: str
    action: str
    recipient: str
    diagnostic: str
    broadlog_id: int | None
    message_id: str | None

    @property
    def reason(self) -> str:
        said = f": {self.diagnostic}" if self.diagnostic else ""
        return f"{self.kind} bounce ({self.action}, status {self.status}){said}"[:2000]


class NotADeliveryReport(ValueError):
    """The message is not a delivery status notification, or one that cannot be read."""


def process_bounces(engine: CampaignEngine, mailbox: str | Path | None = None) -> dict[str, int]:
    """Read the new DSN messages of the bounce mailbox (`campaign_bounce_mailbox` unless named) and mark their
    rows bounced. Counts: read, hard, soft, ignored (delivered, relayed...), unmatched, unreadable."""
    folder = _maildir(engine, mailbox)
    counts = {"read": 0, "hard": 0, "soft": 0, "ignored": 0, "unmatched": 0, "unreadable": 0}
    found: list[tuple[Path, list[Bounce]]] = []
    for path in sorted((folder / "new").iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        counts["read"] += 1
        try:
            bounces = read_report(path.read_bytes())
        except NotADeliveryReport as exc:
            counts["unreadable"] += 1
            log.warning("bounce mailbox: %s is not a delivery report it can read (%s); left in new/", path.name, exc)
            continue
        found.append((path, bounces))
    matched = _apply(engine, [bounce for _, bounces in found for bounce in bounces], counts)
    for path, bounces in found:
        counts["ignored"] += sum(b.kind == "other" for b in bounces)
        os.replace(path, folder / "cur" / f"{path.name.partition(':')[0]}:2,S")  # seen: the Maildir flag
    counts["hard"], counts["soft"] = matched.get("hard", 0), matched.get("soft", 0)
    return counts


def read_report(data: bytes) -> list[Bounce]:
    """The bounces a DSN reports (one per recipient block), or `NotADeliveryReport`."""
    try:
        message = message_from_bytes(data, policy=policy.compat32)
    except Exception as exc:  # the email package raises many kinds on broken input
        raise NotADeliveryReport(f"cannot be parsed: {exc}") from None
    if message.get_content_type() != "multipart/report" or message.get_param("report-type") != "delivery-status":
        raise NotADeliveryReport(f"a {message.get_content_type()} message, not a multipart/report of delivery status")
    parts = _parts(message)
    status_part = next((p for p in parts if p.get_content_type() == "message/delivery-status"), None)
    if status_part is None:
        raise NotADeliveryReport("no message/delivery-status part")
    broadlog_id, message_id = _returned_identity(parts)
    blocks = _parts(status_part)
    bounces = [_bounce(block, broadlog_id, message_id) for block in blocks[1:]]  # the first block is per message
    if not bounces:
        raise NotADeliveryReport("a delivery status without a recipient")
    return bounces


def _bounce(block: Message, broadlog_id: int | None, message_id: str | None) -> Bounce:
    action = str(block.get("Action", "")).strip().lower()
    status = str(block.get("Status", "")).strip().split(" ")[0]
    if action not in ("failed", "delayed", "delivered", "relayed", "expanded"):
        raise NotADeliveryReport(f"a recipient block with no known Action ({action or 'none'})")
    if status.startswith("5") or (action == "failed" and not status.startswith("4")):
        kind = "hard"
    elif status.startswith("4") or action == "delayed":
        kind = "soft"
    else:
        kind = "other"  # delivered, relayed, expanded: nothing to record
    recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "").partition(";")[2].strip()
    diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
    return Bounce(kind, status or "?", action, recipient, diagnostic, broadlog_id, message_id)


def _parts(message: Message) -> list[Message]:
    """The parts of a multipart or message/* part (a delivery status's blocks are parts too)."""
    payload = message.get_payload()
    return [part for part in payload if isinstance(part, Message)] if isinstance(payload, list) else []


def _returned_identity(parts: list[Message]) -> tuple[int | None, str | None]:
    """The broadLog id and Message-ID of the returned message (message/rfc822 or text/rfc822-headers)."""
    for part in parts:
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = _parts(part)
            returned = inner[0] if inner else None
        elif kind == "text/rfc822-headers":
            returned = message_from_string(str(part.get_payload(decode=False)), policy=policy.compat32)
        else:
            continue
        if returned is None:
            continue
        header = str(returned.get(BROADLOG_HEADER, "")).strip()
        message_id = str(returned.get("Message-ID", "")).strip() or None
        return (int(header) if header.isdigit() else None), message_id
    return None, None


def _apply(engine: CampaignEngine, bounces: list[Bounce], counts: dict[str, int]) -> dict[str, int]:
    """Mark the matched rows bounced in one transaction, then quarantine the hard bounces' addresses."""
    wanted = [b for b in bounces if b.kind in ("hard", "soft")]
    ids = {b.broadlog_id for b in wanted if b.broadlog_id is not None}
    message_ids = {b.message_id for b in wanted if b.broadlog_id is None and b.message_id}
    matched: dict[str, int] = {}
    hard: list[tuple[str, str]] = []
    with engine.database.session() as session:
        rows = session.execute(select(BroadLogRecord.id, BroadLogRecord.email, BroadLogRecord.message_id).where(
            BroadLogRecord.id.in_(ids) | BroadLogRecord.message_id.in_(message_ids))).all()  # fmt: skip
        by_id = {row.id: row for row in rows}
        by_message = {row.message_id: row for row in rows if row.message_id}
        changes: list[dict[str, Any]] = []
        for bounce in wanted:
            row = by_id.get(bounce.broadlog_id) if bounce.broadlog_id is not None else by_message.get(bounce.message_id)
            if row is None:
                counts["unmatched"] += 1
                continue
            matched[bounce.kind] = matched.get(bounce.kind, 0) + 1
            changes.append({"id": row.id, "status": "bounced", "reason": bounce.reason})
            if bounce.kind == "hard":
                hard.append((row.email, bounce.reason))
        if changes:
            session.execute(update(BroadLogRecord), changes)
    suppress_many(engine, hard, "hard-bounce")
    return matched


def _maildir(engine: CampaignEngine, mailbox: str | Path | None) -> Path:
    named = mailbox if mailbox is not None else engine.settings.campaign_bounce_mailbox
    if named is None:
        raise BounceMailboxError("no bounce mailbox: set campaign_bounce_mailbox to a Maildir folder",
                                 field="campaign_bounce_mailbox")  # fmt: skip
    folder = AllowedRoots.from_settings(engine.settings).resolve(named, "campaign_bounce_mailbox")
    missing = [sub for sub in ("new", "cur") if not (folder / sub).is_dir()]
    if missing:
        raise BounceMailboxError(f"the bounce mailbox {str(named)!r} is not a Maildir folder (no {', '.join(missing)}/ "
                                 "in it)", field="campaign_bounce_mailbox")  # fmt: skip
    return folder
