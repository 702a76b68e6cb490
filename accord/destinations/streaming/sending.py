"""Sending one destination's requests: its own connections, pace, circuit breaker and tries.

Nothing here is shared between destinations: each `Sender` has its own HTTP client (so a receiver that
holds its connections open cannot take another's), its own token buckets (aiolimiter: requests a
second, spaced evenly so that no second ever holds more; profiles a second), its own circuit breaker
(purgatory: after `failures_to_open` failed tries in a row it stops sending for `open_seconds`) and
the retry policy of `accord.retries` (tenacity). What comes back is an `Outcome`: delivered, or the
reason it was not and the last answer, with every secret of the account blotted out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from accord.destinations.spec import HttpRequest, StreamingDestination
from accord.errors import AccordError
from accord.retries import RetryableAnswer, async_retrying, worth_retrying

log = logging.getLogger("accord.destinations.streaming")

ANSWER_KEPT = 1000
"""Characters of an answer's body kept with a failure (enough to read the receiver's error)."""
HIDDEN = "***"


@dataclass(frozen=True)
class Answer:
    """What the receiver said to the last try: its status and the start of its body, or the network error."""

    status: int | None = None
    body: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body, "error": self.error}


@dataclass(frozen=True)
class Outcome:
    """How one request ended."""

    request: HttpRequest
    delivered: bool
    attempts: int
    answer: Answer | None = None
    reason: str | None = None
    """Why it was not delivered."""


class Redactor:
    """Blots the account's secrets (and the tokens its credentials obtained) out of what is kept or logged."""

    def __init__(self, secrets: Callable[[], list[str]]) -> None:
        self._secrets = secrets

    def __call__(self, text: str) -> str:
        for secret in sorted({s for s in self._secrets() if len(s) >= 4}, key=len, reverse=True):
            text = text.replace(secret, HIDDEN)
        return text


class RowsLimiter:
    """A token bucket of profiles a second holding one second's worth; a larger request takes it in turns."""

    def __init__(self, rows_per_second: float) -> None:
        self.bucket = AsyncLimiter(rows_per_second, 1)

    async def acquire(self, rows: int) -> None:
        while rows > 0:
            take = min(rows, self.bucket.max_rate)
            await self.bucket.acquire(take)
            rows -= int(take)


class Sender:
    """Sends one destination's requests; `wait_when_open` decides what an open circuit does to a request:
    fail it at once (a run: what is left becomes dead letters, replayed later) or wait for the breaker
    to let a try through again (`accord serve`, where rows keep coming)."""

    def __init__(self, destination: StreamingDestination, name: str, *, wait_when_open: bool = False) -> None:  # type: ignore[type-arg]
        self.destination = destination
        self.name = name
        self.wait_when_open = wait_when_open
        limits = destination.spec.limits
        self.client = httpx.AsyncClient(
            timeout=destination.timeout_seconds,
            limits=httpx.Limits(max_connections=max(1, limits.requests_in_flight)),
            follow_redirects=False,
        )
        self.auth = destination.auth()
        self.credentials = destination.credential_headers()
        rate = destination.requests_per_second
        # a bucket of one request leaking `rate` a second: requests are spaced 1/rate apart, so that no
        # window of one second ever sees more than `rate` of them (a larger bucket would allow bursts)
        self.requests_limiter = AsyncLimiter(1, 1 / rate) if rate else None
        rows_rate = destination.rows_per_second
        self.rows_limiter = RowsLimiter(rows_rate) if rows_rate else None
        self.breakers = AsyncCircuitBreakerFactory(default_threshold=limits.failures_to_open,
                                                   default_ttl=limits.open_seconds)  # fmt: skip
        self.open_seconds = limits.open_seconds
        self.redact = Redactor(self._secrets)
        self.retries = 0
        self.last_failure: str | None = None
        """What the last failed try met (an answer's status, a network error): said when the circuit opens."""

    def _secrets(self) -> list[str]:
        tokens = getattr(self.auth, "secret_values", None)
        return [*self.destination.secret_values(), *self.credentials.values(), *(tokens() if callable(tokens) else [])]

    async def aclose(self) -> None:
        await self.client.aclose()

    async def send(self, request: HttpRequest) -> Outcome:
        """Send one request with its tries; never raises for what the receiver or the network does."""
        tally = _Tally()
        while True:
            try:
                return await self._tries(request, tally)
            except OpenedState as opened:
                if not self.wait_when_open:
                    reason = f"circuit open: {self.destination.spec.limits.failures_to_open} tries failed in a row"
                    if self.last_failure:  # what made it open, which a user needs more than the circuit's state
                        reason += f", the last: {self.last_failure}"
                    return Outcome(request, False, tally.attempts, tally.last, reason)
                await asyncio.sleep(max(0.05, opened.opened_at + self.open_seconds - time.time()))

    async def _tries(self, request: HttpRequest, tally: _Tally) -> Outcome:
        def on_retry(state: Any) -> None:
            self.retries += 1
            said = (tally.last.error or tally.last.status) if tally.last else "?"
            log.info("%s: try %d of a request to %s failed (%s); trying again",
                     self.name, state.attempt_number, self.redact(request.url), said)  # fmt: skip

        try:
            async for attempt in async_retrying(self.destination.retry_policy, on_retry):
                with attempt:
                    await self._pace(request)
                    await self._try(request, tally)
        except RetryableAnswer:
            return Outcome(request, False, tally.attempts, tally.last, _status_reason(tally.last))
        except httpx.HTTPError as exc:
            tally.last = Answer(error=self.redact(f"{type(exc).__name__}: {exc}")[:500])
            return Outcome(request, False, tally.attempts, tally.last, tally.last.error)
        except AccordError as exc:  # credentials refused by a token endpoint, and the like: trying will not help
            tally.last = Answer(error=self.redact(exc.message)[:500])
            return Outcome(request, False, tally.attempts, tally.last, tally.last.error)
        answer = tally.last
        if answer is not None and answer.status is not None and answer.status < 300:
            return Outcome(request, True, tally.attempts, answer)
        return Outcome(request, False, tally.attempts, answer, _status_reason(answer))

    async def _pace(self, request: HttpRequest) -> None:
        if self.requests_limiter is not None:
            await self.requests_limiter.acquire()
        if self.rows_limiter is not None:
            await self.rows_limiter.acquire(len(request.profile_ids))

    async def _try(self, request: HttpRequest, tally: _Tally) -> None:
        """One try, inside the circuit breaker: a retryable answer or a network error counts against it."""
        breaker = await self.breakers.get_breaker(self.name)
        async with breaker:  # an open breaker raises here: the try is not made, nor counted
            tally.attempts += 1
            try:
                response = await self.client.request(
                    request.method, request.url, headers=request.headers | self.credentials, content=request.body,
                    auth=self.auth or httpx.USE_CLIENT_DEFAULT,
                )  # fmt: skip
            except httpx.HTTPError as exc:
                log.debug("%s: %s %s: %s", self.name, request.method, self.redact(request.url), type(exc).__name__)
                self.last_failure = type(exc).__name__
                raise
            tally.last = Answer(response.status_code, self.redact(response.text[:ANSWER_KEPT]))
            if worth_retrying(response.status_code):
                self.last_failure = f"HTTP {response.status_code}"
                raise RetryableAnswer(response)


@dataclass
class _Tally:
    attempts: int = 0
    last: Answer | None = None


def _status_reason(answer: Answer | None) -> str:
    return f"HTTP {answer.status}" if answer is not None and answer.status is not None else "no answer"
