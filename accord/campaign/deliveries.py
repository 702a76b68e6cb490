"""E-mail deliveries: their templates and target, the check, the proof, and the recipients they go to.

A target is a list (`{"list": name}`: its members), an audience (`{"audience": id or name}`: the list the
import workflow made for that CDP audience), or a query (`{"query": filter}`, see queries.py). Resolving a
target leaves out, and counts, the recipients opted out of e-mail (or of everything), the addresses on the
suppression list, the addresses no mail server would take, and second recipients of one address.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from accord.campaign.engine import CampaignEngine
from accord.campaign.exceptions import CampaignInputError, DuplicateObjectError, UnknownObjectError
from accord.campaign.messages import RECIPIENT_FIELDS, DeliveryContent, MessageFactory
from accord.campaign.models import DeliveryRecord, ListMemberRecord, ListRecord, RecipientRecord, SuppressionRecord
from accord.campaign.queries import compile_filter
from accord.campaign.recipients import address_problem, normalise_address, seed_addresses
from accord.campaign.templates import compile_templates, lacks

TARGET_KINDS = ("list", "query", "audience")
EXCLUSIONS = ("optedOut", "suppressed", "badAddress", "duplicate")
EXAMPLES = 5
PROOF_PREFIX = "[PROOF] "
AMONG_SLICE = 10_000


def create_delivery(engine: CampaignEngine, name: str, *, sender: str, subject: str, target: dict[str, Any],
                    html: str = "", text: str = "", label: str = "", campaign_id: str = "",
                    campaign_name: str = "") -> dict[str, Any]:  # fmt: skip
    """A draft delivery; its templates' syntax and the target's shape are checked now (fields at `check`)."""
    problems = []
    if not name.strip() or len(name) > 255:
        problems.append("name: a delivery's name is 1 to 255 characters")
    address_issue = address_problem(parseaddr(sender)[1])
    if address_issue:
        problems.append(f"sender: {address_issue}")
    if not subject.strip():
        problems.append("subject: a delivery needs a subject")
    if not html.strip() and not text.strip():
        problems.append("html, text: a delivery needs an HTML part, a text part, or both")
    problems.extend(_target_problems(target))
    if problems:
        raise CampaignInputError(f"the delivery has {len(problems)} problem(s): {'; '.join(problems)}",
                                 problems=problems)  # fmt: skip
    compile_templates(subject, html, text)  # syntax and sandbox now; fields need the target's recipients
    with engine.database.session() as session:
        if session.scalar(select(DeliveryRecord.id).where(DeliveryRecord.name == name)) is not None:
            raise DuplicateObjectError("delivery", name)
        record = DeliveryRecord(name=name, label=label or name, campaign_id=campaign_id, campaign_name=campaign_name,
                                sender=sender, subject=subject, html=html, text=text, target=target)  # fmt: skip
        session.add(record)
        session.flush()
        return delivery_document(record)


def _target_problems(target: Any) -> list[str]:
    if not isinstance(target, dict) or len(target) != 1 or next(iter(target)) not in TARGET_KINDS:
        return ['target: one of {"list": name}, {"query": filter}, {"audience": id or name}']
    kind, value = next(iter(target.items()))
    if kind == "query":
        try:
            compile_filter(value)
        except CampaignInputError as exc:
            return [f"target.{p}" for p in exc.details.get("problems", [exc.message])]
        return []
    return [] if isinstance(value, str) and value.strip() else [f"target.{kind}: a name"]


def delivery_document(record: DeliveryRecord) -> dict[str, Any]:
    return {"id": record.id, "name": record.name, "label": record.label, "campaignId": record.campaign_id,
            "campaignName": record.campaign_name, "sender": record.sender, "subject": record.subject,
            "html": record.html, "text": record.text, "target": record.target, "state": record.state,
            "error": record.error, "counts": record.counts, "createdAt": record.created_at.isoformat(),
            "updatedAt": record.updated_at.isoformat()}  # fmt: skip


def _find(session: Session, delivery: int | str) -> DeliveryRecord:
    where = DeliveryRecord.id == delivery if isinstance(delivery, int) else DeliveryRecord.name == delivery
    record = session.scalar(select(DeliveryRecord).where(where))
    if record is None:
        raise UnknownObjectError("delivery", str(delivery), list(session.scalars(select(DeliveryRecord.name))))
    return record


def get_delivery(engine: CampaignEngine, delivery: int | str) -> dict[str, Any]:
    with engine.database.session() as session:
        return delivery_document(_find(session, delivery))


def list_deliveries(engine: CampaignEngine, *, limit: int | None = None, offset: int = 0,
                    newest_first: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    """The deliveries in the order they were made (`newest_first`: the other way), `limit` of them from
    `offset` when given."""
    order = DeliveryRecord.id.desc() if newest_first else DeliveryRecord.id
    with engine.database.session() as session:
        query = select(DeliveryRecord).order_by(order).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return [delivery_document(r) for r in session.scalars(query)]


def target_recipients(
    engine: CampaignEngine, delivery: int | str, among: Collection[int] | None = None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The recipients a delivery goes to, in id order, and how many were left out for each reason. `among`: these
    recipients instead of the delivery's own target (a workflow's population), with the same exclusions."""
    with engine.database.session() as session:
        record = _find(session, delivery)
        if among is None:
            conditions = [_target_condition(session, record.target)]
        else:  # in slices: databases bound the number of parameters of one statement
            ids = sorted(set(among))
            conditions = [RecipientRecord.id.in_(ids[i : i + AMONG_SLICE]) for i in range(0, len(ids), AMONG_SLICE)]
        rows: list[Any] = []
        for condition in conditions:
            query = (
                select(RecipientRecord.id, RecipientRecord.external_id, RecipientRecord.email,
                       RecipientRecord.first_name, RecipientRecord.last_name, RecipientRecord.phone,
                       RecipientRecord.custom, or_(RecipientRecord.black_list_email, RecipientRecord.black_list),
                       SuppressionRecord.email)
                .outerjoin(SuppressionRecord, SuppressionRecord.email == func.lower(func.trim(RecipientRecord.email)))
                .where(condition)
                .order_by(RecipientRecord.id)
            )  # fmt: skip
            rows.extend(session.execute(query).all())
    excluded = dict.fromkeys(EXCLUSIONS, 0)
    recipients: list[dict[str, Any]] = []
    seen: set[str] = set()
    for id_, external_id, email, first, last, phone, custom, opted_out, suppressed in rows:
        reason = _exclusion(email, opted_out, suppressed, seen)
        if reason:
            excluded[reason] += 1
            continue
        recipients.append({"id": id_, "externalId": external_id, "email": email.strip(), "firstName": first,
                           "lastName": last, "phone": phone, "custom": custom or {}})  # fmt: skip
    return recipients, excluded


def _exclusion(email: str | None, opted_out: bool, suppressed: str | None, seen: set[str]) -> str | None:
    if opted_out:
        return "optedOut"
    if suppressed is not None:
        return "suppressed"
    if address_problem(email):
        return "badAddress"
    address = normalise_address(email or "")
    if address in seen:
        return "duplicate"
    seen.add(address)
    return None


def _target_condition(session: Session, target: dict[str, Any]) -> ColumnElement[bool]:
    kind, value = next(iter(target.items()))
    if kind == "query":
        return compile_filter(value)
    by_audience = or_(ListRecord.audience_id == value, ListRecord.name == value)
    where = ListRecord.name == value if kind == "list" else by_audience
    found = session.scalars(select(ListRecord.id).where(where).order_by(ListRecord.audience_id == value)).all()
    if not found:
        raise UnknownObjectError("list" if kind == "list" else "audience's list", value,
                                 list(session.scalars(select(ListRecord.name))))  # fmt: skip
    members = select(ListMemberRecord.recipient_id).where(ListMemberRecord.list_id == found[-1],
                                                           ListMemberRecord.status == "member")  # fmt: skip
    return RecipientRecord.id.in_(members)


def check_delivery(engine: CampaignEngine, delivery: int | str) -> dict[str, Any]:
    """Check the templates against the target's recipients: TemplateCheckError listing every problem, else a
    report of the target and of the recipients lacking a field the templates use (they will not be sent)."""
    content = _content(engine, delivery)
    recipients, excluded = target_recipients(engine, content.id)
    custom_fields = {name for r in recipients for name in r["custom"]}
    templates = compile_templates(content.subject, content.html, content.text, custom_fields)
    missing: dict[str, dict[str, Any]] = {}
    for name in templates.required:
        lacking = [r["externalId"] for r in recipients if lacks(r, name)]
        if lacking:
            missing[name] = {"count": len(lacking), "examples": lacking[:EXAMPLES]}
    return {"delivery": content.id, "fields": list(templates.used), "required": list(templates.required),
            "recipients": len(recipients), "excluded": excluded, "missing": missing}  # fmt: skip


def proof(engine: CampaignEngine, delivery: int | str, addresses: list[str] | None = None) -> list[EmailMessage]:
    """Proof messages to the test addresses (or `addresses`), rendered for a sample recipient of the target
    (a made-up one when none has every field), subject prefixed `[PROOF]`; the delivery is then `proofed`
    and its counts hold the check's report. Proof links are signed for no send-log row: they answer 404."""
    report = check_delivery(engine, delivery)
    targets = addresses if addresses is not None else [a["email"] for a in seed_addresses(engine, "test")]
    if not targets:
        raise CampaignInputError("no test addresses to send a proof to: add one (kind `test`) or name some",
                                 field="addresses")  # fmt: skip
    bad = [f"{a!r}: {address_problem(a)}" for a in targets if address_problem(a)]
    if bad:
        raise CampaignInputError(f"bad test address(es): {'; '.join(bad)}", field="addresses")
    content = _content(engine, delivery)
    settings = engine.settings
    factory = MessageFactory(content, engine.tracking_key(), settings.campaign_public_url,
                             settings.campaign_instance, settings.campaign_unsubscribe_mailto)  # fmt: skip
    sample = _sample(engine, content.id, factory.required, factory.custom_used)
    messages = []
    for address in targets:
        message = factory.render({**sample, "email": address}, 0)
        subject = str(message["Subject"])
        del message["Subject"]
        message["Subject"] = PROOF_PREFIX + subject
        messages.append(message)
    with engine.database.session() as session:
        record = _find(session, content.id)
        record.state, record.counts = "proofed", {**(record.counts or {}), "proof": report}
    return messages


def _sample(engine: CampaignEngine, delivery_id: int, required: tuple[str, ...], custom: tuple[str, ...]
            ) -> dict[str, Any]:  # fmt: skip
    recipients, _excluded = target_recipients(engine, delivery_id)
    for recipient in recipients:
        if not any(lacks(recipient, name) for name in required):
            return recipient
    return made_up_recipient(custom)


def made_up_recipient(custom: Iterable[str]) -> dict[str, Any]:
    """A recipient with every field, made up: each custom field's value is its own name in angle brackets."""
    made_up = dict(zip(RECIPIENT_FIELDS, ("proof", "proof@example.com", "Ada", "Lovelace", "+15550100"), strict=True))
    return {**made_up, "id": 0, "custom": {name: f"<{name}>" for name in custom}}


def preview_delivery(engine: CampaignEngine, delivery: int | str) -> dict[str, Any]:
    """The delivery's subject, HTML and text as its templates render them for a made-up recipient (no one's
    data is shown, and no recipient is read): links as written, without the tracking a sent message gets, and
    `unsubscribe_url` pointing nowhere. The HTML is the delivery author's: show it only where it cannot run
    (a sandboxed frame of its own)."""
    content = _content(engine, delivery)
    templates = compile_templates(content.subject, content.html, content.text)
    sample = made_up_recipient(name[7:] for name in templates.used if name.startswith("custom."))
    view = {**{name: sample[name] for name in RECIPIENT_FIELDS}, "custom": sample["custom"]}
    context = {"recipient": view, "unsubscribe_url": "#unsubscribe"}
    try:
        subject = " ".join(templates.subject.render(context).split())
        html, text = templates.html.render(context), templates.text.render(context)
    except TemplateError as exc:  # what the check cannot see: a sandbox refusal through a filter, ...
        raise CampaignInputError(f"the delivery's templates failed for the preview: {exc}", field="templates") from exc
    return {"delivery": content.id, "subject": subject, "html": html, "text": text}


def _content(engine: CampaignEngine, delivery: int | str) -> DeliveryContent:
    with engine.database.session() as session:
        record = _find(session, delivery)
        return DeliveryContent(record.id, record.sender, record.subject, record.html, record.text)
