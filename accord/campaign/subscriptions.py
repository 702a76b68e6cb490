"""Double opt-in for subscription lists: a subscriber is `pending` until they follow the signed link of the
confirmation message; only then a `member` whom deliveries to the list reach.

`subscribe` returns the confirmation message; the sending pipeline sends it like any other message.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from sqlalchemy import func, select

from accord.campaign import tokens
from accord.campaign.engine import RECIPIENT_COLUMNS, CampaignEngine
from accord.campaign.exceptions import CampaignInputError, DuplicateObjectError, TrackingLinkError, UnknownObjectError
from accord.campaign.models import ListMemberRecord, ListRecord, RecipientRecord, SuppressionRecord
from accord.campaign.recipients import address_problem, normalise_address
from accord.campaign.tracking import mask

_COLUMNS = {"externalId": "external_id", "firstName": "first_name", "lastName": "last_name", "phone": "phone"}
MAX_CUSTOM_FIELDS = 20


def subscribe(engine: CampaignEngine, list_name: str, email: str, fields: dict[str, Any] | None = None,
              *, sender: str | None = None) -> EmailMessage:  # fmt: skip
    """Add `email` to a double opt-in list as `pending` (its recipient found by address, or made from
    `fields`), and return the confirmation message to send it. A suppressed address is refused."""
    problem = address_problem(email)
    if problem:
        raise CampaignInputError(problem, field="email")
    address = normalise_address(email)
    fields = _checked_fields(fields or {})
    with engine.database.session() as session:
        record = session.scalar(select(ListRecord).where(ListRecord.name == list_name))
        if record is None:
            raise UnknownObjectError("list", list_name, list(session.scalars(select(ListRecord.name))))
        if not record.double_opt_in:
            raise CampaignInputError(f"list {list_name!r} is not a subscription list (double opt-in)", field="list")
        suppressed = session.get(SuppressionRecord, address)
        if suppressed is not None:
            raise CampaignInputError(f"{mask(address)} is on the suppression list ({suppressed.reason}): "
                                     "it cannot subscribe", field="email")  # fmt: skip
        recipient = session.scalar(select(RecipientRecord).where(func.lower(RecipientRecord.email) == address)
                                   .order_by(RecipientRecord.id).limit(1))  # fmt: skip
        if recipient is None:
            recipient = _new_recipient(session, address, fields)
        member = session.get(ListMemberRecord, (record.id, recipient.id))
        if member is not None and member.status == "member":
            raise DuplicateObjectError(f"member of list {list_name!r}", mask(address))
        if member is None:
            session.add(ListMemberRecord(list_id=record.id, recipient_id=recipient.id, status="pending"))
        link = engine.settings.campaign_public_url.rstrip("/") + "/campaign/t/s/"
        link += tokens.sign(engine.tracking_key(), "s", record.id, recipient.id)
        label = " ".join((record.label or record.name).split())  # one header line
        return _confirmation(sender or engine.settings.campaign_sender, address, label, link)


def _checked_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = [k for k in fields if k not in _COLUMNS and k != "custom" and k != "email"]
    custom = fields.get("custom") or {}
    problems = [f"unknown field {k!r}; fields: {', '.join(RECIPIENT_COLUMNS)}, custom" for k in unknown]
    if not isinstance(custom, dict) or len(custom) > MAX_CUSTOM_FIELDS:
        problems.append(f"custom: an object of at most {MAX_CUSTOM_FIELDS} fields")
    bad = [k for k, v in fields.items() if k in _COLUMNS and not _short_text(v)]
    problems.extend(f"{k}: a text of at most 255 characters" for k in bad)
    if problems:
        raise CampaignInputError(f"the subscription has {len(problems)} problem(s): {'; '.join(problems)}",
                                 problems=problems)  # fmt: skip
    return fields


def _short_text(value: Any) -> bool:
    return value is None or (isinstance(value, str) and len(value) < 256)


def _new_recipient(session: Any, address: str, fields: dict[str, Any]) -> RecipientRecord:
    external_id = fields.get("externalId") or f"email:{address}"
    if session.scalar(select(RecipientRecord.id).where(RecipientRecord.external_id == external_id)) is not None:
        raise CampaignInputError("this externalId belongs to a recipient of another address", field="externalId")
    values = {column: fields.get(name) for name, column in _COLUMNS.items() if name != "externalId"}
    recipient = RecipientRecord(external_id=external_id, email=address, custom=dict(fields.get("custom") or {}),
                                **values)  # fmt: skip
    session.add(recipient)
    session.flush()
    return recipient


def _confirmation(sender: str, address: str, label: str, link: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = address
    message["Subject"] = f"Please confirm your subscription to {label}"
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">") or None)
    message.set_content(f"Please confirm your subscription to {label} by following this link:\n\n{link}\n\n"
                        "If you did not ask to subscribe, ignore this message: nothing more is sent.\n")  # fmt: skip
    return message


def subscription(engine: CampaignEngine, token: str) -> dict[str, Any]:
    """What a confirmation link is for, for the page that asks to confirm."""
    with engine.database.session() as session:
        record, member, address = _pending(session, engine, token)
        return {"list": record.label or record.name, "email": mask(address), "status": member.status}


def confirm_subscription(engine: CampaignEngine, token: str) -> dict[str, Any]:
    """Make the pending subscriber a member; confirming again changes nothing."""
    with engine.database.session() as session:
        record, member, address = _pending(session, engine, token)
        if session.get(SuppressionRecord, normalise_address(address)) is not None:
            raise TrackingLinkError()  # suppressed since subscribing: the link no longer works
        already = member.status == "member"
        member.status = "member"
        return {"list": record.label or record.name, "email": mask(address), "status": "member", "already": already}


def _pending(session: Any, engine: CampaignEngine, token: str) -> tuple[ListRecord, ListMemberRecord, str]:
    list_id, recipient_id = tokens.verify(engine.tracking_key(), "s", token, 2)
    member = session.get(ListMemberRecord, (list_id, recipient_id))
    record = session.get(ListRecord, list_id)
    recipient = session.get(RecipientRecord, recipient_id)
    if member is None or record is None or recipient is None or not recipient.email:
        raise TrackingLinkError()
    return record, member, recipient.email
