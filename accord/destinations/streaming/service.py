"""Streaming deliveries that keep running (`accord serve`): lanes opened per destination, fed as rows come.

The deliveries run on an event loop of their own, in a thread, so that the API and the scheduler never
wait for a receiver. Whoever produces rows for a flow (the consumer of its membership changes) calls
`submit` from its own thread: it waits only when that flow's lane is full, so a destination that is
down or slow slows its own producer and no other. An open circuit breaker holds a lane's requests
until the breaker lets a try through again, instead of filing them all as dead letters.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from accord.destinations.spec import OutgoingProfile, ProfileRow, RequestContext, StreamingDestination
from accord.destinations.streaming.deadletters import DeadLetterSink
from accord.destinations.streaming.lanes import DeliveryResult, Lane
from accord.errors import ConflictError, NotFoundError


class StreamingDeliveries:
    """A set of lanes, one per key (a flow's id), on one event loop in a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.lanes: dict[str, Lane] = {}
        self.thread = threading.Thread(target=self.loop.run_forever, name="streaming-deliveries", daemon=True)
        self.thread.start()

    def _run(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result()

    def open(
        self,
        key: str,
        destination: StreamingDestination,  # type: ignore[type-arg]
        context: RequestContext | None = None,
        dead_letters: DeadLetterSink | None = None,
    ) -> None:
        """Open the lane of `key`: its queue, gatherer and senders start waiting for rows."""
        if key in self.lanes:
            raise ConflictError(f"a streaming delivery is already open for {key!r}", code="ACTIVATION-0420-409")

        async def start() -> Lane:
            lane = Lane(destination, context, dead_letters, name=key, wait_when_open=True)
            lane.start()
            return lane

        self.lanes[key] = self._run(start())

    def submit(self, key: str, rows: Sequence[ProfileRow | OutgoingProfile]) -> None:
        """Queue rows for the lane of `key`; waits only while that lane's queue is full."""
        self._run(self._lane(key).put(rows))

    def stats(self, key: str) -> DeliveryResult:
        """What the lane of `key` has done so far."""
        return self._lane(key).result

    def close(self, key: str) -> DeliveryResult:
        """Send what the lane of `key` holds, wait for the last answer, and close it."""
        result: DeliveryResult = self._run(self._lane(key).close())
        del self.lanes[key]
        return result

    def abandon(self, key: str) -> DeliveryResult:
        """Close the lane of `key` at once, dropping what it holds (its producer resends from where it stood)."""
        result: DeliveryResult = self._run(self._lane(key).abandon())
        del self.lanes[key]
        return result

    def stop(self, drain: bool = True) -> dict[str, DeliveryResult]:
        """Close every lane, sending what they hold (`drain`) or dropping it, then the loop."""
        results = {key: self.close(key) if drain else self.abandon(key) for key in list(self.lanes)}
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()
        return results

    def _lane(self, key: str) -> Lane:
        lane = self.lanes.get(key)
        if lane is None:
            raise NotFoundError(f"no streaming delivery open for {key!r}", code="ACTIVATION-0421-404", key=key)
        return lane
