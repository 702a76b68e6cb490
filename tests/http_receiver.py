"""A real HTTP/1.1 receiver on 127.0.0.1 that tests make misbehave on purpose.

It runs its own event loop in a thread of its own and speaks HTTP over plain asyncio streams, so that
it can do what a well-behaved server library would not: answer 429 with `Retry-After`, 5xx, answer
late (the sender times out), read a body one byte a second, or reset the connection halfway through
a body. It records every request it read (method, path, headers, the exact bytes of the body, when it
began and ended) and can stand for an OAuth2 token endpoint (client credentials) whose tokens expire
and can be revoked. Tests script it with `then(...)`; what is not scripted is answered 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

REASONS = {200: "OK", 401: "Unauthorized", 408: "Request Timeout", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}  # fmt: skip


@dataclass(frozen=True)
class Action:
    """What the receiver does with one request."""

    kind: str = "answer"
    """`answer`, `slow_read` (one byte a second, for ever) or `reset` (connection reset halfway through the body)."""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    delay: float = 0.0
    """Seconds to wait, once the body is read, before answering."""


def answer(status: int = 200, delay: float = 0.0, body: bytes = b'{"ok": true}', **headers: str) -> Action:
    return Action("answer", status, {k.replace("_", "-"): v for k, v in headers.items()}, body, delay)


def slow_read() -> Action:
    return Action("slow_read")


def reset() -> Action:
    return Action("reset")


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    started: float
    """`time.monotonic()` when its first line was read."""
    finished: float
    """`time.monotonic()` when its body was read whole (or the reading stopped)."""
    complete: bool
    status: int | None = None

    def json(self) -> Any:
        return json.loads(self.body)


class HttpReceiver:
    TOKEN_PATH = "/token"

    def __init__(self, keep_bodies: bool = True) -> None:
        """`keep_bodies=False` records requests without their bodies (a benchmark sends hundreds of megabytes)."""
        self.keep_bodies = keep_bodies
        self.received: list[Received] = []
        self.script: deque[Action] = deque()
        self.refusals: dict[bytes, Action] = {}
        self.default = answer()
        self.lock = threading.Lock()
        self.oauth: dict[str, Any] | None = None
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.loop = asyncio.new_event_loop()
        self.connections: set[asyncio.StreamWriter] = set()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), name="http-receiver", daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("the HTTP receiver did not start")
        self.url = f"http://127.0.0.1:{self.port}"

    # -- what tests call -------------------------------------------------------------------------------------------

    def then(self, *actions: Action, default: Action | None = None) -> HttpReceiver:
        """Do `actions` with the next requests, one each, then `default` (200 unless given) with every other."""
        with self.lock:
            self.script.extend(actions)
            if default is not None:
                self.default = default
        return self

    def refuse(self, marker: bytes, action: Action | None = None) -> HttpReceiver:
        """Answer `action` (503 by default) to every request whose body holds `marker`, whatever the script says."""
        with self.lock:
            self.refusals[marker] = action or answer(503)
        return self

    def allow(self, marker: bytes) -> HttpReceiver:
        """Lift a refusal (`refuse`)."""
        with self.lock:
            self.refusals.pop(marker, None)
        return self

    def require_oauth(self, client_id: str, client_secret: str, expires_in: float = 3600) -> None:
        """Serve tokens at /token for these client credentials; every other path then needs a valid one."""
        self.oauth = {"client_id": client_id, "client_secret": client_secret, "expires_in": expires_in}

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def requests(self, path: str | None = None, complete: bool = True) -> list[Received]:
        with self.lock:
            return [r for r in self.received if (path is None or r.path == path) and (r.complete or not complete)]

    def every_byte(self) -> bytes:
        """Everything it read: request lines, headers and bodies of every request, whole or not."""
        with self.lock:
            return b"\n".join(r.method.encode() + b" " + r.path.encode() + b"\n" +
                              json.dumps(r.headers).encode() + b"\n" + r.body for r in self.received)  # fmt: skip

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
            for writer in list(self.connections):
                writer.transport.abort()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    # -- the server ------------------------------------------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    def _next(self, path: str) -> Action:
        if self.oauth is not None and path == self.TOKEN_PATH:
            return Action("token")
        with self.lock:
            return self.script.popleft() if self.script else self.default

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.add(writer)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self.connections.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        started = time.monotonic()
        line, *lines = head.decode("latin-1").split("\r\n")
        method, target, _ = line.split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines if ":" in x)}
        length = int(headers.get("content-length", "0"))
        action = self._next(target)
        if action.kind == "slow_read":
            body = bytearray()
            while len(body) < length:
                byte = await reader.read(1)
                if not byte:
                    break
                body += byte
                self._record(method, target, headers, bytes(body), started, False, None, replace=True)
                await asyncio.sleep(1)
            return False
        if action.kind == "reset":
            body = await reader.readexactly(length // 2)
            self._record(method, target, headers, body, started, False, None)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()  # with SO_LINGER 0, the close is a reset (RST), not a goodbye
            return False
        body = await reader.readexactly(length)
        with self.lock:
            refused = next((a for marker, a in self.refusals.items() if marker in body), None)
        action = refused or action
        if action.kind == "token":
            action = self._token(body)
        elif self.oauth is not None and not self._authorised(headers.get("authorization", "")):
            action = answer(401, body=b'{"error": "invalid_token"}')
        self._record(method, target, headers, body, started, True, action.status)
        if action.delay:
            await asyncio.sleep(action.delay)
        extra = "".join(f"{k}: {v}\r\n" for k, v in action.headers.items())
        writer.write(f"HTTP/1.1 {action.status} {REASONS.get(action.status, 'Status')}\r\n"
                     f"Content-Length: {len(action.body)}\r\nContent-Type: application/json\r\n{extra}\r\n"
                     .encode() + action.body)  # fmt: skip
        await writer.drain()
        return True

    def _record(self, method: str, path: str, headers: dict[str, str], body: bytes, started: float,
                complete: bool, status: int | None, replace: bool = False) -> None:  # fmt: skip
        item = Received(method, path, headers, body if self.keep_bodies else b"", started, time.monotonic(),
                        complete, status)  # fmt: skip
        with self.lock:
            if replace and self.received and self.received[-1].started == started:
                self.received[-1] = item
            else:
                self.received.append(item)

    def _token(self, body: bytes) -> Action:
        assert self.oauth is not None
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        good = (form.get("grant_type") == "client_credentials" and form.get("client_id") == self.oauth["client_id"]
                and form.get("client_secret") == self.oauth["client_secret"])  # fmt: skip
        if not good:
            return answer(401, body=b'{"error": "invalid_client"}')
        token = "tok-" + secrets.token_hex(12)
        with self.lock:
            self.tokens[token] = time.monotonic() + self.oauth["expires_in"]
            self.tokens_issued += 1
        payload = {"access_token": token, "token_type": "Bearer", "expires_in": self.oauth["expires_in"]}
        return answer(200, body=json.dumps(payload).encode())

    def _authorised(self, header: str) -> bool:
        token = header.removeprefix("Bearer ").strip()
        with self.lock:
            return token in self.tokens and self.tokens[token] > time.monotonic()
