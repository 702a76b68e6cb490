"""A delivery's send log (broadLog) as people read it: how many rows stand at each status, and the rows page
by page, with the recipient, the status, the SMTP server's reason and when it last changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from accord.campaign.deliveries import get_delivery
from accord.campaign.engine import CampaignEngine
from accord.campaign.exceptions import CampaignInputError
from accord.campaign.models import BroadLogRecord, DeliveryRecord, RecipientRecord, TrackingLogRecord

STATUSES = ("pending", "sending", "sent", "failed", "bounced")


def delivery_log(engine: CampaignEngine, delivery: int | str, *, status: str | None = None, limit: int = 100,
                 offset: int = 0) -> dict[str, Any]:  # fmt: skip
    """The send log of a delivery: `counts` by status (every status, zeros too), `total` rows (of `status` when
    given), and `limit` rows from `offset` in the order they were logged."""
    if status is not None and status not in STATUSES:
        raise CampaignInputError(f"status {status!r}: one of {', '.join(STATUSES)}", field="status")
    if not 1 <= limit <= 1000 or offset < 0:
        raise CampaignInputError("limit is 1 to 1000 and offset 0 or more", field="limit")
    found = get_delivery(engine, delivery)
    where = [BroadLogRecord.delivery_id == found["id"]]
    if status is not None:
        where.append(BroadLogRecord.status == status)
    with engine.database.session() as session:
        by_status = dict(session.execute(select(BroadLogRecord.status, func.count())
                                         .where(BroadLogRecord.delivery_id == found["id"])
                                         .group_by(BroadLogRecord.status)).all())  # fmt: skip
        query = (
            select(BroadLogRecord, RecipientRecord.external_id)
            .join(RecipientRecord, RecipientRecord.id == BroadLogRecord.recipient_id)
            .where(*where)
            .order_by(BroadLogRecord.id)
            .limit(limit)
            .offset(offset)
        )
        rows = [{"id": row.id, "externalId": external_id, "email": row.email, "status": row.status,
                 "reason": row.reason, "attempts": row.attempts, "messageId": row.message_id,
                 "at": row.event_at.isoformat()} for row, external_id in session.execute(query)]  # fmt: skip
    counts = {s: int(by_status.get(s, 0)) for s in STATUSES}
    return {"delivery": found["name"], "state": found["state"], "counts": counts,
            "total": counts[status] if status is not None else sum(counts.values()), "rows": rows}  # fmt: skip


def recipient_deliveries(engine: CampaignEngine, recipient_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
    """The messages a recipient was sent (their send-log rows, newest delivery first, at most `limit`), each
    with how often it was opened and clicked. Read through the send log's (delivery, recipient) key, one look-up
    per delivery, never the whole log."""
    if not 1 <= limit <= 1000:
        raise CampaignInputError("limit is 1 to 1000", field="limit")
    with engine.database.session() as session:
        rows = session.execute(
            select(BroadLogRecord, DeliveryRecord.name, DeliveryRecord.label)
            .join(DeliveryRecord, DeliveryRecord.id == BroadLogRecord.delivery_id)
            .where(BroadLogRecord.delivery_id.in_(select(DeliveryRecord.id)),
                   BroadLogRecord.recipient_id == recipient_id)
            .order_by(BroadLogRecord.delivery_id.desc())
            .limit(limit)
        ).all()  # fmt: skip
        tracked: dict[tuple[int, str], int] = {}
        if rows:
            events = session.execute(
                select(TrackingLogRecord.broadlog_id, TrackingLogRecord.type, func.count())
                .where(TrackingLogRecord.broadlog_id.in_([row.id for row, _name, _label in rows]))
                .group_by(TrackingLogRecord.broadlog_id, TrackingLogRecord.type)
            ).all()
            tracked = {(broadlog_id, kind): count for broadlog_id, kind, count in events}
    return [{"id": row.id, "deliveryId": row.delivery_id, "delivery": name, "label": label, "email": row.email,
             "status": row.status, "reason": row.reason, "at": row.event_at.isoformat(),
             "opens": tracked.get((row.id, "open"), 0), "clicks": tracked.get((row.id, "click"), 0)}
            for row, name, label in rows]  # fmt: skip
