"""Fair turns between inlets: a flood from one inlet (one write key) starves no other.

Each inlet may have `most` requests in progress in the server's worker threads; its further requests wait
for a turn in the event loop (holding no worker, so other inlets' requests go on), at most `queue` of them;
past that, 429 with `Retry-After`. Ordinary traffic from many clients of one inlet only waits a moment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from accord.streaming.exceptions import InletBusyError


class InletTurns:
    """Turns per inlet, kept by the server's event loop (used from it only, so no lock is needed)."""

    def __init__(self, most: int, queue: int) -> None:
        self.most, self.queue = most, queue
        self._turns: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        users = self._users.get(key, 0)
        if users - min(users, self.most) >= self.queue:
            raise InletBusyError(key, self.most, self.queue)
        turns = self._turns.setdefault(key, asyncio.Semaphore(self.most))
        self._users[key] = users + 1
        try:
            async with turns:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:  # made-up keys (unknown inlets) leave nothing behind
                del self._users[key], self._turns[key]
