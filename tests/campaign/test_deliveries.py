"""Deliveries: creation, targets (list, audience, query) with their exclusions, the check and the proof."""

from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from accord.campaign import CampaignEngine, add_seed_address, set_opt_out, suppress
from accord.campaign.deliveries import (
    check_delivery,
    create_delivery,
    get_delivery,
    preview_delivery,
    proof,
    target_recipients,
)
from accord.campaign.exceptions import CampaignInputError, TemplateCheckError, UnknownObjectError
from accord.campaign.models import ListMemberRecord, ListRecord
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
    """The engine on each database it supports: targets must select the same recipients on both."""
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database(f"campaign_targets_{uuid.uuid4().hex[:12]}")
        settings = settings.model_copy(update={"campaign_database_url": url})
    initialise(settings)
    engine = CampaignEngine.open(settings)
    assert engine.database.engine.dialect.name == request.param
    yield engine
    engine.close()


def make(engine: CampaignEngine, target: dict[str, object], name: str = "d", **changes: str) -> int:
    values = {"sender": "news@shop.example", "subject": "Hi {{ recipient.firstName }}",
              "html": "<p>{{ recipient.custom.tier }}</p>", "text": "Hello"} | changes  # fmt: skip
    return int(create_delivery(engine, name, target=target, **values)["id"])


def external_ids(rows: list[dict[str, object]]) -> list[object]:
    return [r["externalId"] for r in rows]


def test_a_list_target_leaves_out_opted_out_suppressed_bad_and_repeated_addresses(any_engine: CampaignEngine) -> None:
    engine = any_engine
    more = [{"external_id": "C4", "email": "dee@example.com"}, {"external_id": "C5", "email": "ed@example.com"},
            {"external_id": "C6", "email": "not-an-address"}, {"external_id": "C7", "email": " ANN@example.com"},
            {"external_id": "C8", "email": "fay@example.com", "black_list": True}]  # fmt: skip
    add_recipients(engine, PEOPLE + more, "all")
    add_recipients(engine, [{"external_id": "X1", "email": "x@example.com"}])  # not in the list
    set_opt_out(engine, "C4", "email")
    suppress(engine, "ED@example.com", "hard-bounce")
    rows, excluded = target_recipients(engine, make(engine, {"list": "all"}))
    assert external_ids(rows) == ["C1", "C2", "C3"]
    assert excluded == {"optedOut": 2, "suppressed": 1, "badAddress": 1, "duplicate": 1}
    assert rows[0] == {"id": rows[0]["id"], "externalId": "C1", "email": "ann@example.com", "firstName": "Ann",
                       "lastName": "Lee", "phone": None, "custom": {"tier": "gold"}}  # fmt: skip


def test_pending_members_of_a_list_are_not_its_target(engine: CampaignEngine) -> None:
    add_recipients(engine, PEOPLE, "news")
    with engine.database.session() as session:
        session.execute(update(ListMemberRecord).where(ListMemberRecord.recipient_id == 1).values(status="pending"))
    rows, _ = target_recipients(engine, make(engine, {"list": "news"}))
    assert external_ids(rows) == ["C2", "C3"]


def test_an_audience_target_is_the_list_its_import_made(engine: CampaignEngine) -> None:
    add_recipients(engine, PEOPLE[:2], "spring-buyers")
    with engine.database.session() as session:
        session.execute(update(ListRecord).where(ListRecord.name == "spring-buyers").values(audience_id="seg-42"))
    for target in ("seg-42", "spring-buyers"):
        rows, _ = target_recipients(engine, make(engine, {"audience": target}, name=target))
        assert external_ids(rows) == ["C1", "C2"]
    with pytest.raises(UnknownObjectError, match="no audience's list 'seg-9'"):
        target_recipients(engine, make(engine, {"audience": "seg-9"}, name="none"))


def test_a_query_target_selects_by_columns_and_custom_fields(any_engine: CampaignEngine) -> None:
    engine = any_engine
    add_recipients(engine, PEOPLE)
    gold = {"field": "custom.tier", "op": "eq", "value": "gold"}
    ng = {"field": "lastName", "op": "in", "value": ["Ng"]}
    with_b = {"field": "email", "op": "contains", "value": "b"}
    named_b = {"field": "firstName", "op": "startsWith", "value": "b"}
    cases = [
        ({"field": "email", "op": "endsWith", "value": "@EXAMPLE.com"}, ["C1", "C2"]),
        ({"not": {"field": "firstName", "op": "isNull"}}, ["C1", "C2"]),
        ({"or": [gold, ng]}, ["C1", "C3"]),
        ({"and": [with_b, named_b]}, ["C2"]),
        ({"field": "custom.tier", "op": "ne", "value": "gold"}, ["C2", "C3"]),
        ({"field": "email", "op": "contains", "value": "%"}, []),  # a LIKE wildcard is a plain character
    ]
    for number, (query, expected) in enumerate(cases):
        rows, _ = target_recipients(engine, make(engine, {"query": query}, name=f"q{number}"))
        assert external_ids(rows) == expected, query


def test_a_bad_target_is_refused_with_every_problem_and_nothing_stored(engine: CampaignEngine) -> None:
    query = {"and": [{"field": "email", "op": "like", "value": "x"}, {"field": "password", "op": "eq", "value": 1},
                     {"field": "phone", "op": "isNull", "value": "y"}]}  # fmt: skip
    with pytest.raises(CampaignInputError) as caught:
        make(engine, {"query": query}, sender="nobody", subject=" ")
    assert caught.value.details["problems"] == [
        "sender: not an e-mail address: 'nobody'",
        "subject: a delivery needs a subject",
        "target.$.and[0].op: unknown operator 'like'; operators: eq, ne, in, contains, startsWith, endsWith, "
        "isNull, notNull",
        "target.$.and[1].field: unknown field 'password'; fields: externalId, email, firstName, lastName, phone, "
        "blackListEmail, blackListMobile, blackList, custom.<name>",
        "target.$.and[2].value: `isNull` takes no value",
    ]
    with pytest.raises(UnknownObjectError):
        get_delivery(engine, "d")


def test_the_check_knows_the_targets_custom_fields_and_reports_who_lacks_a_used_field(engine: CampaignEngine) -> None:
    add_recipients(engine, PEOPLE, "all")
    delivery = make(engine, {"list": "all"}, html="<p>{{ recipient.custom.tier }} {{ recipient.custom.colour }}</p>")
    unknown = r"unknown field `recipient\.custom\.colour`: no recipient of the target"
    with pytest.raises(TemplateCheckError, match=unknown):
        check_delivery(engine, delivery)
    report = check_delivery(engine, make(engine, {"list": "all"}, name="ok"))
    assert report["recipients"] == 3 and report["required"] == ["firstName", "custom.tier"]
    assert report["missing"] == {"firstName": {"count": 1, "examples": ["C3"]},
                                 "custom.tier": {"count": 1, "examples": ["C3"]}}  # fmt: skip


def test_a_proof_goes_to_the_test_addresses_with_a_sample_recipient(engine: CampaignEngine) -> None:
    add_recipients(engine, PEOPLE[2:] + PEOPLE[:2], "all")  # the first recipient lacks a field: not the sample
    delivery = make(engine, {"list": "all"})
    with pytest.raises(CampaignInputError, match="no test addresses"):
        proof(engine, delivery)
    add_seed_address(engine, "qa@shop.example", kind="test")
    add_seed_address(engine, "copy@shop.example", kind="seed")
    messages = [email.message_from_bytes(m.as_bytes(), policy=email.policy.default) for m in proof(engine, delivery)]
    assert [(m["To"], m["Subject"]) for m in messages] == [("Ann Lee <qa@shop.example>", "[PROOF] Hi Ann")]
    stored = get_delivery(engine, delivery)
    assert stored["state"] == "proofed" and stored["counts"]["proof"]["missing"]["firstName"]["examples"] == ["C3"]


def test_a_preview_renders_the_templates_for_a_made_up_recipient_without_tracking(engine: CampaignEngine) -> None:
    add_recipients(engine, PEOPLE, "all")
    html = ('<p>Dear {{ recipient.firstName }} ({{ recipient.custom.tier }}) <a href="https://shop.example/a">a</a>'
            ' <a href="{{ unsubscribe_url }}">leave</a></p>')  # fmt: skip
    delivery = make(engine, {"list": "all"}, html=html, text="Hi {{ recipient.lastName }}")
    shown = preview_delivery(engine, delivery)
    assert shown == {"delivery": delivery, "subject": "Hi Ada", "text": "Hi Lovelace",
                     "html": '<p>Dear Ada (&lt;tier&gt;) <a href="https://shop.example/a">a</a>'
                             ' <a href="#unsubscribe">leave</a></p>'}  # fmt: skip
    assert get_delivery(engine, delivery)["state"] == "draft"  # a preview changes nothing
    with pytest.raises(UnknownObjectError):
        preview_delivery(engine, "nothing")


def test_a_proof_uses_a_made_up_recipient_when_none_has_every_field(engine: CampaignEngine) -> None:
    add_recipients(engine, PEOPLE[2:], "cy-only")  # Cy has no first name
    delivery = make(engine, {"list": "cy-only"}, html="<p>Dear {{ recipient.firstName }}</p>")
    [message] = proof(engine, delivery, ["qa@shop.example"])
    assert message["Subject"] == "[PROOF] Hi Ada" and message["To"] == "Ada Lovelace <qa@shop.example>"
    with pytest.raises(CampaignInputError, match="bad test address"):
        proof(engine, delivery, ["qa@"])
