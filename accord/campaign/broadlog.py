"""A delivery's send log (broadLog) as people read it: how many rows stand at each status, and the rows page
by page, with the recipient, the status, the SMTP server's reason and when it last changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from accord.campaign.deliveries import get_delivery
from accord.campaign.engine import CampaignEngine
from accord.campaign.exceptions import CampaignInputError
from accord.campaign.models import BroadLogRecord, RecipientRecord

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
