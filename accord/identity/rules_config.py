"""A sandbox's identity linking rules: which namespaces are unique in a graph, and their priority.

A unique namespace (a CRM id, say) may appear at most once in a graph, so that two customers who
share a household e-mail are not merged: when links would put two of its identities in one graph,
the most recent links win and the older ones are dropped (and kept, marked, for explanations).
Namespace priority decides a graph's primary identity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from accord.catalog import IdentityRulesRecord, resolve_sandbox, utcnow
from accord.errors import DocumentError, did_you_mean
from accord.identity.namespaces import IdentityType, Namespace, namespaces

DEFAULT_PRIORITY = ["CRMID", "Email", "Phone_E164", "Phone", "Email_LC_SHA256", "Phone_SHA256", "IDFA", "GAID", "ECID"]


@dataclass(frozen=True)
class LinkingRules:
    unique: tuple[str, ...] = ()
    priority: tuple[str, ...] = field(default_factory=lambda: tuple(DEFAULT_PRIORITY))

    def to_document(self) -> dict[str, Any]:
        return {"uniqueNamespaces": list(self.unique), "priority": list(self.priority)}


def get_rules(session: Session, sandbox: str) -> LinkingRules:
    record = session.get(IdentityRulesRecord, resolve_sandbox(session, sandbox).id)
    if record is None:
        return LinkingRules()
    return LinkingRules(tuple(record.unique_namespaces), tuple(record.priority) or tuple(DEFAULT_PRIORITY))


def set_rules(
    session: Session, sandbox: str, unique: list[str] | None = None, priority: list[str] | None = None
) -> LinkingRules:
    """Change the rules; they apply from the next graph build. Unknown namespaces are refused."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    known = namespaces(session, sandbox_id)
    current = get_rules(session, sandbox)
    unique = list(current.unique) if unique is None else unique
    priority = list(current.priority) if priority is None else priority
    problems = [
        {"path": f"{where}[{index}]", "message": f"unknown namespace {symbol!r}{did_you_mean(symbol, list(known))}"}
        for where, symbols in (("uniqueNamespaces", unique), ("priority", priority))
        for index, symbol in enumerate(symbols)
        if symbol not in known
    ]
    # The reference product's rule: a cookie or device id never outranks a namespace of people.
    last_people = max((i for i, s in enumerate(priority) if s in known and not _device(known[s])), default=-1)
    problems += [
        {"path": f"priority[{index}]", "message": f"{symbol} is a cookie or device id: it cannot outrank people ids"}
        for index, symbol in enumerate(priority[:last_people])
        if symbol in known and _device(known[symbol])
    ]
    if problems:
        raise DocumentError("the linking rules", problems, code="IDENTITY-0420-400")
    record = session.get(IdentityRulesRecord, sandbox_id) or IdentityRulesRecord(sandbox_id=sandbox_id)
    record.unique_namespaces, record.priority, record.updated_at = unique, priority, utcnow()
    session.merge(record)
    session.flush()
    return LinkingRules(tuple(unique), tuple(priority))


TYPE_PRIORITY = {IdentityType.cookie: 2, IdentityType.device: 1}
"""Namespaces missing from the priority list come after it: people's ids (0), then devices, then cookies."""


def namespace_ranks(priority: tuple[str, ...], known: Mapping[str, Namespace]) -> dict[str, int]:
    """Every namespace's rank (lowest first): its place in the priority list, else after the list by type.

    A graph's primary identity, and the identity whose graph a record feeds when its schema names no
    primary one, is the identity of lowest rank; ties by namespace symbol, then id."""
    ranks = {symbol: index for index, symbol in enumerate(priority)}
    after = len(priority)
    return {symbol: ranks.get(symbol, after + TYPE_PRIORITY.get(found.type, 0)) for symbol, found in known.items()}


def _device(namespace: Any) -> bool:
    return namespace.type in (IdentityType.cookie, IdentityType.device)
