"""Recipients, lists, seed and test addresses, and the suppression list: the people an instance may mail."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from accord.campaign.engine import CampaignEngine
from accord.campaign.exceptions import CampaignInputError, DuplicateObjectError, UnknownObjectError
from accord.campaign.models import (
    ListMemberRecord,
    ListRecord,
    RecipientRecord,
    SeedAddressRecord,
    SuppressionRecord,
)

# An address as mail servers take it: a local part of the characters RFC 5322 allows unquoted, one @,
# and a domain of dot-separated labels with a top-level part. Quoted local parts and address literals
# are legal but rare enough in marketing lists that refusing them is the kinder error.
_ADDRESS = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
SUPPRESSION_REASONS = ("unsubscribed", "hard-bounce", "complained", "manual")
CHANNELS = {"email": "black_list_email", "sms": "black_list_mobile", "all": "black_list"}


def address_problem(address: Any) -> str | None:
    """Why `address` cannot be mailed, or None when it can."""
    if not isinstance(address, str) or not address.strip():
        return "no e-mail address"
    text = address.strip()
    if len(text) > 254:
        return "an e-mail address longer than 254 characters"
    if not _ADDRESS.match(text) or len(text.split("@")[0]) > 64:
        return f"not an e-mail address: {text[:80]!r}"
    return None


def normalise_address(address: str) -> str:
    """The form suppressions are kept and compared in."""
    return address.strip().lower()


def recipient_document(record: RecipientRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "externalId": record.external_id,
        "email": record.email,
        "firstName": record.first_name,
        "lastName": record.last_name,
        "phone": record.phone,
        "custom": record.custom,
        "blackListEmail": record.black_list_email,
        "blackListMobile": record.black_list_mobile,
        "blackList": record.black_list,
        "createdAt": record.created_at.isoformat(),
        "updatedAt": record.updated_at.isoformat(),
    }


def list_recipients(engine: CampaignEngine, *, limit: int = 100, offset: int = 0,
                    search: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A page of recipients in the order they came, and how many there are; `search`: only those whose e-mail
    address or external id starts with it (as typed, or in lower case), found through their indexes."""
    where = _starting_with(engine, search.strip()) if search and search.strip() else None
    with engine.database.session() as session:
        counted = select(func.count()).select_from(RecipientRecord)
        query = select(RecipientRecord).order_by(RecipientRecord.id).limit(limit).offset(offset)
        if where is not None:
            counted, query = counted.where(where), query.where(where)
        total = session.scalar(counted) or 0
        return {"total": total, "recipients": [recipient_document(r) for r in session.scalars(query)]}


def _starting_with(engine: CampaignEngine, text: str) -> ColumnElement[bool]:
    """E-mail address or external id starting with `text` (as typed, or in lower case)."""
    prefixes = sorted({text[:320], text[:320].lower()})
    columns = (RecipientRecord.email, RecipientRecord.external_id)
    if engine.database.engine.dialect.name == "sqlite":
        # A range of each indexed column (binary order), which the indexes serve; SQLite's LIKE ignores case
        # and no index serves it: it would read every recipient
        return or_(*(and_(column >= prefix, column < prefix + "\U0010ffff") for prefix in prefixes
                     for column in columns))  # fmt: skip
    return or_(*(column.startswith(prefix, autoescape=True) for prefix in prefixes for column in columns))


def _recipient_where(recipient: int | str) -> ColumnElement[bool]:
    """A recipient by its id (a number) or its external id (text)."""
    if isinstance(recipient, int):
        return RecipientRecord.id == recipient
    return RecipientRecord.external_id == recipient


def get_recipient(engine: CampaignEngine, recipient: int | str) -> dict[str, Any]:
    """A recipient by its id, or by its external id (given as text)."""
    with engine.database.session() as session:
        record = session.scalar(select(RecipientRecord).where(_recipient_where(recipient)))
        if record is None:
            raise UnknownObjectError("recipient", str(recipient))
        return recipient_document(record)


def set_opt_out(engine: CampaignEngine, recipient: int | str, channel: str, opted_out: bool = True) -> dict[str, Any]:
    """Opt a recipient (by id, or external id given as text) out of a channel (`email`, `sms`, or `all`), or
    back in."""
    if channel not in CHANNELS:
        raise CampaignInputError(f"unknown channel {channel!r}; channels: {', '.join(CHANNELS)}", field="channel")
    with engine.database.session() as session:
        record = session.scalar(select(RecipientRecord).where(_recipient_where(recipient)))
        if record is None:
            raise UnknownObjectError("recipient", str(recipient))
        setattr(record, CHANNELS[channel], opted_out)
        session.flush()
        return recipient_document(record)


def list_document(record: ListRecord, members: int) -> dict[str, Any]:
    return {"id": record.id, "name": record.name, "label": record.label, "origin": record.origin,
            "audienceId": record.audience_id, "doubleOptIn": record.double_opt_in, "members": members,
            "updatedAt": record.updated_at.isoformat()}  # fmt: skip


def create_list(engine: CampaignEngine, name: str, *, label: str = "", double_opt_in: bool = False) -> dict[str, Any]:
    """An empty list that workflows fill, or a subscription list (`double_opt_in`: members confirm first)."""
    if not name.strip() or len(name) > 255:
        raise CampaignInputError("a list's name is 1 to 255 characters", field="name")
    with engine.database.session() as session:
        if session.scalar(select(ListRecord.id).where(ListRecord.name == name)) is not None:
            raise DuplicateObjectError("list", name)
        origin = "subscription" if double_opt_in else "manual"
        record = ListRecord(name=name, label=label or name, origin=origin, double_opt_in=double_opt_in)
        session.add(record)
        session.flush()
        return list_document(record, 0)


def list_lists(engine: CampaignEngine) -> list[dict[str, Any]]:
    with engine.database.session() as session:
        counts = dict(
            session.execute(
                select(ListMemberRecord.list_id, func.count())
                .where(ListMemberRecord.status == "member")
                .group_by(ListMemberRecord.list_id)
            ).all()
        )
        return [list_document(r, counts.get(r.id, 0)) for r in session.scalars(select(ListRecord).order_by("name"))]


def list_member_ids(engine: CampaignEngine, name: str) -> list[str]:
    """The external ids of a list's members (confirmed ones, for a double opt-in list)."""
    with engine.database.session() as session:
        record = session.scalar(select(ListRecord).where(ListRecord.name == name))
        if record is None:
            raise UnknownObjectError("list", name, list(session.scalars(select(ListRecord.name))))
        query = (
            select(RecipientRecord.external_id)
            .join(ListMemberRecord, ListMemberRecord.recipient_id == RecipientRecord.id)
            .where(ListMemberRecord.list_id == record.id, ListMemberRecord.status == "member")
            .order_by(RecipientRecord.external_id)
        )
        return list(session.scalars(query))


def get_list(engine: CampaignEngine, list_: int | str, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """A list (by id, or by name given as text) with its size, and a page of its members (confirmed ones, for
    a double opt-in list) by recipient id: `members` the count, `recipients` the page."""
    if not 1 <= limit <= 1000 or offset < 0:
        raise CampaignInputError("limit is 1 to 1000 and offset 0 or more", field="limit")
    where = ListRecord.id == list_ if isinstance(list_, int) else ListRecord.name == list_
    with engine.database.session() as session:
        record = session.scalar(select(ListRecord).where(where))
        if record is None:
            raise UnknownObjectError("list", str(list_), list(session.scalars(select(ListRecord.name).limit(100))))
        membership = (ListMemberRecord.list_id == record.id, ListMemberRecord.status == "member")
        members = session.scalar(select(func.count()).select_from(ListMemberRecord).where(*membership)) or 0
        page = session.scalars(
            select(RecipientRecord)
            .join(ListMemberRecord, ListMemberRecord.recipient_id == RecipientRecord.id)
            .where(*membership)
            .order_by(ListMemberRecord.recipient_id)  # the members' key: read in order, never sorted whole
            .limit(limit)
            .offset(offset)
        )
        return {**list_document(record, members), "recipients": [recipient_document(r) for r in page]}


def recipient_lists(engine: CampaignEngine, recipient_id: int) -> list[dict[str, Any]]:
    """The lists a recipient is on (their subscriptions), with the membership's status (`member`, or `pending`
    until a double opt-in is confirmed) and when it began."""
    with engine.database.session() as session:
        rows = session.execute(
            select(ListRecord.id, ListRecord.name, ListRecord.label, ListRecord.origin, ListMemberRecord.status,
                   ListMemberRecord.added_at)
            .join(ListMemberRecord, ListMemberRecord.list_id == ListRecord.id)
            .where(ListMemberRecord.recipient_id == recipient_id)
            .order_by(ListRecord.name)
        ).all()  # fmt: skip
    return [{"id": id_, "name": name, "label": label, "origin": origin, "status": status,
             "addedAt": added.isoformat()} for id_, name, label, origin, status, added in rows]  # fmt: skip


def add_seed_address(engine: CampaignEngine, email: str, *, kind: str = "test", label: str = "") -> dict[str, Any]:
    """A test address (receives proofs) or a seed address (receives a copy of every delivery)."""
    problem = address_problem(email)
    if problem:
        raise CampaignInputError(problem, field="email")
    if kind not in ("test", "seed"):
        raise CampaignInputError("an address is of kind `test` (proofs) or `seed` (copies)", field="kind")
    with engine.database.session() as session:
        exists = select(SeedAddressRecord.id).where(SeedAddressRecord.email == email, SeedAddressRecord.kind == kind)
        if session.scalar(exists) is not None:
            raise DuplicateObjectError(f"{kind} address", email)
        record = SeedAddressRecord(email=email.strip(), kind=kind, label=label)
        session.add(record)
        session.flush()
        return {"id": record.id, "email": record.email, "kind": record.kind, "label": record.label}


def seed_addresses(engine: CampaignEngine, kind: str | None = None) -> list[dict[str, Any]]:
    with engine.database.session() as session:
        query = select(SeedAddressRecord).order_by(SeedAddressRecord.id)
        if kind is not None:
            query = query.where(SeedAddressRecord.kind == kind)
        return [{"id": r.id, "email": r.email, "kind": r.kind, "label": r.label} for r in session.scalars(query)]


def suppress(engine: CampaignEngine, email: str, reason: str, detail: str = "") -> dict[str, Any]:
    """Put an address on the suppression list, which every delivery honours; a second call keeps the first."""
    if reason not in SUPPRESSION_REASONS:
        raise CampaignInputError(f"unknown reason {reason!r}; reasons: {', '.join(SUPPRESSION_REASONS)}",
                                 field="reason")  # fmt: skip
    address = normalise_address(email)
    with engine.database.session() as session:
        record = session.get(SuppressionRecord, address)
        if record is None:
            record = SuppressionRecord(email=address, reason=reason, detail=detail[:2000])
            session.add(record)
            session.flush()
        return {"email": record.email, "reason": record.reason, "detail": record.detail,
                "createdAt": record.created_at.isoformat()}  # fmt: skip


def suppress_many(engine: CampaignEngine, entries: list[tuple[str, str]], reason: str) -> int:
    """Put many addresses (with the detail of each) on the suppression list in one transaction, as `suppress`
    does one: an address already there keeps its first reason. Returns how many were added."""
    if reason not in SUPPRESSION_REASONS:
        raise CampaignInputError(f"unknown reason {reason!r}; reasons: {', '.join(SUPPRESSION_REASONS)}",
                                 field="reason")  # fmt: skip
    wanted = {normalise_address(email): detail[:2000] for email, detail in entries if email}
    with engine.database.session() as session:
        known = set(session.scalars(select(SuppressionRecord.email).where(SuppressionRecord.email.in_(wanted))))
        new = [SuppressionRecord(email=e, reason=reason, detail=d) for e, d in wanted.items() if e not in known]
        session.add_all(new)
        return len(new)


def suppressions(engine: CampaignEngine) -> list[dict[str, Any]]:
    with engine.database.session() as session:
        rows = session.scalars(select(SuppressionRecord).order_by(SuppressionRecord.created_at))
        return [{"email": r.email, "reason": r.reason, "detail": r.detail, "createdAt": r.created_at.isoformat()}
                for r in rows]  # fmt: skip


def unsuppress(engine: CampaignEngine, email: str) -> None:
    with engine.database.session() as session:
        record = session.get(SuppressionRecord, normalise_address(email))
        if record is None:
            raise UnknownObjectError("suppressed address", email)
        session.delete(record)
