"""Delivery: send a delivery (made with the deliveries services) to the incoming population, through the
sending pipeline (`accord.campaign.sending.send_delivery`), which honours suppressions and never mails a
recipient twice for one delivery: a resumed run sends only to those not yet sent to."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy import select

from accord.campaign.deliveries import target_recipients
from accord.campaign.exceptions import UnknownObjectError
from accord.campaign.models import DeliveryRecord
from accord.campaign.sending import send_delivery
from accord.campaign.workflows.spec import Activity, ActivityOptions, ActivityResult, ActivitySpec, Inputs, RunContext


class DeliveryOptions(ActivityOptions):
    delivery: str = Field(min_length=1, description="The name of the delivery to send.")


class Delivery(Activity[DeliveryOptions]):
    spec = ActivitySpec(
        name="delivery",
        description="Send a delivery to the incoming recipients (or to its own target when nothing comes in).",
        options=DeliveryOptions,
        takes="anything",
    )

    def run(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        with context.engine.database.session() as session:
            delivery_id = session.scalar(select(DeliveryRecord.id).where(DeliveryRecord.name == self.options.delivery))
            if delivery_id is None:
                raise UnknownObjectError("delivery", self.options.delivery,
                                         list(session.scalars(select(DeliveryRecord.name).limit(50))))  # fmt: skip
        population = sorted(inputs.population()) if inputs.given else None
        if population is None:  # nothing comes in: the delivery's own target
            result: dict[str, Any] = send_delivery(context.engine, delivery_id)
        else:  # the incoming recipients, with the exclusions of any target (opted out, suppressed, bad addresses)
            recipients, excluded = target_recipients(context.engine, delivery_id, among=population)
            result = send_delivery(context.engine, delivery_id, recipients=recipients)
            result["excluded"] = excluded
        counts = {k: v for k, v in result.items() if isinstance(v, int) and not isinstance(v, bool)}
        return ActivityResult(counts, {"population": population or [], "delivery": self.options.delivery})
