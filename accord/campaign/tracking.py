"""The tracking log: opens, clicks and unsubscribes, from signed links (see tokens.py).

A click token names a send-log row and the link's index in that message. The URL it redirects to is found
again by rendering that recipient's message from the delivery's templates (messages.MessageFactory.links):
only a link that was in that message can be a redirect's target, and nothing per message is stored. A
delivery's templates are therefore not edited once it has been sent (a new delivery is made instead).

Every refusal is the same TrackingLinkError (404), whatever was wrong with the link.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accord.campaign import tokens
from accord.campaign.engine import CampaignEngine
from accord.campaign.exceptions import CampaignInputError, TrackingLinkError
from accord.campaign.messages import DeliveryContent, MessageFactory
from accord.campaign.models import (
    BroadLogRecord,
    DeliveryRecord,
    RecipientRecord,
    SuppressionRecord,
    TrackingLogRecord,
)
from accord.campaign.recipients import normalise_address

USER_AGENT_CHARS = 1000


def record_open(engine: CampaignEngine, token: str, user_agent: str = "") -> None:
    """Log an open of the message whose pixel this token is."""
    (broadlog_id,) = tokens.verify(engine.tracking_key(), "o", token, 1)
    with engine.database.session() as session:
        row = _broadlog(session, broadlog_id)
        session.add(_event(row, "open", "", user_agent))


def record_click(engine: CampaignEngine, token: str, user_agent: str = "") -> str:
    """Log a click and return the URL that was at the token's link index in that message."""
    broadlog_id, index = tokens.verify(engine.tracking_key(), "c", token, 2)
    with engine.database.session() as session:
        row = _broadlog(session, broadlog_id)
        delivery = session.get(DeliveryRecord, row.delivery_id)
        recipient = session.get(RecipientRecord, row.recipient_id)
        if delivery is None or recipient is None:
            raise TrackingLinkError()
        content = DeliveryContent(delivery.id, delivery.sender, delivery.subject, delivery.html, delivery.text)
        document = {"id": recipient.id, "externalId": recipient.external_id, "email": row.email,
                    "firstName": recipient.first_name, "lastName": recipient.last_name, "phone": recipient.phone,
                    "custom": recipient.custom or {}}  # fmt: skip
        try:
            links = _factory(content, engine).links(document, broadlog_id)
        except CampaignInputError as exc:  # the recipient no longer has a field the message used
            raise TrackingLinkError() from exc
        if index >= len(links):
            raise TrackingLinkError()
        session.add(_event(row, "click", links[index], user_agent))
        return links[index]


def unsubscription(engine: CampaignEngine, token: str) -> dict[str, Any]:
    """Who an unsubscribe link is for (the address partly hidden), for the page that asks to confirm."""
    (broadlog_id,) = tokens.verify(engine.tracking_key(), "u", token, 1)
    with engine.database.session() as session:
        row = _broadlog(session, broadlog_id)
        opted_out = session.scalar(
            select(RecipientRecord.black_list_email).where(RecipientRecord.id == row.recipient_id)
        )
        return {"email": mask(row.email), "unsubscribed": bool(opted_out)}


def unsubscribe(engine: CampaignEngine, token: str, user_agent: str = "") -> dict[str, Any]:
    """Opt the recipient out of e-mail, suppress the address, and log one `unsubscribe` per recipient (the
    first time); again it changes nothing."""
    (broadlog_id,) = tokens.verify(engine.tracking_key(), "u", token, 1)
    try:
        return _unsubscribe(engine, broadlog_id, user_agent)
    except IntegrityError:  # a second request for the same address committed first: it is done
        return _unsubscribe(engine, broadlog_id, user_agent)


def _unsubscribe(engine: CampaignEngine, broadlog_id: int, user_agent: str) -> dict[str, Any]:
    with engine.database.session() as session:
        row = _broadlog(session, broadlog_id)
        # The opt-out flag is the lock: of requests at once, the one whose update changed it logs the event
        opt_out = (
            update(RecipientRecord)
            .where(RecipientRecord.id == row.recipient_id, RecipientRecord.black_list_email.is_(False))
            .values(black_list_email=True)
        )
        changed = cast(CursorResult[Any], session.execute(opt_out)).rowcount == 1
        address = normalise_address(row.email)
        if session.get(SuppressionRecord, address) is None:
            session.add(SuppressionRecord(email=address, reason="unsubscribed", detail=f"broadlog {row.id}"))
        # Opted out some other way before (no unsubscribe logged yet): log it, so that the consent reaches the
        # CDP. A request that lost the update above waited for the winner's commit, so it sees the winner's row
        logged = select(TrackingLogRecord.id).where(TrackingLogRecord.recipient_id == row.recipient_id,
                                                    TrackingLogRecord.type == "unsubscribe").limit(1)  # fmt: skip
        first = changed or session.scalar(logged) is None
        if first:
            session.add(_event(row, "unsubscribe", "", user_agent))
        return {"email": mask(row.email), "unsubscribed": True, "already": not first}


def mask(address: str) -> str:
    """`a***@example.com`: enough for its owner to recognise, little for anyone else."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def _broadlog(session: Session, broadlog_id: int) -> BroadLogRecord:
    row = session.get(BroadLogRecord, broadlog_id)
    if row is None:
        raise TrackingLinkError()
    return row


def _event(row: BroadLogRecord, kind: str, url: str, user_agent: str) -> TrackingLogRecord:
    return TrackingLogRecord(broadlog_id=row.id, delivery_id=row.delivery_id, recipient_id=row.recipient_id,
                             type=kind, url=url, user_agent=user_agent[:USER_AGENT_CHARS])  # fmt: skip


def _factory(content: DeliveryContent, engine: CampaignEngine) -> MessageFactory:
    settings = engine.settings
    return _cached_factory(content, engine.tracking_key(), settings.campaign_public_url, settings.campaign_instance)


@lru_cache(maxsize=64)
def _cached_factory(content: DeliveryContent, key: bytes, public_url: str, instance: str) -> MessageFactory:
    """A delivery's compiled templates, kept between clicks (a delivery's links are followed in bursts)."""
    return MessageFactory(content, key, public_url, instance)
