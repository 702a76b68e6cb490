"""Set-up shared by the tests of deliveries, messages, tracking and subscriptions: an instance with some
recipients, made through the engine's own tables (the import workflow is another part's)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from accord.campaign import CampaignEngine, create_list
from accord.campaign.models import ListMemberRecord, ListRecord, RecipientRecord

PEOPLE = [
    {
        "external_id": "C1",
        "email": "ann@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
        "custom": {"tier": "gold"},
    },
    {
        "external_id": "C2",
        "email": "bob@example.com",
        "first_name": "Bob",
        "last_name": "Ray",
        "custom": {"tier": "silver"},
    },
    {"external_id": "C3", "email": "cy@example.org", "first_name": None, "last_name": "Ng", "custom": {}},
]


def add_recipients(engine: CampaignEngine, people: list[dict[str, Any]], list_name: str | None = None) -> list[int]:
    """Store these recipients (RecipientRecord columns), members of `list_name` when given; their ids."""
    with engine.database.session() as session:
        records = [RecipientRecord(**person) for person in people]
        session.add_all(records)
        session.flush()
        ids = [r.id for r in records]
    if list_name is not None:
        with engine.database.session() as session:
            list_id = session.scalar(select(ListRecord.id).where(ListRecord.name == list_name))
        if list_id is None:
            list_id = create_list(engine, list_name)["id"]
        with engine.database.session() as session:
            session.add_all(ListMemberRecord(list_id=list_id, recipient_id=i) for i in ids)
    return ids
