"""The event log on NATS JetStream: the `EventLog` of the embedded log, for a log that many processes and
machines share (a JetStream cluster replicates it).

What the server keeps
- One stream (`ACCORD_EVENTS` by default, file storage) with one subject per message:
  `accord.<stream>.<key>`, where the key is a hash of the message's inlet and id. A message's `seq` is its
  stream sequence; the inlet and the id travel in headers, the body as the payload, and the time the
  server stored it is the message's `received`.
- The consumers' positions, in a key-value bucket `<stream>_POSITIONS` (one key per consumer).

Idempotence for ever, not for a window. JetStream drops a second message with the same `Nats-Msg-Id`
only within its duplicate window (two minutes by default). The stream is therefore also told to keep at
most one message per subject and to refuse, rather than replace, a second one (`max_msgs_per_subject=1`,
`discard=new`, `discard_new_per_subject`): since the subject names (inlet, message id), the server itself
refuses a message sent again a year later, in the same atomic step that stores messages. A claim in a
separate key-value bucket, the other way, takes two writes per message and leaves a gap between them: a
writer that dies after one and before the other leaves a claim without a message (lost) or a message
without a claim (kept twice). Here there is one write, and a refused one looks up the message it met by
its subject, to answer with its `seq`. The price is the server's index of subjects (one entry per
message), which a key-value claim would pay all the same, since a bucket is a stream of one subject per
key; and the log must never be trimmed by age or size, which would forget ids along with messages
(the embedded log never trims either).

Durable means the server acknowledged the publication: the message is stored (on a cluster, on a
majority of replicas). A single server writes to its files at once but syncs them to disk every two
minutes by default (`sync_interval`; `always` in the server's configuration syncs each write).

Positions never go back: a commit reads the consumer's key and writes only a higher position, with the
revision it read as the expected one, and reads again when another writer came in between.

The client library is asynchronous; this log runs it on an event loop in a thread of its own, so that
its callers (inlets, the processor) stay synchronous: `append` returns a `concurrent.futures.Future`,
and the other calls wait for their answer. An append publishes all its messages at once, each with a reply
subject of its own under one subscription for the log's life, and awaits their acknowledgements together
(within the timeout); appends from many threads are in flight together. (The library's own `publish`
makes a request with a timer per message, and its `publish_async` draws a random token per message:
either took most of the time of an append of many messages.) What goes wrong on the NATS side
(no server, no answer in time, a server-side error) is raised as `LogUnavailableError`, naming the
server without credentials.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import itertools
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Coroutine, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import DiscardPolicy, KeyValueConfig, StorageType, StreamConfig
from nats.js.kv import KeyValue

from accord.errors import InvalidInputError
from accord.streaming.exceptions import LogClosedError, LogConfigurationError, LogUnavailableError
from accord.streaming.log import Appended, Entry, Stored

T = TypeVar("T")
log = logging.getLogger(__name__)

INLET_HEADER = "Accord-Inlet"
MESSAGE_ID_HEADER = "Accord-Message-Id"
PER_SUBJECT_LIMIT = 10077
"""JetStream's error code for a message refused by a limit of the stream: with the description "maximum messages
per subject exceeded", because its subject already holds one."""
ACK_TIMEOUTS = 5
"""An append waits for its acknowledgements at most this many timeouts, however busy the server is."""
_STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,200}")  # also a valid key-value bucket name, once suffixed


class NatsEventLog:
    """The event log on NATS JetStream (see the module's docstring); safe to share between threads.

    `url` is a NATS URL (`nats://host:4222`, `tls://...`, credentials in it as NATS reads them), or several
    separated by commas. The stream and the bucket of positions are created when missing; an existing
    stream must keep one message per subject. `timeout` bounds each exchange with the server, `replicas`
    is the streams' replication on a cluster."""

    def __init__(
        self,
        url: str,
        stream: str = "ACCORD_EVENTS",
        *,
        timeout: float = 5.0,
        replicas: int = 1,
        duplicate_window: float = 120.0,
    ) -> None:
        if not _STREAM_NAME.fullmatch(stream):
            raise InvalidInputError(f"a stream name of letters, digits, `_` and `-` is needed, not {stream!r}")
        self.url = url
        self.stream = stream
        self.shown_url = shown_url(url)
        """The URL without credentials: the one errors and logs name."""
        self._subject = f"accord.{stream}"
        self._timeout = timeout
        self._closed = False
        self._lifecycle = threading.Lock()
        self._in_flight: set[concurrent.futures.Future[Any]] = set()
        self._tokens = itertools.count()
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        """Publications waiting for their acknowledgement, by the token of their reply subject."""
        self._last_reply = 0.0
        """When the last acknowledgement came (the loop's clock)."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"event-log-{stream}", daemon=True)
        self._thread.start()
        try:
            self._connection, self._positions = self._wait(self._open(replicas, duplicate_window))
            self._jetstream = self._connection.jetstream(timeout=self._timeout)
            self._reply_prefix = f"{self._connection.new_inbox()}."
            self._replies: Subscription = self._wait(self._subscribe_replies())
        except BaseException:
            if hasattr(self, "_connection"):  # opened, then the subscription failed
                with contextlib.suppress(Exception):
                    self._wait(self._connection.close())
            self._stop_loop()
            raise

    # -- the protocol ---------------------------------------------------------------------------------------------

    def append(self, entries: Sequence[Entry]) -> concurrent.futures.Future[list[Appended]]:
        """Publish the entries together; the future resolves once the server acknowledged them all."""
        if not entries:
            done: concurrent.futures.Future[list[Appended]] = concurrent.futures.Future()
            done.set_result([])
            return done
        return self._submit(self._append(list(entries)))

    def read(self, after: int, limit: int) -> list[Stored]:
        return self._wait(self._read(after, limit))

    def position(self, consumer: str) -> int:
        return self._wait(self._position(consumer))

    def commit(self, consumer: str, position: int) -> None:
        self._wait(self._commit(consumer, position))

    def last(self) -> int:
        return self._wait(self._last())

    def close(self) -> None:
        """Wait for the appends in flight (each bounded by the timeout), then close the connection."""
        with self._lifecycle:
            if self._closed:
                return
            self._closed = True
            in_flight = set(self._in_flight)
        concurrent.futures.wait(in_flight, timeout=2 * self._timeout)
        try:
            asyncio.run_coroutine_threadsafe(self._connection.close(), self._loop).result(self._timeout)
        except (nats.errors.Error, OSError, TimeoutError) as exc:  # closing: nothing is left to lose
            log.debug("closing the connection to %s: %r", self.shown_url, exc)
        finally:
            self._stop_loop()

    # -- on the event loop ----------------------------------------------------------------------------------------

    async def _open(self, replicas: int, duplicate_window: float) -> tuple[Client, KeyValue]:
        async with self._failures():
            connection = await nats.connect(
                [server.strip() for server in self.url.split(",")],
                name="accord-event-log",
                connect_timeout=max(1, round(self._timeout)),
                reconnect_time_wait=1,
                max_reconnect_attempts=1,  # at the first connection: fail fast when no server answers
                error_cb=self._note_error,
            )
        # Once connected, never give up reconnecting: a client that gave up would refuse every later call,
        # when the server may well come back. nats-py reads this option at each reconnection.
        connection.options["max_reconnect_attempts"] = -1
        try:
            async with self._failures():
                positions = await self._prepare(connection, replicas, duplicate_window)
        except BaseException:
            await connection.close()
            raise
        return connection, positions

    async def _prepare(self, connection: Client, replicas: int, duplicate_window: float) -> KeyValue:
        """The stream and the bucket of positions, created when missing."""
        jetstream = connection.jetstream(timeout=self._timeout)
        wanted = StreamConfig(
            name=self.stream,
            description="Accord's event log: one message per subject, a subject per (inlet, message id)",
            subjects=[f"{self._subject}.*"],
            storage=StorageType.FILE,
            num_replicas=replicas,
            discard=DiscardPolicy.NEW,
            discard_new_per_subject=True,
            max_msgs_per_subject=1,
            duplicate_window=duplicate_window,
            allow_direct=True,
        )
        try:
            info = await jetstream.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            info = await jetstream.add_stream(wanted)
        self._check(info.config)
        bucket = f"{self.stream}_POSITIONS"
        try:
            return await jetstream.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            return await jetstream.create_key_value(
                KeyValueConfig(bucket=bucket, description="Accord's event log: consumers' positions", history=1,
                               storage=StorageType.FILE, replicas=replicas)
            )  # fmt: skip

    def _check(self, config: StreamConfig) -> None:
        """An existing stream must keep the promises this log makes (made by another tool, or by hand)."""
        problems = []
        if f"{self._subject}.*" not in (config.subjects or []):
            problems.append(f"its subjects do not include {self._subject}.*")
        one_per_subject = config.max_msgs_per_subject == 1 and config.discard_new_per_subject
        if not one_per_subject or config.discard != DiscardPolicy.NEW:
            problems.append("it does not refuse a second message per subject (ids would be kept twice)")
        if config.storage != StorageType.FILE:
            problems.append("it is kept in memory, not in files")
        if not config.allow_direct:
            problems.append("it does not allow direct reads")
        if problems:
            raise LogConfigurationError(
                f"the stream {self.stream} at {self.shown_url} cannot hold Accord's event log: " + "; ".join(problems),
                stream=self.stream,
                problems=problems,
            )

    async def _append(self, entries: list[Entry]) -> list[Appended]:
        """All the entries published at once, each with a reply subject of its own under one subscription (no
        request, timer or random token per message), then their acknowledgements awaited together: as long as
        the server answers (an acknowledgement came within the timeout, for this append or another; many
        appends at once on a busy machine take a while), and never past `ACK_TIMEOUTS` timeouts (a reply lost
        in a reconnection never comes)."""
        sent: list[tuple[str, str, asyncio.Future[dict[str, Any]]]] = []  # (key, token, acknowledgement)
        acknowledged: asyncio.Future[list[Appended]] | None = None
        async with self._failures():
            try:
                for entry in entries:
                    sent.append(self._waiter(entry))
                    await self._publish(entry, sent[-1])
                acknowledged = asyncio.gather(*(self._acknowledged(key, reply) for key, _token, reply in sent))
                started = self._loop.time()
                while True:
                    await asyncio.wait({acknowledged}, timeout=self._timeout)
                    if acknowledged.done():
                        return list(acknowledged.result())
                    now = self._loop.time()
                    if now - self._last_reply >= self._timeout or now - started >= ACK_TIMEOUTS * self._timeout:
                        raise TimeoutError
            finally:  # after a failure (a publication refused half-way, say) or the timeout, nothing waits on
                for _key, token, future in sent:
                    self._waiting.pop(token, None)
                    future.cancel()
                if acknowledged is not None and not acknowledged.done():
                    acknowledged.cancel()

    async def _subscribe_replies(self) -> Subscription:
        async with self._failures():
            return await self._connection.subscribe(f"{self._reply_prefix}*", cb=self._on_reply)

    def _waiter(self, entry: Entry) -> tuple[str, str, asyncio.Future[dict[str, Any]]]:
        """An entry's key (`message_key`), and the token and future its acknowledgement will come to."""
        token = str(next(self._tokens))
        future: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self._waiting[token] = future
        return message_key(entry.inlet, entry.message_id), token, future

    async def _publish(self, entry: Entry, waiter: tuple[str, str, asyncio.Future[dict[str, Any]]]) -> None:
        key, token, _future = waiter
        subject = f"{self._subject}.{key}"
        headers = {
            "Nats-Msg-Id": key,
            "Nats-Expected-Stream": self.stream,
            INLET_HEADER: quote(entry.inlet, safe=""),
            MESSAGE_ID_HEADER: quote(entry.message_id, safe=""),
        }
        await self._connection.publish(subject, entry.body, reply=f"{self._reply_prefix}{token}", headers=headers)

    async def _on_reply(self, reply: Msg) -> None:
        self._last_reply = self._loop.time()
        future = self._waiting.pop(reply.subject[len(self._reply_prefix) :], None)
        if future is None or future.done():  # waited for no more (timed out)
            return
        if (reply.headers or {}).get("Status") == "503":
            future.set_exception(nats.js.errors.NoStreamResponseError())
            return
        try:
            future.set_result(json.loads(reply.data))
        except ValueError as exc:
            future.set_exception(nats.errors.Error(f"an acknowledgement that is not JSON: {exc}"))

    async def _acknowledged(self, key: str, reply: asyncio.Future[dict[str, Any]]) -> Appended:
        answer = await reply
        if "error" not in answer:
            return Appended(int(answer["seq"]), bool(answer.get("duplicate")))
        error = answer["error"]
        # the code is JetStream's for any limit of the stream; only the one per subject means "sent before"
        if error.get("err_code") != PER_SUBJECT_LIMIT or "per subject" not in str(error.get("description", "")):
            raise nats.js.errors.APIError(**error)
        # sent before, outside the duplicate window: the stream refused it; answer with the one it keeps
        kept = await self._jetstream.get_last_msg(self.stream, f"{self._subject}.{key}", direct=True)
        assert kept.seq is not None
        return Appended(kept.seq, True)

    async def _read(self, after: int, limit: int) -> list[Stored]:
        """Direct gets in batches (`{"seq", "batch"}`, NATS 2.11): stateless, no consumer to create per read."""
        found: list[Stored] = []
        async with self._failures():
            inbox = self._connection.new_inbox()
            replies = await self._connection.subscribe(inbox)
            try:
                left_after = 1
                while len(found) < limit and left_after > 0:
                    start = found[-1].seq + 1 if found else after + 1
                    request = json.dumps({"seq": start, "batch": limit - len(found)}).encode()
                    await self._connection.publish(f"$JS.API.DIRECT.GET.{self.stream}", request, reply=inbox)
                    while True:
                        reply = await replies.next_msg(timeout=self._timeout)
                        status = (reply.headers or {}).get("Status")
                        if status is None:
                            found.append(self._stored(reply))
                        elif status == "404":  # nothing at or after `start`
                            left_after = 0
                            break
                        elif status == "204":  # the end of this batch, with how many are left after it
                            left_after = int((reply.headers or {}).get("Nats-Num-Pending", 0))
                            break
                        else:
                            description = (reply.headers or {}).get("Description", "")
                            raise nats.js.errors.APIError(code=int(status), description=description)
            finally:
                await replies.unsubscribe()
        return found

    @staticmethod
    def _stored(reply: Msg) -> Stored:
        headers = reply.headers or {}
        stamp = datetime.fromisoformat(headers["Nats-Time-Stamp"])
        return Stored(
            seq=int(headers["Nats-Sequence"]),
            inlet=unquote(headers[INLET_HEADER]),
            message_id=unquote(headers[MESSAGE_ID_HEADER]),
            received=stamp.timestamp(),
            body=reply.data,
        )

    async def _position(self, consumer: str) -> int:
        async with self._failures():
            try:
                entry = await self._positions.get(consumer_key(consumer))
            except nats.js.errors.NotFoundError:
                return 0
            return int(entry.value or 0)

    async def _commit(self, consumer: str, position: int) -> None:
        key, value = consumer_key(consumer), str(position).encode()
        async with self._failures():
            while True:  # compare and set: a position only goes forward, whoever else commits meanwhile
                try:
                    entry = await self._positions.get(key)
                except nats.js.errors.NotFoundError:
                    with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
                        await self._positions.create(key, value)
                        return
                    continue
                if int(entry.value or 0) >= position:
                    return
                with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
                    await self._positions.update(key, value, last=entry.revision)
                    return

    async def _last(self) -> int:
        async with self._failures():
            info = await self._jetstream.stream_info(self.stream)
        return int(info.state.last_seq)

    @contextlib.asynccontextmanager
    async def _failures(self) -> AsyncIterator[None]:
        """NATS's errors as Accord's, chained, naming the server without credentials."""
        try:
            yield
        except nats.js.errors.APIError as exc:
            reason = f"the server answered {exc.code}: {exc.description or type(exc).__name__}"
            raise LogUnavailableError(self.shown_url, reason) from exc
        except (TimeoutError, nats.errors.TimeoutError) as exc:
            raise LogUnavailableError(self.shown_url, f"no answer within {self._timeout:g} s") from exc
        except nats.errors.NoServersError as exc:
            raise LogUnavailableError(self.shown_url, "no NATS server answers there") from exc
        except (nats.errors.Error, OSError) as exc:
            raise LogUnavailableError(self.shown_url, str(exc) or type(exc).__name__) from exc

    async def _note_error(self, error: Exception) -> None:
        # nats-py would log each failed reconnection as an error with its traceback; the calls that fail
        # raise LogUnavailableError, which says it once
        log.debug("NATS connection to %s: %r", self.shown_url, error)

    # -- between the caller's thread and the loop's -------------------------------------------------------------

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        with self._lifecycle:
            if self._closed:
                coroutine.close()
                refused: concurrent.futures.Future[T] = concurrent.futures.Future()
                refused.set_exception(LogClosedError())
                return refused
            future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
            self._in_flight.add(future)
        future.add_done_callback(self._in_flight.discard)
        return future

    def _wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._submit(coroutine).result()

    def _stop_loop(self) -> None:
        """Stop the loop, its tasks first: a client closed while its server is away still has a reconnection
        under way, which would otherwise wake up on a closed loop."""
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_cancel_tasks(), self._loop).result(self._timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def _cancel_tasks() -> None:
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def message_key(inlet: str, message_id: str) -> str:
    """The subject token and `Nats-Msg-Id` of a message: a hash of its inlet and id (128 bits, hex).
    The inlet's length comes first, so that no two (inlet, id) pairs make the same text."""
    return hashlib.sha256(f"{len(inlet)}:{inlet}{message_id}".encode()).hexdigest()[:32]


def consumer_key(consumer: str) -> str:
    """A consumer's key in the bucket of positions: its name when NATS takes it as a key, else its hex."""
    if re.fullmatch(r"[A-Za-z0-9_-]+", consumer):
        return f"name.{consumer}"
    return f"hex.{consumer.encode().hex()}"


def shown_url(url: str) -> str:
    """The server URLs without their credentials (user, password or token), to name in messages."""
    shown = []
    for server in url.split(","):
        parts = urlsplit(server.strip() if "://" in server else f"nats://{server.strip()}")
        host = parts.hostname or ""
        shown.append(f"{parts.scheme}://{host}:{parts.port}" if parts.port else f"{parts.scheme}://{host}")
    return ",".join(shown)
