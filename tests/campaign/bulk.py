"""What the sending tests mail with until the `mail` part's renderer and targeting are joined: a small real
renderer (a plain message with the headers the tests check), recipients and deliveries made in bulk."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from sqlalchemy import insert, select

from accord.campaign.engine import CampaignEngine
from accord.campaign.exceptions import MissingFieldError
from accord.campaign.models import DeliveryRecord, RecipientRecord


class PlainRenderer:
    """Hello <first name>, with an unsubscribe header; refuses a recipient without a first name."""

    def __init__(self, engine: CampaignEngine, delivery_id: int) -> None:
        with engine.database.session() as session:
            delivery = session.get(DeliveryRecord, delivery_id)
            assert delivery is not None
            self.sender, self.subject = delivery.sender, delivery.subject

    def render(self, recipient: dict[str, Any], broadlog_id: int) -> EmailMessage:
        if not recipient.get("firstName"):
            raise MissingFieldError("firstName", recipient.get("externalId"))
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = recipient["email"]
        message["Subject"] = f"{self.subject}, {recipient['firstName']}"
        message["List-Unsubscribe"] = f"<http://127.0.0.1/u/{broadlog_id}>"
        message.set_content(f"Hello {recipient['firstName']} ({recipient['externalId']})\n")
        return message


def add_recipients(engine: CampaignEngine, count: int, prefix: str = "r", *, domain: str = "example.com",
                   first_name: str | None = "Ann") -> list[dict[str, Any]]:  # fmt: skip
    """`count` recipients `<prefix><n>@<domain>`, as targeting hands them to sending."""
    rows = [{"external_id": f"{prefix}{n}", "email": f"{prefix}{n}@{domain}", "first_name": first_name,
             "last_name": "Lee", "custom": {}} for n in range(count)]  # fmt: skip
    with engine.database.session() as session:
        session.execute(insert(RecipientRecord), rows)
    return targeted(engine, prefix)


def targeted(engine: CampaignEngine, prefix: str = "") -> list[dict[str, Any]]:
    """Recipients whose external id starts with `prefix`, as dicts of the `recipient` target mapping."""
    with engine.database.session() as session:
        records = session.scalars(select(RecipientRecord).where(RecipientRecord.external_id.startswith(prefix))
                                  .order_by(RecipientRecord.id))  # fmt: skip
        return [{"id": r.id, "externalId": r.external_id, "email": r.email, "firstName": r.first_name,
                 "lastName": r.last_name, "phone": r.phone, "custom": r.custom} for r in records]  # fmt: skip


def everyone(engine: CampaignEngine, delivery_id: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """A targeting for `python -m accord.campaign.sending --target`: every recipient, none excluded."""
    return targeted(engine), {}


def create_delivery(engine: CampaignEngine, name: str = "welcome", sender: str = "Shop <news@shop.example>") -> int:
    with engine.database.session() as session:
        record = DeliveryRecord(name=name, sender=sender, subject="Welcome", html="", text="", target={})
        session.add(record)
        session.flush()
        return record.id
