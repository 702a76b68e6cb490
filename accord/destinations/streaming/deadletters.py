"""Dead letters: requests a streaming destination never accepted, kept to be read and replayed.

A dead letter holds the request as it would be sent again (method, URL, headers, body, the profiles
it carries) without any secret: credentials are added as a request leaves, never stored; headers that
name credentials are dropped and the account's secret values are blotted out wherever they appear.
It also holds the last answer (status and the start of its body, or the network error) and the tries
made. Replaying sends the letters of a flow oldest first, one after another (a profile's requests
keep their order), through the account as it is now configured, and marks each replayed or failed.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.catalog import resolve_sandbox, utcnow
from accord.catalog.activations import DeadLetterRecord, DestinationAccountRecord
from accord.catalog.reading import utc_time
from accord.destinations.exceptions import NotStreamingError
from accord.destinations.flows import find_flow
from accord.destinations.spec import HttpRequest, StreamingDestination
from accord.errors import NotFoundError

_PENDING = DeadLetterRecord.replay_status.is_(None) | (DeadLetterRecord.replay_status == "failed")
"""A letter not yet delivered: never replayed, or replayed without success."""
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie")
CREDENTIAL_WORDS = ("token", "secret", "key", "password", "auth", "credential", "signature")
"""A header whose name holds one of these words is taken to carry a credential and is never stored."""


@dataclass(frozen=True)
class DeadLetter:
    """A request given up after its last try, as it is stored."""

    request: dict[str, Any]
    answer: dict[str, Any] | None
    attempts: int
    reason: str
    id: str | None = field(default=None, compare=False)


class DeadLetterSink(Protocol):
    """Where a delivery puts its dead letters; returns the letter's id."""

    def put(self, letter: DeadLetter) -> str: ...


class MemoryDeadLetters:
    """Dead letters kept in memory (a delivery with no flow to file them under: tests, samples)."""

    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    def put(self, letter: DeadLetter) -> str:
        self.letters.append(letter)
        return str(len(self.letters))


class CatalogDeadLetters:
    """Dead letters filed in the catalog (table `activation_dead_letters`) under a flow and, if any, its run."""

    def __init__(self, catalog: Any, sandbox_id: str, flow_id: str, run_id: str | None = None) -> None:
        self.catalog, self.sandbox_id, self.flow_id, self.run_id = catalog, sandbox_id, flow_id, run_id

    def put(self, letter: DeadLetter) -> str:
        with self.catalog.session() as session:
            record = DeadLetterRecord(
                sandbox_id=self.sandbox_id,
                flow_id=self.flow_id,
                run_id=self.run_id,
                request=letter.request,
                answer=letter.answer,
                attempts=letter.attempts,
            )
            session.add(record)
            session.flush()
            return str(record.id)

    def profiles(self, letters: list[str]) -> set[str]:
        """The profiles the requests of these dead letters carried."""
        with self.catalog.session() as session:
            records = session.scalars(select(DeadLetterRecord).where(DeadLetterRecord.id.in_(letters)))
            return {str(p) for r in records for p in (r.request.get("profileIds") or ())}


def request_document(request: HttpRequest, redact: Callable[[str], str]) -> dict[str, Any]:
    """A request as a dead letter keeps it: no credential header, no secret value."""
    headers = {name: redact(value) for name, value in request.headers.items() if not credential_header(name)}
    try:
        body, encoding = redact(request.body.decode("utf-8")), "text"
    except UnicodeDecodeError:
        body, encoding = base64.b64encode(request.body).decode(), "base64"
    return {"method": request.method, "url": redact(request.url), "headers": headers, "body": body,
            "bodyEncoding": encoding, "profileIds": list(request.profile_ids),
            "identifiers": request.identifiers}  # fmt: skip


def credential_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in CREDENTIAL_HEADERS or any(word in lowered for word in CREDENTIAL_WORDS)


def request_from_document(document: dict[str, Any]) -> HttpRequest:
    body = document.get("body", "")
    raw = base64.b64decode(body) if document.get("bodyEncoding") == "base64" else str(body).encode("utf-8")
    return HttpRequest(document["method"], document["url"], dict(document.get("headers") or {}), raw,
                       tuple(document.get("profileIds") or ()), int(document.get("identifiers") or 0))  # fmt: skip


def dead_letter_document(record: DeadLetterRecord) -> dict[str, Any]:
    """A dead letter as the API and CLI show it."""
    request = record.request or {}
    return {
        "id": record.id,
        "flowId": record.flow_id,
        "runId": record.run_id,
        "request": request,
        "profiles": len(request.get("profileIds") or ()),
        "answer": record.answer,
        "attempts": record.attempts,
        "createdAt": utc_time(record.created_at).isoformat(),  # type: ignore[union-attr]
        "replayedAt": utc_time(record.replayed_at).isoformat() if record.replayed_at else None,  # type: ignore[union-attr]
        "replayStatus": record.replay_status,
    }


def list_dead_letters(session: Session, sandbox: str, flow: str, *, pending: bool = False,
                      limit: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The dead letters of a flow, oldest first; `pending`: only those not yet replayed successfully; `limit`: the
    oldest so many."""
    record = find_flow(session, resolve_sandbox(session, sandbox).id, flow)
    query = select(DeadLetterRecord).where(DeadLetterRecord.flow_id == record.id)
    if pending:
        query = query.where(_PENDING)
    query = query.order_by(DeadLetterRecord.created_at, DeadLetterRecord.id).limit(limit)
    return [dead_letter_document(r) for r in session.scalars(query)]


def count_dead_letters(session: Session, sandbox: str, flow: str) -> dict[str, int]:
    """How many dead letters a flow holds (`total`) and how many of them are not yet delivered (`pending`),
    counted by the catalog, not read."""
    record = find_flow(session, resolve_sandbox(session, sandbox).id, flow)
    total, pending = session.execute(
        select(func.count(), func.count().filter(_PENDING)).where(DeadLetterRecord.flow_id == record.id)
    ).one()
    return {"total": total, "pending": pending}


def replay_dead_letters(
    session: Session, box: Any, sandbox: str, flow: str, letter: str | None = None, roots: Any = None
) -> dict[str, Any]:
    """Send a flow's dead letters again (one, or all not yet delivered), oldest first; each is marked
    `replayed_at` and `replay_status` (`delivered` or `failed`, with the new answer and tries added). Refused
    whole (`PolicyViolationError`) when the flow now breaks an enabled data usage policy."""
    from accord.destinations.accounts import open_destination
    from accord.destinations.flows import definition_of
    from accord.destinations.usage import enforce_flow

    record = find_flow(session, resolve_sandbox(session, sandbox).id, flow)
    query = select(DeadLetterRecord).where(DeadLetterRecord.flow_id == record.id)
    query = query.where(DeadLetterRecord.id == letter) if letter is not None else query.where(_PENDING)
    letters = list(session.scalars(query.order_by(DeadLetterRecord.created_at, DeadLetterRecord.id)))
    if letter is not None and not letters:
        raise NotFoundError(f"flow {flow!r} has no dead letter {letter!r}", code="ACTIVATION-0406-404",
                            flow=flow, letter=letter)  # fmt: skip
    account = session.get(DestinationAccountRecord, record.account_id)
    assert account is not None  # an account with flows cannot be deleted
    # as at every run: a policy enabled since the letters were filed stops them
    enforce_flow(session, sandbox, record.name, definition_of(record), account)
    destination = open_destination(account, box, roots)
    if destination.spec.delivery != "streaming":
        raise NotStreamingError(destination.spec.id)
    outcomes = asyncio.run(_send_in_order(destination, account.name, letters))  # type: ignore[arg-type]
    now, summary = utcnow(), {"flow": flow, "replayed": len(letters), "delivered": 0, "failed": 0, "letters": []}
    for stored, outcome in zip(letters, outcomes, strict=True):
        stored.replayed_at, stored.attempts = now, stored.attempts + outcome.attempts
        stored.replay_status = "delivered" if outcome.delivered else "failed"
        if outcome.answer is not None:
            stored.answer = outcome.answer.to_dict() | ({"reason": outcome.reason} if outcome.reason else {})
        summary["delivered" if outcome.delivered else "failed"] += 1  # type: ignore[operator]
        summary["letters"].append({"id": stored.id, "status": stored.replay_status,  # type: ignore[attr-defined]
                                   **({"reason": outcome.reason} if outcome.reason else {})})  # fmt: skip
    session.flush()
    return summary


async def _send_in_order(destination: StreamingDestination, name: str, letters: list[DeadLetterRecord]) -> list[Any]:  # type: ignore[type-arg]
    from accord.destinations.streaming.sending import Sender

    sender = Sender(destination, name)
    try:
        return [await sender.send(request_from_document(stored.request)) for stored in letters]
    finally:
        await sender.aclose()
