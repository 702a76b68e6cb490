"""Identity namespaces: the kinds of identifier a person (or a device) is known by.

Standard namespaces ship with Accord, with the reference product's symbols; custom ones are made
per sandbox. A symbol is never reused and never changed, since stored identities refer to it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import IdentityNamespaceRecord, resolve_sandbox
from accord.errors import ConflictError, InvalidInputError, NotFoundError, did_you_mean

SYMBOL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
SEPARATOR = "\x1f"
"""An identity's name is its namespace, this character (U+001F), then its id."""


class IdentityType(StrEnum):
    """The reference product's seven identity types; non-people and partner ids build no graph."""

    cookie = "cookie"
    cross_device = "cross_device"
    device = "device"
    email = "email"
    phone = "phone"
    non_people = "non_people"
    partner_id = "partner_id"


@dataclass(frozen=True)
class Namespace:
    symbol: str
    name: str
    type: IdentityType
    description: str = ""
    standard: bool = False

    @property
    def builds_graph(self) -> bool:
        """Whether identities of this namespace link records into identity graphs."""
        return self.type not in (IdentityType.non_people, IdentityType.partner_id)

    def to_document(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "name": self.name, "type": self.type.value, "description": self.description,
                "standard": self.standard, "buildsGraph": self.builds_graph}  # fmt: skip


STANDARD = {
    n.symbol: n
    for n in (
        Namespace("ECID", "Experience Cloud ID", IdentityType.cookie, "Browser cookie id: exactly 38 digits", True),
        Namespace("Email", "Email", IdentityType.email, "E-mail address, trimmed and lower-cased", True),
        Namespace(
            "Email_LC_SHA256",
            "Emails (SHA256, lowercased)",
            IdentityType.email,
            "SHA-256 of the lower-cased address, as 64 hex digits",
            True,
        ),
        Namespace("Phone", "Phone", IdentityType.phone, "Phone number; separators are removed", True),
        Namespace("Phone_E164", "Phone (E.164)", IdentityType.phone, "+ country code and number, 8 to 15 digits", True),
        Namespace("Phone_SHA256", "Phone (SHA256)", IdentityType.phone, "SHA-256 of the E.164 number, 64 hex", True),
        Namespace("CRMID", "CRM ID", IdentityType.cross_device, "The customer's id in a CRM", True),
        Namespace("GAID", "Google Ad ID", IdentityType.device, "Android advertising id (a UUID)", True),
        Namespace("IDFA", "Apple ID for Advertisers", IdentityType.device, "iOS advertising id (a UUID)", True),
    )
}


def _custom(record: IdentityNamespaceRecord) -> Namespace:
    return Namespace(record.symbol, record.name, IdentityType(record.identity_type), record.description)


def namespaces(session: Session, sandbox_id: str) -> dict[str, Namespace]:
    """Every namespace a sandbox can use, by symbol."""
    found = dict(STANDARD)
    records = session.scalars(select(IdentityNamespaceRecord).where(IdentityNamespaceRecord.sandbox_id == sandbox_id))
    found.update({r.symbol: _custom(r) for r in records})
    return found


def list_namespaces(session: Session, sandbox: str) -> list[Namespace]:
    found = namespaces(session, resolve_sandbox(session, sandbox).id)
    return sorted(found.values(), key=lambda n: (not n.standard, n.symbol))


def get_namespace(session: Session, sandbox: str, symbol: str) -> Namespace:
    return namespace_of(namespaces(session, resolve_sandbox(session, sandbox).id), symbol)


def namespace_of(known: Mapping[str, Namespace], symbol: str) -> Namespace:
    """The namespace of a symbol among a sandbox's (`namespaces`); an unknown one is refused with the nearest."""
    if symbol not in known:
        raise NotFoundError(f"no identity namespace {symbol!r}{did_you_mean(symbol, list(known))}",
                            code="IDENTITY-0404-404", namespace=symbol, available=sorted(known))  # fmt: skip
    return known[symbol]


def create_namespace(
    session: Session, sandbox: str, symbol: str, name: str, identity_type: str, description: str = ""
) -> Namespace:
    """Add a custom namespace; its symbol can never be reused or changed."""
    if not SYMBOL.match(symbol):
        raise InvalidInputError(
            f"namespace symbol {symbol!r} must be a letter then letters, digits or '_' (at most 64)",
            code="IDENTITY-0400-400",
        )
    try:
        kind = IdentityType(identity_type)
    except ValueError:
        known = ", ".join(t.value for t in IdentityType)
        raise InvalidInputError(
            f"identity type {identity_type!r} is not one of: {known}", code="IDENTITY-0401-400"
        ) from None
    sandbox_id = resolve_sandbox(session, sandbox).id
    existing = namespaces(session, sandbox_id)
    clash = next((s for s in existing if s.lower() == symbol.lower()), None)
    if clash is not None:
        raise ConflictError(f"namespace symbol {symbol!r} is taken (by {clash}); symbols are never reused",
                            code="IDENTITY-0409-409")  # fmt: skip
    session.add(IdentityNamespaceRecord(sandbox_id=sandbox_id, symbol=symbol, name=name or symbol,
                                        identity_type=kind.value, description=description))  # fmt: skip
    session.flush()
    return Namespace(symbol, name or symbol, kind, description)
