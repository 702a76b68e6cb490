"""The delivery engine: one lane per destination, each with its own queue, gatherer and senders.

A lane takes profiles (rows as dicts, or `OutgoingProfile`s: an activation run's come as JSON text),
gathers them into batches (at most `max_profiles_per_request` profiles, and never older than
`max_batch_age_seconds`), has the destination turn each batch into requests, and sends them through
its `Sender` (its own connections, pace, circuit breaker and tries). A profile's rows always fall into
the same of the lane's `requests_in_flight` partitions (by a hash of its id), and each partition sends
one request at a time: requests of different profiles go out side by side, a profile's requests in
the order its rows came. A request given up after its last try becomes a dead letter. Lanes share
nothing: one whose receiver is down or slow holds up no other.

`deliver` runs one lane over the rows of a run and says what happened (`DeliveryResult`).
"""

from __future__ import annotations

import asyncio
import logging
import operator
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import Any

from accord.destinations.outgoing import OutgoingProfile, OutgoingProfiles
from accord.destinations.spec import (
    ProfileRow,
    RequestContext,
    StreamingDestination,
)
from accord.destinations.streaming.deadletters import DeadLetter, DeadLetterSink, MemoryDeadLetters, request_document
from accord.destinations.streaming.sending import Outcome, Sender
from accord.errors import AccordError

log = logging.getLogger("accord.destinations.streaming")

CHUNK = 1000
"""Rows a lane's queue takes at a time (a queue item per row would cost more than the rows)."""
NOT_CARRIED = "no identity or value the destination accepts"


@dataclass
class DeliveryResult:
    """What a delivery did: requests, tries, profiles delivered and failed (with why), dead letters."""

    requests: int = 0
    """Requests sent, each counted once whatever its tries."""
    retries: int = 0
    """Tries after the first."""
    rows_delivered: int = 0
    rows_failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    """Profiles that failed, by reason (`HTTP 503`, `ReadTimeout: ...`, `circuit open: ...`)."""
    dead_letters: list[str] = field(default_factory=list)
    """Ids of the dead letters this delivery filed."""
    seconds: float = 0.0

    def fail(self, reason: str, rows: int) -> None:
        self.rows_failed += rows
        self.failures[reason] = self.failures.get(reason, 0) + rows

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "retries": self.retries, "rowsDelivered": self.rows_delivered,
                "rowsFailed": self.rows_failed, "failures": dict(self.failures),
                "deadLetters": list(self.dead_letters), "seconds": round(self.seconds, 3)}  # fmt: skip


class Lane:
    """One destination's queue, gatherer and senders. `start`, `put` rows, then `close` for the result."""

    def __init__(
        self,
        destination: StreamingDestination,  # type: ignore[type-arg]
        context: RequestContext | None = None,
        dead_letters: DeadLetterSink | None = None,
        *,
        name: str | None = None,
        wait_when_open: bool = False,
        queue_chunks: int = 64,
    ) -> None:
        self.destination = destination
        self.context = context or RequestContext()
        self.name = name or self.context.destination or destination.spec.id
        self.dead_letters = dead_letters if dead_letters is not None else MemoryDeadLetters()
        self.sender = Sender(destination, self.name, wait_when_open=wait_when_open)
        self.result = DeliveryResult()
        self.partitions = max(1, destination.spec.limits.requests_in_flight)
        self.queue: asyncio.Queue[OutgoingProfiles | None] = asyncio.Queue(queue_chunks)
        self.outboxes: list[asyncio.Queue[OutgoingProfiles | None]] = [asyncio.Queue(2) for _ in range(self.partitions)]
        self.tasks: list[asyncio.Task[None]] = []
        self.started = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        self.tasks = [asyncio.create_task(self._gather(), name=f"{self.name}-gather")]
        self.tasks += [asyncio.create_task(self._send(i), name=f"{self.name}-send-{i}") for i in range(self.partitions)]

    async def put(self, rows: Sequence[ProfileRow | OutgoingProfile]) -> None:
        """Queue rows; waits while the lane's queue is full (only this lane's producer waits)."""
        profiles = OutgoingProfiles.of(rows)
        for start in range(0, len(profiles), CHUNK):
            await self.queue.put(profiles[start : start + CHUNK])

    async def close(self) -> DeliveryResult:
        """Send what is queued and gathered, wait for the last answer, and say what happened."""
        await self.queue.put(None)
        try:
            await asyncio.gather(*self.tasks)
        finally:
            await self.sender.aclose()
        self.result.retries = self.sender.retries
        self.result.seconds = time.monotonic() - self.started
        return self.result

    async def abandon(self) -> DeliveryResult:
        """Stop at once: what is queued, gathered or being tried is dropped (neither delivered nor filed)."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.sender.aclose()
        self.result.retries = self.sender.retries
        self.result.seconds = time.monotonic() - self.started
        return self.result

    async def _gather(self) -> None:
        """Gather rows by partition; a batch leaves when full or when its oldest row is `max_batch_age` old."""
        aggregation = self.destination.aggregation
        size, age = max(1, aggregation.max_profiles_per_request), aggregation.max_batch_age_seconds
        batches: list[list[OutgoingProfiles]] = [[] for _ in range(self.partitions)]
        held = [0] * self.partitions
        born: list[float] = [0.0] * self.partitions

        async def leave(p: int) -> None:
            await self.outboxes[p].put(OutgoingProfiles.joined(batches[p]))
            batches[p], held[p] = [], 0

        while True:
            waiting = [born[p] + age for p in range(self.partitions) if held[p]]
            timeout = max(0.0, min(waiting) - time.monotonic()) if waiting else None
            try:
                # not `wait_for`: on Python 3.11 it swallows a cancellation that comes as a chunk arrives, and an
                # abandoned lane's gatherer would then wait for ever
                async with asyncio.timeout(timeout):
                    chunk = await self.queue.get()
            except TimeoutError:
                now = time.monotonic()
                for p in range(self.partitions):
                    if held[p] and born[p] + age <= now:
                        await leave(p)
                continue
            if chunk is None:
                break
            for p, part in enumerate(self._split(chunk)):
                while len(part):
                    if not held[p]:
                        born[p] = time.monotonic()
                    room = size - held[p]
                    batches[p].append(part[:room])
                    held[p] += min(room, len(part))
                    part = part[room:]
                    if held[p] >= size:
                        await leave(p)
        for p in range(self.partitions):
            if held[p]:
                await leave(p)
            await self.outboxes[p].put(None)

    def _split(self, chunk: OutgoingProfiles) -> list[OutgoingProfiles]:
        """A chunk's profiles by partition (the CRC-32 of the profile's id), each part in the chunk's order.

        Written with `map` and a sort over the chunk's columns, so that no Python code runs per profile."""
        if self.partitions == 1:
            return [chunk]
        keys = list(map(operator.mod, map(zlib.crc32, map(str.encode, chunk.ids)), repeat(self.partitions)))
        return chunk.grouped(keys, self.partitions)

    async def _send(self, partition: int) -> None:
        outbox = self.outboxes[partition]
        while (batch := await outbox.get()) is not None:
            try:
                requests = self.destination.requests_for(batch, self.context)
            except AccordError as exc:  # a template that fails for these rows fails them all; the rest go on
                log.warning("%s: %d profiles not sent: %s", self.name, len(batch), exc.message)
                self.result.fail(exc.message, len(batch))
                continue
            # the usual case, told apart without a Python step per row: the requests carry the batch's rows in
            # its order, each row once (each request then counts the rows it carries)
            exact = [*chain.from_iterable(request.profile_ids for request in requests)] == batch.ids
            rows: Counter[str] = Counter() if exact else Counter(batch.ids)
            if not exact:
                carried: set[str] = set()
                for request in requests:
                    carried.update(request.profile_ids)
                left_out = sum(rows[profile] for profile in rows.keys() - carried)
                if left_out:
                    self.result.fail(NOT_CARRIED, left_out)
            for request in requests:
                self.result.requests += 1
                outcome = await self.sender.send(request)
                # each request counts the rows it carries; past the exact case, a profile's rows count with the
                # first request that carries it
                counted = (len(request.profile_ids) if exact
                           else sum(map(rows.pop, dict.fromkeys(request.profile_ids), repeat(0))))  # fmt: skip
                if outcome.delivered:
                    self.result.rows_delivered += counted
                else:
                    await self._bury(outcome, counted)

    async def _bury(self, outcome: Outcome, rows: int) -> None:
        reason = outcome.reason or "not delivered"
        self.result.fail(reason, rows)
        letter = DeadLetter(
            request=request_document(outcome.request, self.sender.redact),
            # why it was given up goes with the last answer (the table has no column of its own for it)
            answer=(outcome.answer.to_dict() if outcome.answer else {"status": None, "body": "", "error": None})
            | {"reason": reason},
            attempts=outcome.attempts,
            reason=reason,
        )
        letter_id = await asyncio.to_thread(self.dead_letters.put, letter)
        self.result.dead_letters.append(letter_id)
        log.warning("%s: a request of %d profiles was given up after %d tries (%s); dead letter %s",
                    self.name, len(outcome.request.profile_ids), outcome.attempts, reason, letter_id)  # fmt: skip


async def deliver_async(
    destination: StreamingDestination,  # type: ignore[type-arg]
    rows: Iterable[ProfileRow | OutgoingProfile | OutgoingProfiles]
    | AsyncIterable[ProfileRow | OutgoingProfile | OutgoingProfiles],
    context: RequestContext | None = None,
    dead_letters: DeadLetterSink | None = None,
    wait_when_open: bool = False,
) -> DeliveryResult:
    """Deliver `rows` to `destination` in a lane of its own; see `deliver`."""
    lane = Lane(destination, context, dead_letters, wait_when_open=wait_when_open)
    lane.start()
    try:
        chunk: list[ProfileRow | OutgoingProfile] = []
        if isinstance(rows, AsyncIterable):
            # rows that come one at a time go to the lane as they come, so that its gatherer keeps to the
            # destination's max batch age (a chunk held here would wait for the source, however long it takes)
            async for row in rows:
                await lane.put(row if isinstance(row, OutgoingProfiles) else [row])
        else:
            for item in rows:
                if isinstance(item, OutgoingProfiles):  # a batch of columns goes as it is
                    if chunk:
                        await lane.put(chunk)
                        chunk = []
                    await lane.put(item)
                    continue
                chunk.append(item)
                if len(chunk) >= CHUNK:
                    await lane.put(chunk)
                    chunk = []
        await lane.put(chunk)
    except BaseException:
        await lane.abandon()
        raise
    return await lane.close()


def deliver(
    destination: StreamingDestination,  # type: ignore[type-arg]
    rows: Iterable[ProfileRow | OutgoingProfile | OutgoingProfiles],
    context: RequestContext | None = None,
    dead_letters: DeadLetterSink | None = None,
    wait_when_open: bool = False,
) -> DeliveryResult:
    """Deliver the rows of a run to a streaming destination and say what happened.

    Rows are gathered into requests (the destination's aggregation), paced (its limits or the account's),
    tried again on network errors, 408, 429 (after its `Retry-After`) and 5xx; a request still refused
    after its last try becomes a dead letter in `dead_letters` (`CatalogDeadLetters` for a flow's run;
    in memory when none is given). With `wait_when_open`, requests wait while the circuit breaker is open
    instead of becoming dead letters at once (a follower of membership changes, which has time). Blocks
    until the last answer; call it from a thread of its own, not from a running event loop (use
    `deliver_async` there). An error raised by `rows` stops the delivery (what is queued is dropped) and
    reaches the caller. `rows` may give `OutgoingProfiles` too, a batch of profiles each (an activation
    run's come so)."""
    return asyncio.run(deliver_async(destination, rows, context, dead_letters, wait_when_open))
