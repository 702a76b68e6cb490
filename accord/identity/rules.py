"""How identity values are checked and normalised, per namespace, as engine expressions.

E-mails are trimmed and lower-cased; phone numbers lose their separators (spaces, dots, dashes,
slashes, round and square brackets), then must be an optional + and 6 to 20 digits (E.164 numbers:
+ and 8 to 15 digits, the first not 0); ECIDs are exactly 38 digits; hashes are 64 lower-case hex
digits; advertising ids are UUIDs; any identity is at most 1,024 characters.

Ingestion applies these expressions to identity fields; the graph build to identityMap ids; lookups
and removals to the values users type (`normalize_identity`, which runs the very same expressions,
so that a value finds what ingestion stored)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import ibis
import ibis.expr.types as ir
import sqlglot as sg

from accord.engine import raw_connection
from accord.identity.namespaces import SEPARATOR, IdentityType, Namespace, namespace_of

MAX_LENGTH = 1024
MAX_PER_RECORD = 20
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
HEX64 = r"^[0-9a-f]{64}$"
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
PHONE_SEPARATORS = r"[\s()\[\].\-/]"
PHONE_FORMS = "once spaces, dots, dashes, slashes and brackets are removed; no letters"
"""What phone identities may look like (the messages of refused values say it)."""


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
    "Phone": IdentityRule(_phone, r"^\+?[0-9]{6,20}$", f"an optional + and 6 to 20 digits, {PHONE_FORMS}"),
    "Phone_E164": IdentityRule(_phone, r"^\+[1-9][0-9]{7,14}$", f"E.164: + and 8 to 15 digits, {PHONE_FORMS}"),
    "Phone_SHA256": IdentityRule(_lower, HEX64, "64 hex digits"),
    "GAID": IdentityRule(_lower, UUID, "a UUID"),
    "IDFA": IdentityRule(lambda v: v.strip().upper(), UUID, "a UUID"),
}
BY_TYPE: dict[IdentityType, IdentityRule] = {
    IdentityType.email: RULES["Email"],
    IdentityType.phone: RULES["Phone"],
}
GENERIC = IdentityRule(_trim, None, f"1 to {MAX_LENGTH:,} characters, once trimmed")


def rule_for(namespace: Namespace) -> IdentityRule:
    """The rule of a namespace: its own if standard, else the one of its identity type."""
    return RULES.get(namespace.symbol) or BY_TYPE.get(namespace.type) or GENERIC


def count_identities(identity_map: ir.MapValue) -> ir.IntegerValue:
    """How many identities an identityMap holds (0 when it is null)."""
    return ibis.coalesce(identity_map.values().map(lambda ids: ids.length()).sums(), 0)  # type: ignore[attr-defined]


def normalize_column(
    namespace: ir.StringValue, value: ir.StringValue, known: Mapping[str, Namespace]
) -> ir.StringValue:
    """Values normalised by the rule of the namespace beside each (identityMap entries, one row each)."""
    by_rule: dict[IdentityRule, list[str]] = {}
    for symbol, found in sorted(known.items()):
        by_rule.setdefault(rule_for(found), []).append(symbol)
    branches = [(namespace.isin(names), rule.normalize(value)) for rule, names in by_rule.items() if rule != GENERIC]
    return ibis.cases(*branches, else_=GENERIC.normalize(value)) if branches else GENERIC.normalize(value)


@dataclass(frozen=True)
class TypedIdentity:
    """A value as a user typed it, normalised as ingestion normalises its namespace's identities."""

    namespace: str
    id: str
    """The normalised value: what ingestion would have stored."""
    typed: str
    problem: str | None
    """Why the value could not be an identity of its namespace (None when it could, or was not checked)."""
    key: int = field(repr=False)
    """Its 64-bit key, as the graph build computes it."""
    kind: Namespace = field(repr=False, compare=False)

    @property
    def pair(self) -> tuple[str, str]:
        return self.namespace, self.id

    def checked(self) -> TypedIdentity:
        """The same value, with why it could not be an identity of its namespace if it could not."""
        return normalize_identity(self.kind, self.typed, check=True)

    def describe(self) -> str:
        """`namespace:id`, with what the user typed when it differs and why it cannot be an identity."""
        text = f"{self.namespace}:{self.id}"
        if self.typed != self.id:
            text += f" (typed as {self.typed!r})"
        return f"{text}: {self.problem}" if self.problem else text


_local = threading.local()


def local_engine() -> Any:
    """A small DuckDB connection of this thread, for the single values of lookups (opening one costs
    more than a whole lookup)."""
    con = getattr(_local, "con", None)
    if con is None:
        con = _local.con = raw_connection(threads=1)
    return con


@cache
def _normalising_query(rule: IdentityRule, check: bool) -> str:
    """The rule's expressions over a list of values (query parameter 1) of one namespace (parameter 2), in
    the list's order: never text pasted into the SQL; with each identity's 64-bit key, as the graph build
    computes it."""
    values = ibis.table({"value": "string", "namespace": "string"}, name="_identity_values")
    normalised = rule.normalize(values.value)
    columns = {"value": normalised, "key": values.namespace.concat(SEPARATOR, normalised).hash()}
    if check:
        columns["invalid"] = rule.invalid(values.value)
    tree = sg.parse_one(ibis.to_sql(values.select(**columns), dialect="duckdb"), read="duckdb")

    def parameter(node: sg.exp.Expression) -> sg.exp.Expression:
        if isinstance(node, sg.exp.Column) and node.name == "namespace":
            return sg.cast(sg.exp.Placeholder(this="2"), "VARCHAR")
        if isinstance(node, sg.exp.Column) and node.name == "value":
            return sg.column("value", table="_given")
        return node

    listed = sg.cast(sg.exp.Placeholder(this="1"), "VARCHAR[]")
    given = sg.select(sg.func("unnest", listed).as_("value"), sg.func("generate_subscripts", listed, 1).as_("place"))
    projections = [column.transform(parameter) for column in tree.expressions]
    return sg.select(*projections).from_(given.subquery("_given")).order_by(sg.column("place", "_given")).sql("duckdb")


def normalize_identities(values: list[tuple[Namespace, str]], check: bool = False) -> list[TypedIdentity]:
    """Typed values as ingestion would store them: the same engine expressions, run on these values (one query
    per namespace, whatever their number). A value that normalises to nothing keeps an empty `id`. With
    `check`, each says why it cannot be an identity of its namespace, if it cannot (lookups ask only once
    they found nothing: it costs more)."""
    con = local_engine()
    found: list[TypedIdentity | None] = [None] * len(values)
    places: dict[str, list[int]] = {}
    for index, (namespace, _value) in enumerate(values):
        places.setdefault(namespace.symbol, []).append(index)
    for indexes in places.values():
        namespace = values[indexes[0]][0]
        rule = rule_for(namespace)
        rows = con.execute(_normalising_query(rule, check), [[values[i][1] for i in indexes], namespace.symbol])
        for index, (normalised, key, *invalid) in zip(indexes, rows.fetchall(), strict=True):
            value = values[index][1]
            problem = (
                f"{value!r} is not a valid {namespace.symbol} identity ({rule.expectation})" if any(invalid) else None
            )
            found[index] = TypedIdentity(namespace.symbol, normalised or "", value, problem, key, namespace)
    return found  # type: ignore[return-value]


def normalize_identity(namespace: Namespace, value: str, check: bool = False) -> TypedIdentity:
    """A typed value as ingestion would store it (`normalize_identities` of one value)."""
    return normalize_identities([(namespace, value)], check)[0]


def resolve_identity(known: Mapping[str, Namespace], namespace: str, value: str, check: bool = False) -> TypedIdentity:
    """An identity a user names (lookups, explanations, removals) among a sandbox's namespaces: its
    namespace must exist (an unknown one is refused with the nearest names), and its value is
    normalised as ingestion would store it."""
    return normalize_identity(namespace_of(known, namespace), value, check)
