"""The instance at a glance, and how its messages fared: counts that the engine's tables already hold, and the
engagement of its deliveries (sent, bounced, opened, clicked, unsubscribed) by day, aggregated by the database
from the send log (broadLog) and the tracking log, never read row by row.

Engagement is counted by the day a message was sent (its send-log row's last change): of the messages sent
that day, how many bounced, and how many were opened, clicked or unsubscribed from since, each message counted
once however often it was opened. Rates are of the messages that reached the server (`sent`), bounces of all
that were tried (`sent` and `bounced`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select

from accord.campaign.deliveries import get_delivery
from accord.campaign.engine import CampaignEngine
from accord.campaign.exceptions import CampaignInputError
from accord.campaign.models import (
    BroadLogRecord,
    DeliveryRecord,
    ListRecord,
    RecipientRecord,
    TrackingLogRecord,
    WorkflowRecord,
)
from accord.catalog import utcnow

SENT_STATUSES = ("sent", "bounced", "failed")
"""The send log's final statuses, counted by the day they were reached."""
TRACKED = ("open", "click", "unsubscribe")
"""The tracking log's events, counted once per message."""
FIGURES = ("sent", "bounced", "failed", "opened", "clicked", "unsubscribed")
RATES = ("delivered", "bounced", "opened", "clicked", "unsubscribed")
_FIGURE_OF = {"open": "opened", "click": "clicked", "unsubscribe": "unsubscribed"}
MAX_DAYS = 366
LATEST = 5


def campaign_summary(engine: CampaignEngine) -> dict[str, Any]:
    """How many recipients, lists, workflows and deliveries the instance holds, and its latest deliveries
    (without their templates). Counts only: nothing is read row by row."""
    with engine.database.session() as session:
        counts = {name: session.scalar(select(func.count()).select_from(table)) or 0
                  for name, table in (("recipients", RecipientRecord), ("lists", ListRecord),
                                      ("workflows", WorkflowRecord), ("deliveries", DeliveryRecord))}  # fmt: skip
        latest = session.execute(
            select(DeliveryRecord.id, DeliveryRecord.name, DeliveryRecord.label, DeliveryRecord.state,
                   DeliveryRecord.counts, DeliveryRecord.updated_at)
            .order_by(DeliveryRecord.id.desc()).limit(LATEST)
        ).all()  # fmt: skip
    return {**counts, "latestDeliveries": [
        {"id": id_, "name": name, "label": label, "state": state, "sent": int((sent or {}).get("sent") or 0),
         "updatedAt": updated.isoformat()} for id_, name, label, state, sent, updated in latest]}  # fmt: skip


def engagement(engine: CampaignEngine, *, days: int | None = 30, delivery: int | str | None = None,
               now: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    """How the messages sent in the last `days` days (None: ever) fared, of one delivery when given: `totals`
    and `rates` over the whole period, and `byDay`, one entry per day on which anything was sent (oldest first),
    each with its figures and rates. Rates are fractions (0 to 1), None where nothing was sent."""
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise CampaignInputError(f"days is 1 to {MAX_DAYS}", field="days")
    where: list[ColumnElement[bool]] = []
    since = None
    if days is not None:
        today = (now or utcnow()).astimezone(UTC).date()
        since = datetime.combine(today - timedelta(days=days - 1), time(), tzinfo=UTC)
        where.append(BroadLogRecord.event_at >= since)
    if delivery is not None:
        where.append(BroadLogRecord.delivery_id == get_delivery(engine, delivery)["id"])
    day = _day_of(engine, BroadLogRecord.event_at)
    figures: dict[date, dict[str, int]] = {}
    with engine.database.session() as session:
        statuses = session.execute(
            select(day, BroadLogRecord.status, func.count())
            .where(*where, BroadLogRecord.status.in_(SENT_STATUSES))
            .group_by(day, BroadLogRecord.status)
        ).all()
        tracked = session.execute(
            select(day, TrackingLogRecord.type, func.count(func.distinct(TrackingLogRecord.broadlog_id)))
            .join(BroadLogRecord, BroadLogRecord.id == TrackingLogRecord.broadlog_id)
            .where(*where, TrackingLogRecord.type.in_(TRACKED))
            .group_by(day, TrackingLogRecord.type)
        ).all()
    for when, status, count in statuses:
        _figures_of(figures, when)[status] += count
    for when, kind, count in tracked:
        _figures_of(figures, when)[_FIGURE_OF[kind]] += count
    totals = {name: sum(f[name] for f in figures.values()) for name in FIGURES}
    by_day = [{"day": when.isoformat(), **f, "rates": rates(f)} for when, f in sorted(figures.items())]
    return {"since": since.isoformat() if since is not None else None, "days": days, "totals": totals,
            "rates": rates(totals), "byDay": by_day}  # fmt: skip


def rates(figures: dict[str, int]) -> dict[str, float | None]:
    """The rates of a day's or a period's figures: of the messages sent, those opened, clicked and
    unsubscribed from; of those tried, those sent (`delivered`) and those bounced."""
    sent, tried = figures["sent"], figures["sent"] + figures["bounced"]
    return {
        "delivered": sent / tried if tried else None,
        "bounced": figures["bounced"] / tried if tried else None,
        **{name: figures[name] / sent if sent else None for name in ("opened", "clicked", "unsubscribed")},
    }


def _day_of(engine: CampaignEngine, moment: Any) -> ColumnElement[Any]:
    """The UTC day of a time column, as the database computes it (PostgreSQL's in its session's zone)."""
    if engine.database.engine.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", moment))
    return func.date(moment)


def _figures_of(figures: dict[date, dict[str, int]], when: Any) -> dict[str, int]:
    # SQLite's date() answers text, PostgreSQL's a date
    key = when if isinstance(when, date) else date.fromisoformat(str(when))
    return figures.setdefault(key, dict.fromkeys(FIGURES, 0))
