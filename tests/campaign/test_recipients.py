"""Recipients and lists as people browse them: a page of recipients found by the start of their address or
external id (through the indexes, on SQLite and PostgreSQL), a list with a page of its members, a recipient's
subscriptions and the messages they were sent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text, update

from accord.campaign import (
    CampaignEngine,
    create_delivery,
    get_list,
    get_recipient,
    list_recipients,
    recipient_deliveries,
    recipient_lists,
    set_opt_out,
)
from accord.campaign.exceptions import CampaignInputError, UnknownObjectError
from accord.campaign.models import BroadLogRecord, ListMemberRecord, TrackingLogRecord
from accord.settings import Settings
from accord.workspace import initialise
from tests.campaign.mailing import PEOPLE, add_recipients
from tests.databases import PostgresServer


@pytest.fixture
def engine(settings: Settings) -> Iterator[CampaignEngine]:
    initialise(settings)
    engine = CampaignEngine.open(settings)
    yield engine
    engine.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest, settings: Settings) -> Iterator[CampaignEngine]:
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database(f"campaign_recipients_{uuid.uuid4().hex[:12]}")
        settings = settings.model_copy(update={"campaign_database_url": url})
    initialise(settings)
    engine = CampaignEngine.open(settings)
    yield engine
    engine.close()


def test_recipients_are_found_by_the_start_of_their_address_or_external_id(any_engine: CampaignEngine) -> None:
    engine = any_engine
    more = [{"external_id": "X%1", "email": "Zoe@Example.com"}, {"external_id": "B7", "email": "b_o@example.com"}]
    add_recipients(engine, PEOPLE + more)

    def found(search: str | None, **page: int) -> tuple[int, list[str]]:
        answer = list_recipients(engine, search=search, **page)
        return answer["total"], [r["externalId"] for r in answer["recipients"]]

    assert found(None) == (5, ["C1", "C2", "C3", "X%1", "B7"])
    assert found("bo") == (1, ["C2"])
    assert found("C") == (3, ["C1", "C2", "C3"]) and found("C", limit=2, offset=1) == (3, ["C2", "C3"])
    assert found("c") == (1, ["C3"])  # cy@example.org: lower case finds no upper-case external id
    assert found("Zoe@") == (1, ["X%1"]) and found("zoe") == (0, [])  # as typed, or lower case: not both ways
    assert found("X%") == (1, ["X%1"]) and found("%") == (0, [])  # no wildcards
    assert found("b_") == (1, ["B7"]) and found("  ") == (5, ["C1", "C2", "C3", "X%1", "B7"])
    assert found("example.com") == (0, [])  # the start, not any part


def test_the_search_reads_an_index_not_every_recipient(engine: CampaignEngine) -> None:
    add_recipients(engine, PEOPLE)
    from sqlalchemy import func, select
    from sqlalchemy.dialects import sqlite

    from accord.campaign.models import RecipientRecord
    from accord.campaign.recipients import _starting_with

    query = select(func.count()).select_from(RecipientRecord).where(_starting_with(engine, "ann"))
    compiled = query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    with engine.database.engine.connect() as connection:
        plan = " ".join(str(row[-1]) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "SCAN" not in plan.replace("SCAN CONSTANT", "") and "INDEX" in plan, plan


def test_a_recipient_is_read_and_opted_out_by_id_or_external_id(engine: CampaignEngine) -> None:
    ids = add_recipients(engine, PEOPLE)
    assert get_recipient(engine, ids[1])["externalId"] == "C2" and get_recipient(engine, "C2")["id"] == ids[1]
    assert set_opt_out(engine, ids[0], "email")["blackListEmail"] is True
    assert set_opt_out(engine, "C1", "email", False)["blackListEmail"] is False
    with pytest.raises(UnknownObjectError, match="no recipient '999'"):
        get_recipient(engine, 999)
    with pytest.raises(UnknownObjectError):
        set_opt_out(engine, "999", "email")  # an external id, not an id


def test_a_list_shows_its_size_and_a_page_of_its_confirmed_members(engine: CampaignEngine) -> None:
    ids = add_recipients(engine, PEOPLE, "news")
    with engine.database.session() as session:
        session.execute(update(ListMemberRecord).where(ListMemberRecord.recipient_id == ids[0])
                        .values(status="pending"))  # fmt: skip
    by_name = get_list(engine, "news", limit=1)
    assert by_name["members"] == 2 and [r["externalId"] for r in by_name["recipients"]] == ["C2"]
    by_id = get_list(engine, by_name["id"], limit=5, offset=1)
    assert by_id["name"] == "news" and [r["externalId"] for r in by_id["recipients"]] == ["C3"]
    with pytest.raises(UnknownObjectError, match="no list 'newz'; did you mean news"):
        get_list(engine, "newz")
    with pytest.raises(CampaignInputError, match="limit is 1 to 1000"):
        get_list(engine, "news", limit=0)
    assert [(x["name"], x["status"]) for x in recipient_lists(engine, ids[0])] == [("news", "pending")]
    assert recipient_lists(engine, 999) == []


def test_a_recipient_s_deliveries_come_newest_first_with_their_opens_and_clicks(engine: CampaignEngine) -> None:
    ids = add_recipients(engine, PEOPLE, "all")
    made = [create_delivery(engine, name, sender="news@shop.example", subject="Hi", text="Hello",
                            target={"list": "all"})["id"] for name in ("first", "second", "third")]  # fmt: skip
    at = datetime(2026, 11, 30, tzinfo=UTC)
    with engine.database.session() as session:
        rows = [BroadLogRecord(delivery_id=d, recipient_id=ids[0], email="ann@example.com", status="sent", event_at=at)
                for d in made[:2]] + [BroadLogRecord(delivery_id=made[2], recipient_id=ids[1],
                                                     email="bob@example.com", status="sent")]  # fmt: skip
        session.add_all(rows)
        session.flush()
        session.add_all(TrackingLogRecord(broadlog_id=rows[0].id, delivery_id=made[0], recipient_id=ids[0], type=kind)
                        for kind in ("open", "open", "click"))  # fmt: skip
    found = recipient_deliveries(engine, ids[0])
    assert [(x["delivery"], x["status"], x["opens"], x["clicks"]) for x in found] == [
        ("second", "sent", 0, 0), ("first", "sent", 2, 1)]  # fmt: skip
    assert len(recipient_deliveries(engine, ids[0], limit=1)) == 1 and recipient_deliveries(engine, ids[2]) == []
