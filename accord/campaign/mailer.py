"""Messages outside a delivery's send log: proofs to the test addresses and subscription confirmations, sent
through the instance's SMTP settings like deliveries are (the same pool, pacing, retries and TLS rules), each
message's outcome said. They write no send-log row: a proof or a confirmation is no delivery."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Any

from accord.campaign.deliveries import get_delivery, proof
from accord.campaign.engine import CampaignEngine
from accord.campaign.exceptions import CampaignInputError, SmtpSecurityError, SmtpUnavailableError
from accord.campaign.smtp import BatchStopped, Envelope, Outcome, Pool, SmtpOptions
from accord.campaign.subscriptions import subscribe


def send_messages(engine: CampaignEngine, messages: Sequence[EmailMessage]) -> list[dict[str, Any]]:
    """Send each message to the addresses of its `To` header, from the address of its `From`; one outcome per
    message, in order: `to`, `status` (sent, bounced, failed), `reason`, `messageId`. Raises
    `SmtpUnavailableError` when the server cannot be reached, `SmtpSecurityError` when it refuses what the
    settings require."""
    envelopes = []
    for position, message in enumerate(messages):
        to = [address for _name, address in getaddresses(message.get_all("To", [])) if address]
        if len(to) != 1:
            raise CampaignInputError(f"message {position + 1} has {len(to)} addresses in To: it needs one", field="to")
        message_id = message["Message-ID"]
        envelopes.append(Envelope(position, parseaddr(str(message["From"] or ""))[1], to[0], message.as_bytes(),
                                  str(message_id) if message_id is not None else None))  # fmt: skip
    options = SmtpOptions.from_settings(engine.settings)
    try:
        outcomes = asyncio.run(_send(options, envelopes))
    except BatchStopped as stopped:
        if isinstance(stopped.cause, SmtpSecurityError):
            raise stopped.cause from None
        sent = sum(o.status == "sent" for o in stopped.outcomes)
        raise SmtpUnavailableError(options.server, getattr(stopped.cause, "attempts", 0), str(stopped.cause),
                                   sent) from None  # fmt: skip
    return [{"to": e.recipient, "status": o.status, "reason": o.reason, "messageId": o.message_id or e.message_id}
            for e, o in zip(envelopes, outcomes, strict=True)]  # fmt: skip


async def _send(options: SmtpOptions, envelopes: list[Envelope]) -> list[Outcome]:
    pool = Pool(options)
    try:
        return await pool.send_envelopes(envelopes)
    finally:
        await pool.close()


def send_proof(engine: CampaignEngine, delivery: int | str, addresses: list[str] | None = None) -> dict[str, Any]:
    """Render the delivery's proofs (see `deliveries.proof`: to the test addresses, or `addresses`) and send
    them; the delivery, how many went out, and each message's outcome."""
    messages = proof(engine, delivery, addresses)
    outcomes = send_messages(engine, messages)
    return {"delivery": get_delivery(engine, delivery)["name"], "subject": str(messages[0]["Subject"]),
            "sent": sum(o["status"] == "sent" for o in outcomes), "messages": outcomes}  # fmt: skip


def subscribe_and_confirm(engine: CampaignEngine, list_name: str, email: str,
                          fields: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Subscribe `email` to a double opt-in list (`pending`) and send it the confirmation message. When the
    message does not go out, the subscriber stays pending: subscribing again sends a new one."""
    message = subscribe(engine, list_name, email, fields)
    outcome = send_messages(engine, [message])[0]
    return {"list": list_name, "email": outcome["to"], "status": "pending", "confirmation": outcome}
