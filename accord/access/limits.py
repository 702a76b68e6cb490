"""A bound on failed authentications from one client address: past it, the address's failures are answered 429
until a minute has passed since the oldest of them.

A valid token or session always passes, so that a flood of wrong guesses from an address (or from the others
behind the same proxy) never keeps its rightful clients out; a request that carries no credentials at all is
no guess and is not counted. Sign-in counts each attempt as it begins (forgiven when it succeeds), so that
attempts sent together are bounded too. Kept in the memory of one process: each `accord serve` counts its
own."""

from __future__ import annotations

import threading
import time
from collections import deque

from accord.errors import AccordError

WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 10_000


class TooManyFailuresError(AccordError):
    code = "ACCESS-0444-429"
    kind = "busy"

    def __init__(self, wait: int) -> None:
        super().__init__(f"too many failed authentications from this address: try again in {wait} s", retryAfter=wait)


class FailureLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        """Refuse an address that failed too often in the last minute (`TooManyFailuresError`)."""
        with self._lock:
            self._refuse_past_bound(address)

    def failed(self, address: str) -> None:
        """Count a failure of `address`; refuse it instead (`TooManyFailuresError`) when it is past the bound."""
        with self._lock:
            self._refuse_past_bound(address)
            if len(self._failures) >= MAX_ADDRESSES and address not in self._failures:
                self._failures.clear()  # a flood from many addresses: forget, rather than grow without bound
            self._failures.setdefault(address, deque(maxlen=self.per_minute)).append(time.monotonic())

    def forgive(self, address: str) -> None:
        """Take back the latest failure counted for `address` (an attempt counted as it began, that succeeded)."""
        with self._lock:
            failures = self._failures.get(address)
            if failures:
                failures.pop()

    def _refuse_past_bound(self, address: str) -> None:
        failures = self._failures.get(address)
        if not failures:
            return
        now = time.monotonic()
        while failures and now - failures[0] >= WINDOW_SECONDS:
            failures.popleft()
        if len(failures) >= self.per_minute:
            raise TooManyFailuresError(max(1, int(WINDOW_SECONDS - (now - failures[0])) + 1))
