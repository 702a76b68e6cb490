"""Who a privacy job is about: the people the requested identities belong to, with every identity of theirs.

An identity expands through the identity graph to every identity linked to the same person (`identity.
people_of`), so that a job finds rows keyed by any of them. Stores that keep identifiers as text (files,
messages, dead letters, campaign addresses) are searched for the values themselves: lower-cased, and also
as the SHA-256 of the lower-cased value (the hashed form `Email_LC_SHA256` and hashed exports carry)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from accord.catalog import resolve_sandbox
from accord.identity import SEPARATOR, IdentityType, Person, namespaces, people_of

if TYPE_CHECKING:
    from accord.governance.privacy.requests import RequestedIdentity
    from accord.workspace import Workspace


@dataclass(frozen=True)
class Subject:
    """The people a job is about, in one sandbox."""

    sandbox: str
    sandbox_id: str
    requested: tuple[tuple[str, str], ...]
    people: tuple[Person, ...]
    email_namespaces: frozenset[str]
    campaign_withheld: str | None = None
    """Why the job does not reach the home's campaign instance whatever the sandbox sends it (its requester
    lacks the campaign's permission in every sandbox: its recipients came from every sandbox)."""

    @property
    def identities(self) -> set[tuple[str, str]]:
        """Every identity of theirs (namespace, value), the requested ones included."""
        return {pair for person in self.people for pair in person.identities} | set(self.requested)

    @property
    def nodes(self) -> set[str]:
        """Their identities as the graphs name them (`namespace` U+001F `value`)."""
        return {f"{namespace}{SEPARATOR}{value}" for namespace, value in self.identities}

    @property
    def graphs(self) -> set[int]:
        """Their graphs (profile ids), where the graphs know them."""
        return {person.graph for person in self.people if person.graph is not None}

    @property
    def values(self) -> set[str]:
        """Their identity values as text searches look for them: lower-cased, and hashed (SHA-256 hex)."""
        lowered = {value.strip().lower() for _namespace, value in self.identities}
        return lowered | {hashlib.sha256(value.encode()).hexdigest() for value in lowered}

    @property
    def external_ids(self) -> set[str]:
        """Every identity value as stored, which a campaign recipient's external id may be."""
        return {value for _namespace, value in self.identities}

    @property
    def emails(self) -> set[str]:
        """Their e-mail addresses, lower-cased."""
        return {value.lower() for namespace, value in self.identities if namespace in self.email_namespaces}

    @property
    def found_in_graphs(self) -> bool:
        return bool(self.graphs)

    def to_document(self) -> dict[str, Any]:
        return {"people": [person.to_document() for person in self.people]}


def find_subject(workspace: Workspace, sandbox: str, requested: Sequence[RequestedIdentity]) -> Subject:
    """The people these (checked) identities belong to, as the sandbox's graphs know them now."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        known = namespaces(session, sandbox_id)
    pairs = tuple(identity.pair for identity in requested)
    people = tuple(people_of(workspace, sandbox, pairs))
    emails = frozenset(symbol for symbol, n in known.items() if n.type == IdentityType.email)
    return Subject(sandbox, sandbox_id, pairs, people, emails)
