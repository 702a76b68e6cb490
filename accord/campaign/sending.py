"""Sending a delivery: the send log (broadLog) before and after each SMTP transaction, so that a delivery
sent again, after a crash or a kill, mails no one twice but the messages that were in flight.

A delivery's rows are inserted `pending` in bulk, then sent in batches of `batch_size`. One transaction
both records the outcomes of batch k (`sent` with the message id, `bounced` or `failed` with the SMTP
reply) and marks batch k+1 `sending`; only then does batch k+1 go out. So every message's row is
`sending` in the database before its DATA starts, and a killed run leaves at most one batch `sending`:
those messages may or may not have reached the server. The next run reports them as `atRisk` and sends
them again (at most they arrive twice); every other row is either `sent` (never sent again) or was never
handed to the server. One process sends a delivery at a time (a lock of `accord.jobs`; a dead holder's
lock is taken over)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Any, NamedTuple, Protocol

from sqlalchemy import func, insert, select, update

from accord.campaign.deliveries import target_recipients
from accord.campaign.engine import CampaignEngine
from accord.campaign.exceptions import SmtpSecurityError, SmtpUnavailableError, UnknownObjectError
from accord.campaign.messages import Renderer as MessageRenderer
from accord.campaign.models import BroadLogRecord, DeliveryRecord, SeedAddressRecord, SuppressionRecord
from accord.campaign.recipients import normalise_address, suppress_many
from accord.campaign.smtp import BatchStopped, Envelope, HourlyWindow, Outcome, Pool, SmtpOptions
from accord.catalog import utcnow
from accord.errors import AccordError
from accord.jobs import ensure_held, hold

log = logging.getLogger("accord.campaign")

BATCH_SIZE = 500
"""Rows marked `sending` in one transaction: the most messages a kill can leave at risk of a second copy."""
TO_SEND = ("pending", "sending", "failed")


class Renderer(Protocol):
    """What turns a recipient into a message (`accord.campaign.messages.Renderer` is the real one)."""

    def render(self, recipient: dict[str, Any], broadlog_id: int) -> EmailMessage: ...


Progress = Callable[[int, int], None]
"""Told how many of a run's messages were handed to the server so far, and how many it sends in all."""


class _Row(NamedTuple):
    id: int
    recipient_id: int
    email: str


def delivery_lock(delivery_id: int) -> str:
    return f"campaign-delivery:{delivery_id}"


def send_delivery(
    engine: CampaignEngine,
    delivery_id: int,
    renderer: Renderer | None = None,
    *,
    recipients: Iterable[dict[str, Any]] | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Send the delivery to its target (or to `recipients`, already targeted), one message per recipient.

    Safe to call again: recipients whose row is `sent` or `bounced` are not mailed again. Returns counts:
    targeted, excluded by reason, sent, failed, bounced (all rows of the delivery), atRisk (rows a dead
    run left `sending`), sentNow and retried (this run), seeds, seconds. Raises `JobRunningError` when
    another process sends it, `SmtpUnavailableError` when the server is down (the delivery is `failed`;
    nothing unsent is marked sent), `SmtpSecurityError` when it lacks STARTTLS or refuses the login.
    `progress(done, total)` is told after each batch how many of this run's messages went to the server."""
    started = time.monotonic()
    with engine.database.session() as session:
        delivery = session.get(DeliveryRecord, delivery_id)
        if delivery is None:
            raise UnknownObjectError("delivery", str(delivery_id))
        name, sender, seeds_before = delivery.name, delivery.sender, int(delivery.counts.get("seeds") or 0)
    if recipients is None:
        targeted, excluded = target_recipients(engine, delivery_id)
    else:
        targeted, excluded = list(recipients), {}
    targeted = _without_suppressed(engine, targeted, excluded)
    renderer = renderer or MessageRenderer(engine, delivery_id)
    options = SmtpOptions.from_settings(engine.settings)
    with hold(engine.database, delivery_lock(delivery_id), f"sending of delivery {name}", wait_seconds=0,
              stale_seconds=engine.settings.stale_run_seconds):  # fmt: skip
        at_risk = _prepare(engine, delivery_id, targeted)
        by_id = {recipient["id"]: recipient for recipient in targeted}
        rows = _rows_to_send(engine, delivery_id, by_id)
        sender_address = parseaddr(sender or engine.settings.campaign_sender)[1]
        counts: dict[str, Any] = {"targeted": len(targeted), "excluded": excluded, "atRisk": at_risk}
        if at_risk:
            log.warning("delivery %s: %d messages were in flight when a run stopped; they are sent again and may "
                        "arrive twice", name, at_risk)  # fmt: skip
        try:
            sent_now, retried, seeds = asyncio.run(_send(engine, rows, by_id, renderer, sender_address, options,
                                                          batch_size, seeds_before, progress))  # fmt: skip
        except BatchStopped as stopped:
            counts |= _log_counts(engine, delivery_id)
            error: AccordError = stopped.cause if isinstance(stopped.cause, SmtpSecurityError) else \
                SmtpUnavailableError(options.server, getattr(stopped.cause, "attempts", 0), str(stopped.cause),
                                     counts["sent"])  # fmt: skip
            _finish(engine, delivery_id, "failed", counts | {"seconds": round(time.monotonic() - started, 3)},
                    error.message)  # fmt: skip
            raise error from None
        counts |= _log_counts(engine, delivery_id) | {"sentNow": sent_now, "retried": retried, "seeds": seeds}
        counts["seconds"] = round(time.monotonic() - started, 3)
        _finish(engine, delivery_id, "sent", counts, None)
    return counts


async def _send(
    engine: CampaignEngine,
    rows: list[_Row],
    by_id: dict[int, dict[str, Any]],
    renderer: Renderer,
    sender: str,
    options: SmtpOptions,
    batch_size: int,
    seeds_before: int,
    progress: Progress | None = None,
) -> tuple[int, int, int]:
    """Send the rows batch by batch; (sent now, retries, seed copies)."""
    pool = Pool(options, HourlyWindow(options.messages_per_hour, _sent_in_last_hour(engine)))
    done: list[Outcome] = []
    sent_now = 0
    try:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            _record(engine, done, [row.id for row in batch])
            try:
                done = await pool.send([row.id for row in batch], _preparer(renderer, batch, by_id, sender))
            except BatchStopped as stopped:
                _record(engine, stopped.outcomes, [])
                raise
            sent_now += sum(outcome.status == "sent" for outcome in done)
            if progress is not None:
                progress(start + len(batch), len(rows))
        _record(engine, done, [])
        seeds = seeds_before or await _send_seeds(engine, pool, renderer, rows, by_id, sender)
        return sent_now, pool.retried, seeds
    finally:
        await pool.close()


def _preparer(renderer: Renderer, batch: Sequence[_Row], by_id: dict[int, dict[str, Any]],
              sender: str) -> Callable[[int], Envelope | Outcome]:  # fmt: skip
    """What renders the batch's messages one by one; a recipient the renderer refuses (a missing field) is
    `failed` with its reason."""

    fast = getattr(renderer, "render_bytes", None)  # a renderer that writes the SMTP form itself: no parse

    def prepare(position: int) -> Envelope | Outcome:
        row = batch[position]
        try:
            if fast is not None:
                data = fast(by_id[row.recipient_id], row.id)
                return Envelope(row.id, sender, row.email, data, renderer.message_id(row.id))  # type: ignore[attr-defined]
            message = renderer.render(by_id[row.recipient_id], row.id)
        except AccordError as exc:  # a missing field says so in the log's words: `missing field <name>`
            return Outcome(row.id, "failed", getattr(exc, "reason", exc.message))
        return _envelope(message, row.id, row.email, sender)

    return prepare


def _envelope(message: EmailMessage, broadlog_id: int, to: str, sender: str) -> Envelope:
    # The broadLog id travels in the message, so that a bounce returning it finds its row again. Headers the
    # renderer did not set are put before the serialised message rather than set on it: setting a header on
    # an EmailMessage of the default policy parses it again, a third of a millisecond each.
    extra = b""
    if "X-Accord-Broadlog" not in message:
        extra += b"X-Accord-Broadlog: %d\n" % broadlog_id
    message_id = message["Message-ID"]
    if message_id is None:
        message_id = make_msgid(f"b{broadlog_id}", domain=sender.rpartition("@")[2] or "localhost")
        extra += f"Message-ID: {message_id}\n".encode()
    # aiosmtplib sends lines ending in CRLF whatever they end in here
    return Envelope(broadlog_id, sender, to, extra + message.as_bytes(), str(message_id))


async def _send_seeds(engine: CampaignEngine, pool: Pool, renderer: Renderer, rows: list[_Row],
                      by_id: dict[int, dict[str, Any]], sender: str) -> int:  # fmt: skip
    """A copy of the delivery to each seed address, personalised as its first recipient's message was."""
    with engine.database.session() as session:
        addresses = list(session.scalars(select(SeedAddressRecord.email).where(SeedAddressRecord.kind == "seed")))
    if not addresses or not rows:
        return 0
    first = rows[0]
    envelopes = []
    for address in addresses:
        try:
            message = renderer.render(by_id[first.recipient_id] | {"email": address}, first.id)
        except AccordError:
            return 0
        envelopes.append(_envelope(message, first.id, address, sender))
    outcomes = await pool.send_envelopes(envelopes)
    return sum(outcome.status == "sent" for outcome in outcomes)


def _record(engine: CampaignEngine, outcomes: Sequence[Outcome], sending: Sequence[int]) -> None:
    """In one transaction: what became of the last batch, and the next batch marked `sending`. Written
    from the event loop's thread, which holds the lock (the pool waits for it anyway)."""
    ensure_held(engine.database)  # a run that lost its lock stops before it writes over the new holder's rows
    now = utcnow()
    with engine.database.session() as session:
        if outcomes:
            changes = [{"id": o.broadlog_id, "status": o.status, "reason": o.reason[:2000], "message_id": o.message_id,
                        "attempts": o.attempts, "event_at": now} for o in outcomes]  # fmt: skip
            session.execute(update(BroadLogRecord), changes)
        if sending:
            session.execute(update(BroadLogRecord).where(BroadLogRecord.id.in_(sending))
                            .values(status="sending", event_at=now))  # fmt: skip
    bounced = [o for o in outcomes if o.status == "bounced"]
    if bounced:
        _quarantine(engine, bounced)


def _quarantine(engine: CampaignEngine, bounced: Sequence[Outcome]) -> None:
    """Hard bounces go to the suppression list: no delivery mails the address again."""
    with engine.database.session() as session:
        rows = session.execute(select(BroadLogRecord.id, BroadLogRecord.email)
                               .where(BroadLogRecord.id.in_([o.broadlog_id for o in bounced]))).all()  # fmt: skip
    address = {row.id: row.email for row in rows}
    suppress_many(engine, [(address[o.broadlog_id], o.reason) for o in bounced], "hard-bounce")


def _prepare(engine: CampaignEngine, delivery_id: int, targeted: Sequence[dict[str, Any]]) -> int:
    """Insert a `pending` row for each targeted recipient that has none; the rows a dead run left `sending`."""
    with engine.database.session() as session:
        at_risk = session.scalar(select(func.count()).select_from(BroadLogRecord).where(
            BroadLogRecord.delivery_id == delivery_id, BroadLogRecord.status == "sending")) or 0  # fmt: skip
        existing = set(session.scalars(select(BroadLogRecord.recipient_id)
                                       .where(BroadLogRecord.delivery_id == delivery_id)))  # fmt: skip
        new = [{"delivery_id": delivery_id, "recipient_id": r["id"], "email": r["email"]} for r in targeted
               if r["id"] not in existing]  # fmt: skip
        for start in range(0, len(new), 10_000):
            session.execute(insert(BroadLogRecord), new[start : start + 10_000])
        delivery = session.get(DeliveryRecord, delivery_id)
        assert delivery is not None
        delivery.state, delivery.error = "sending", None
    return at_risk


def _rows_to_send(engine: CampaignEngine, delivery_id: int, by_id: dict[int, dict[str, Any]]) -> list[_Row]:
    """Rows not yet sent nor bounced, of recipients still targeted, in the order they were logged."""
    query = (
        select(BroadLogRecord.id, BroadLogRecord.recipient_id, BroadLogRecord.email)
        .where(BroadLogRecord.delivery_id == delivery_id, BroadLogRecord.status.in_(TO_SEND))
        .order_by(BroadLogRecord.id)
    )
    with engine.database.session() as session:
        rows = [_Row(*row) for row in session.execute(query)]
        gone = [row.id for row in rows if row.recipient_id not in by_id]
        if gone:  # suppressed or left the target since the row was written
            session.execute(update(BroadLogRecord).where(BroadLogRecord.id.in_(gone))
                            .values(status="failed", reason="no longer in the delivery's target"))  # fmt: skip
    return [row for row in rows if row.recipient_id in by_id]


def _without_suppressed(engine: CampaignEngine, targeted: list[dict[str, Any]],
                        excluded: dict[str, int]) -> list[dict[str, Any]]:  # fmt: skip
    """The suppression list is honoured here too, whoever targeted the recipients; and no address, no mail."""
    with engine.database.session() as session:
        suppressed = set(session.scalars(select(SuppressionRecord.email)))
    addressed = [r for r in targeted if r.get("email")]
    kept = [r for r in addressed if normalise_address(r["email"]) not in suppressed]
    for reason, count in (("noAddress", len(targeted) - len(addressed)), ("suppressed", len(addressed) - len(kept))):
        if count:
            excluded[reason] = excluded.get(reason, 0) + count
    return kept


def _log_counts(engine: CampaignEngine, delivery_id: int) -> dict[str, int]:
    with engine.database.session() as session:
        query = select(BroadLogRecord.status, func.count()).where(BroadLogRecord.delivery_id == delivery_id)
        found: dict[str, int] = {status: count for status, count in session.execute(query.group_by("status"))}
    return {status: found.get(status, 0) for status in ("sent", "failed", "bounced", "pending")}


def _sent_in_last_hour(engine: CampaignEngine) -> list[float]:
    """When the messages of the last hour went out, on the monotonic clock the hourly window counts with."""
    if engine.settings.campaign_messages_per_hour is None:
        return []
    now, monotonic = utcnow(), time.monotonic()
    with engine.database.session() as session:
        times = session.scalars(select(BroadLogRecord.event_at).where(
            BroadLogRecord.status == "sent", BroadLogRecord.event_at > now - timedelta(hours=1)))  # fmt: skip
        return [monotonic - (now - moment).total_seconds() for moment in times]


def _finish(engine: CampaignEngine, delivery_id: int, state: str, counts: dict[str, Any], error: str | None) -> None:
    with engine.database.session() as session:
        delivery = session.get(DeliveryRecord, delivery_id)
        assert delivery is not None
        delivery.state, delivery.error, delivery.counts = state, error, counts


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m accord.campaign.sending DELIVERY_ID`: send a delivery of this home's instance and print its
    counts as JSON. `--renderer` and `--target` name a `module:attribute` to use instead of the delivery's own
    (a renderer class taking (engine, delivery_id), and a function returning (recipients, excluded))."""
    import argparse
    import json
    import sys

    from accord.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m accord.campaign.sending", description=main.__doc__)
    parser.add_argument("delivery_id", type=int)
    parser.add_argument("--renderer", help="module:attribute of a renderer class")
    parser.add_argument("--target", help="module:attribute of a targeting function")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    arguments = parser.parse_args(argv)
    try:
        engine = CampaignEngine.open(load_settings())
        try:
            renderer = _named(arguments.renderer)(engine, arguments.delivery_id) if arguments.renderer else None
            recipients = _named(arguments.target)(engine, arguments.delivery_id)[0] if arguments.target else None
            counts = send_delivery(engine, arguments.delivery_id, renderer, recipients=recipients,
                                   batch_size=arguments.batch_size)  # fmt: skip
        finally:
            engine.close()
    except AccordError as exc:
        print(f"error {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    print(json.dumps(counts))
    return 0


def _named(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


if __name__ == "__main__":
    raise SystemExit(main())
