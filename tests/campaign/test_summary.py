"""The instance at a glance and the engagement of its deliveries by day, counted by the database from the send
and tracking logs (on SQLite and PostgreSQL, which compute days each their own way)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from accord.campaign import CampaignEngine, campaign_summary, create_delivery, engagement
from accord.campaign.exceptions import CampaignInputError, UnknownObjectError
from accord.campaign.models import BroadLogRecord, DeliveryRecord, TrackingLogRecord
from accord.settings import Settings
from accord.workspace import initialise
from tests.campaign.mailing import PEOPLE, add_recipients
from tests.databases import PostgresServer

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest, settings: Settings) -> Iterator[CampaignEngine]:
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database(f"campaign_summary_{uuid.uuid4().hex[:12]}")
        settings = settings.model_copy(update={"campaign_database_url": url})
    initialise(settings)
    engine = CampaignEngine.open(settings)
    yield engine
    engine.close()


def delivery(engine: CampaignEngine, name: str) -> int:
    return int(create_delivery(engine, name, sender="news@shop.example", subject="Hi", text="Hello",
                               target={"list": "all"})["id"])  # fmt: skip


def logged(engine: CampaignEngine, delivery_id: int, rows: list[tuple[int, str, datetime]],
           events: list[tuple[int, str]]) -> list[int]:  # fmt: skip
    """Send-log rows (recipient, status, when) and tracking events (the row's position, type); the rows' ids."""
    with engine.database.session() as session:
        records = [BroadLogRecord(delivery_id=delivery_id, recipient_id=r, email=f"r{r}@example.com", status=s,
                                  event_at=at) for r, s, at in rows]  # fmt: skip
        session.add_all(records)
        session.flush()
        ids = [r.id for r in records]
        session.add_all(TrackingLogRecord(broadlog_id=ids[i], delivery_id=delivery_id, recipient_id=rows[i][0],
                                          type=kind, event_at=NOW) for i, kind in events)  # fmt: skip
    return ids


def test_engagement_counts_each_message_once_by_the_day_it_was_sent(any_engine: CampaignEngine) -> None:
    engine = any_engine
    people = add_recipients(engine, PEOPLE, "all")
    spring, autumn = delivery(engine, "spring"), delivery(engine, "autumn")
    yesterday, long_ago = NOW - timedelta(days=1, hours=9, minutes=30), NOW - timedelta(days=60)  # 00:30 UTC
    logged(engine, spring, [(people[0], "sent", yesterday), (people[1], "sent", yesterday),
                            (people[2], "bounced", yesterday)],
           [(0, "open"), (0, "open"), (0, "click"), (1, "open"), (1, "unsubscribe")])  # fmt: skip
    logged(engine, autumn, [(people[0], "sent", NOW), (people[1], "failed", NOW), (people[2], "pending", NOW)],
           [(0, "click")])  # fmt: skip
    logged(engine, delivery(engine, "old"), [(people[0], "sent", long_ago)], [(0, "open")])

    found = engagement(engine, days=30, now=NOW)
    assert found["totals"] == {"sent": 3, "bounced": 1, "failed": 1, "opened": 2, "clicked": 2, "unsubscribed": 1}
    assert [(d["day"], d["sent"], d["bounced"], d["opened"], d["clicked"]) for d in found["byDay"]] == [
        ("2026-11-29", 2, 1, 2, 1), ("2026-11-30", 1, 0, 0, 1)]  # fmt: skip
    first = found["byDay"][0]["rates"]
    assert first == {"delivered": 2 / 3, "bounced": 1 / 3, "opened": 1.0, "clicked": 0.5, "unsubscribed": 0.5}
    assert found["rates"]["opened"] == 2 / 3 and found["since"].startswith("2026-11-01")

    one = engagement(engine, days=30, delivery="autumn", now=NOW)
    assert one["totals"] == {"sent": 1, "bounced": 0, "failed": 1, "opened": 0, "clicked": 1, "unsubscribed": 0}
    longer = engagement(engine, days=90, now=NOW)
    assert longer["totals"]["sent"] == 4 and longer["byDay"][0]["day"] == "2026-10-01"
    ever = engagement(engine, days=None, delivery="old", now=NOW)
    assert ever["since"] is None and ever["totals"]["sent"] == ever["totals"]["opened"] == 1


def test_engagement_of_nothing_sent_has_no_rates(any_engine: CampaignEngine) -> None:
    found = engagement(any_engine, now=NOW)
    assert found["byDay"] == [] and set(found["rates"].values()) == {None} and found["totals"]["sent"] == 0
    with pytest.raises(CampaignInputError, match="days is 1 to 366"):
        engagement(any_engine, days=0)
    with pytest.raises(UnknownObjectError, match="no delivery 'nothing'"):
        engagement(any_engine, delivery="nothing")


def test_the_summary_counts_what_the_instance_holds(settings: Settings) -> None:
    initialise(settings)
    engine = CampaignEngine.open(settings)
    try:
        add_recipients(engine, PEOPLE, "all")
        first = delivery(engine, "first")
        for number in range(6):
            delivery(engine, f"d{number}")
        logged(engine, first, [(1, "sent", NOW)], [])
        with engine.database.session() as session:
            session.execute(update(DeliveryRecord).where(DeliveryRecord.name == "d5")
                            .values(state="sent", counts={"sent": 4, "failed": 0}))  # fmt: skip
        found = campaign_summary(engine)
        assert (found["recipients"], found["lists"], found["workflows"], found["deliveries"]) == (3, 1, 2, 7)
        assert [(d["name"], d["state"], d["sent"]) for d in found["latestDeliveries"]] == [
            ("d5", "sent", 4),
            ("d4", "draft", 0),
            ("d3", "draft", 0),
            ("d2", "draft", 0),
            ("d1", "draft", 0),
        ]
        assert set(found["latestDeliveries"][0]) == {"id", "name", "label", "state", "sent", "updatedAt"}
    finally:
        engine.close()
