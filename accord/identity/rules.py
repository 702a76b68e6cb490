"""How identity values are checked and normalised, per namespace, as engine expressions.

E-mails are trimmed and lower-cased; phone numbers lose their separators (and E.164 numbers must
be + and 8 to 15 digits); ECIDs are exactly 38 digits; hashes are 64 lower-case hex digits;
advertising ids are UUIDs; any identity is at most 1,024 characters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from accord.identity.namespaces import IdentityType, Namespace

MAX_LENGTH = 1024
MAX_PER_RECORD = 20
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
HEX64 = r"^[0-9a-f]{64}$"
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
PHONE_SEPARATORS = r"[\s().\-/]"


@dataclass(frozen=True)
class IdentityRule:
    normalize: Callable[[ir.StringValue], ir.StringValue]
    pattern: str | None
    """A normalised value must match this (besides being non-empty and at most 1,024 characters)."""
    expectation: str

    def invalid(self, value: ir.StringValue) -> ir.BooleanValue:
        """True where a present value is not a valid identity (null stays null: no identity)."""
        normalised = self.normalize(value)
        bad = (normalised.length() == 0) | (normalised.length() > MAX_LENGTH)
        if self.pattern is not None:
            bad = bad | ~normalised.re_search(self.pattern)
        return value.notnull() & bad


def _trim(value: ir.StringValue) -> ir.StringValue:
    return value.strip()


def _lower(value: ir.StringValue) -> ir.StringValue:
    return value.strip().lower()


def _phone(value: ir.StringValue) -> ir.StringValue:
    return value.re_replace(PHONE_SEPARATORS, "")


RULES: dict[str, IdentityRule] = {
    "ECID": IdentityRule(_trim, r"^[0-9]{38}$", "exactly 38 digits"),
    "Email": IdentityRule(_lower, EMAIL, "an e-mail address"),
    "Email_LC_SHA256": IdentityRule(_lower, HEX64, "64 hex digits"),
    "Phone": IdentityRule(_phone, r"^\+?[0-9]{6,20}$", "a phone number"),
    "Phone_E164": IdentityRule(_phone, r"^\+[1-9][0-9]{7,14}$", "+ and 8 to 15 digits (E.164)"),
    "Phone_SHA256": IdentityRule(_lower, HEX64, "64 hex digits"),
    "GAID": IdentityRule(_lower, UUID, "a UUID"),
    "IDFA": IdentityRule(lambda v: v.strip().upper(), UUID, "a UUID"),
}
BY_TYPE: dict[IdentityType, IdentityRule] = {
    IdentityType.email: RULES["Email"],
    IdentityType.phone: RULES["Phone"],
}
GENERIC = IdentityRule(_trim, None, f"at most {MAX_LENGTH} characters")


def rule_for(namespace: Namespace) -> IdentityRule:
    """The rule of a namespace: its own if standard, else the one of its identity type."""
    return RULES.get(namespace.symbol) or BY_TYPE.get(namespace.type) or GENERIC


def count_identities(identity_map: ir.MapValue) -> ir.IntegerValue:
    """How many identities an identityMap holds (0 when it is null)."""
    return ibis.coalesce(identity_map.values().map(lambda ids: ids.length()).sums(), 0)  # type: ignore[attr-defined]
