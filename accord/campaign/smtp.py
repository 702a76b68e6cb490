"""SMTP for deliveries: a pool of connections (aiosmtplib), each sending in turn, paced, retrying what may
succeed later. Knows nothing of the send log: it takes messages and tells what became of each.

Pacing is listmonk's: `connections` connections, each at most `rate` messages a second (a token
bucket of one), and optionally no more than `messages_per_hour` in any sliding hour. A 4xx answer
(greylisting, a full mailbox, a busy server) and a dropped connection are retried with exponential
back-off, the latter on a new connection; a 5xx answer for a recipient is a hard bounce and final. A
server that cannot be reached after every retry stops the whole delivery (`SmtpUnavailableError`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import aiosmtplib
from pydantic import SecretStr

from accord.campaign.exceptions import SmtpSecurityError
from accord.settings import Settings

log = logging.getLogger("accord.campaign")

Status = Literal["sent", "bounced", "failed", "pending"]


@dataclass(frozen=True)
class SmtpOptions:
    """Where and how to send: the `campaign_smtp_*` settings."""

    host: str
    port: int
    user: str | None = None
    password: SecretStr | None = None
    starttls: Literal["auto", "always", "never"] = "auto"
    verify_tls: bool = True
    timeout: float = 30.0
    connections: int = 4
    rate: float = 0.0
    messages_per_hour: int | None = None
    retries: int = 3
    backoff: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpOptions:
        return cls(settings.campaign_smtp_host, settings.campaign_smtp_port, settings.campaign_smtp_user,
                   settings.campaign_smtp_password, settings.campaign_smtp_starttls, settings.campaign_smtp_verify_tls,
                   settings.campaign_smtp_timeout, settings.campaign_smtp_connections, settings.campaign_smtp_rate,
                   settings.campaign_messages_per_hour, settings.campaign_smtp_retries,
                   settings.campaign_smtp_backoff)  # fmt: skip

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Envelope:
    """One message to send: its send-log row, the envelope addresses and the bytes."""

    broadlog_id: int
    sender: str
    recipient: str
    data: bytes
    message_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of a message: `sent`, `bounced` (a 5xx answer), `failed` (4xx or dropped past every
    retry), or `pending` (never handed to the server: the delivery stopped before its turn)."""

    broadlog_id: int
    status: Status
    reason: str = ""
    message_id: str | None = None
    attempts: int = 0


class _ConnectionLost(Exception):
    """The server was unreachable or hung up: the message is tried again on a new connection."""


class ServerUnreachable(Exception):
    """No connection to the server could be made after every retry."""

    def __init__(self, attempts: int, reason: str) -> None:
        super().__init__(reason)
        self.attempts, self.reason = attempts, reason


class BatchStopped(Exception):
    """A batch stopped part-way (`cause`: `ServerUnreachable` or `SmtpSecurityError`); `outcomes` says what
    became of each message, those not handed to the server being `pending`."""

    def __init__(self, cause: Exception, outcomes: list[Outcome]) -> None:
        super().__init__(str(cause))
        self.cause, self.outcomes = cause, outcomes


class HourlyWindow:
    """At most `limit` messages in any sliding hour, shared by the pool's connections."""

    def __init__(self, limit: int | None, earlier: Sequence[float] = ()) -> None:
        self.limit = limit
        self._times: deque[float] = deque(sorted(earlier))  # monotonic times of sends in the last hour

    async def wait(self) -> None:
        if self.limit is None:
            return
        while True:
            now = time.monotonic()
            while self._times and self._times[0] <= now - 3600:
                self._times.popleft()
            if len(self._times) < self.limit:
                self._times.append(now)
                return
            await asyncio.sleep(self._times[0] + 3600 - now)


class Connection:
    """One SMTP connection of the pool: connects when first needed and again after a drop, paced alone."""

    def __init__(self, options: SmtpOptions, window: HourlyWindow) -> None:
        self.options, self.window = options, window
        self._client: aiosmtplib.SMTP | None = None
        self._next_send = 0.0

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        options = self.options
        tls: bool | None = {"auto": None, "always": True, "never": False}[options.starttls]
        client = aiosmtplib.SMTP(hostname=options.host, port=options.port, timeout=options.timeout, start_tls=tls,
                                 validate_certs=options.verify_tls)  # fmt: skip
        try:
            await client.connect()
            if options.user and options.password is not None:
                await client.login(options.user, options.password.get_secret_value())
        except aiosmtplib.SMTPAuthenticationError:
            _hang_up(client)
            raise SmtpSecurityError(options.server, f"refused the credentials of user {options.user!r}") from None
        except aiosmtplib.SMTPException as exc:
            _hang_up(client)
            if options.user and "AUTH EXTENSION IS NOT SUPPORTED" in str(exc).upper():
                # a setting to mend, not a server to wait for: no retry will make it offer AUTH
                raise SmtpSecurityError(options.server, "does not offer AUTH, and the settings give a user "
                                        "(campaign_smtp_user): remove it, or use a server that takes "
                                        "logins") from None  # fmt: skip
            if options.starttls == "always" and "STARTTLS" in str(exc).upper():
                raise SmtpSecurityError(options.server, "does not offer STARTTLS, which the settings require "
                                        "(campaign_smtp_starttls = always)") from None  # fmt: skip
            raise _ConnectionLost(_reason(exc)) from exc
        except (OSError, TimeoutError) as exc:
            _hang_up(client)
            raise _ConnectionLost(_reason(exc)) from exc
        except BaseException:  # cancelled mid-handshake (another connection stopped the batch): no open socket left
            _hang_up(client)
            raise
        self._client = client
        return client

    async def _pace(self) -> None:
        if self.options.rate > 0:
            now = time.monotonic()
            if self._next_send > now:
                await asyncio.sleep(self._next_send - now)
            self._next_send = max(now, self._next_send) + 1 / self.options.rate
        await self.window.wait()

    async def send_once(self, envelope: Envelope) -> tuple[int, str]:
        """One SMTP transaction: (code, reply). A refused recipient is a code; a drop raises `_ConnectionLost`.
        After a refusal aiosmtplib has reset the envelope, so the connection serves the next message."""
        client = await self._connected()
        await self._pace()
        try:
            await client.sendmail(envelope.sender, [envelope.recipient], envelope.data)
            return 250, ""
        except ValueError as exc:  # an address aiosmtplib will not put in a command
            return 553, f"553 {_reason(exc)}"
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            return refused.code, f"{refused.code} {refused.message}"
        except aiosmtplib.SMTPServerDisconnected as exc:
            self.close()
            raise _ConnectionLost(_reason(exc)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == 421:  # the server closes the connection
                self.close()
                raise _ConnectionLost(f"{exc.code} {exc.message}") from exc
            return exc.code, f"{exc.code} {exc.message}"
        except (OSError, TimeoutError, aiosmtplib.SMTPException) as exc:
            self.close()
            raise _ConnectionLost(_reason(exc)) from exc

    async def deliver(self, envelope: Envelope, retried: Callable[[], None]) -> Outcome:
        """Send one message, retrying 4xx answers and drops with back-off; raises `ServerUnreachable` when
        no connection could be made at all after every retry."""
        options, attempt, reachable = self.options, 0, False
        while True:
            attempt += 1
            try:
                code, reply = await self.send_once(envelope)
                reachable = True
            except _ConnectionLost as exc:
                code, reply = 0, str(exc)
            if code == 250:
                return Outcome(envelope.broadlog_id, "sent", "", envelope.message_id, attempt)
            if 500 <= code < 600:
                return Outcome(envelope.broadlog_id, "bounced", reply, None, attempt)
            if attempt > options.retries:
                if not reachable and code == 0:
                    raise ServerUnreachable(attempt, reply)
                return Outcome(envelope.broadlog_id, "failed", reply, None, attempt)
            retried()
            log.info("retrying message %s to the SMTP server %s in %g s: %s", envelope.broadlog_id,
                     options.server, options.backoff * 2 ** (attempt - 1), reply)  # fmt: skip
            await asyncio.sleep(options.backoff * 2 ** (attempt - 1))

    def close(self) -> None:
        if self._client is not None:
            _hang_up(self._client)
            self._client = None

    async def quit(self) -> None:
        if self._client is not None and self._client.is_connected:
            transport = self._client.transport
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):  # a goodbye unheard loses nothing
                await self._client.quit()
            if isinstance(transport, asyncio.Transport):
                transport.abort()  # after QUIT, as _hang_up does
        self.close()


class Pool:
    """`connections` connections sending one batch at a time; each takes the next message when free."""

    def __init__(self, options: SmtpOptions, window: HourlyWindow | None = None) -> None:
        self.options = options
        window = window or HourlyWindow(options.messages_per_hour)
        self.connections = [Connection(options, window) for _ in range(options.connections)]
        self.retried = 0

    def _count_retry(self) -> None:
        self.retried += 1

    async def send(self, ids: Sequence[int], prepare: Callable[[int], Envelope | Outcome]) -> list[Outcome]:
        """Send a batch of messages, the send-log rows `ids`; an outcome per message, in that order.

        `prepare(position)` renders the message at that position, or says why it cannot be (an `Outcome`). A
        connection renders its next message itself, so that rendering overlaps the other connections'
        transactions rather than holding them all up. Raises `BatchStopped` when the server cannot be
        reached or refuses what the settings require."""
        positions = iter(range(len(ids)))
        outcomes: list[Outcome | None] = [None] * len(ids)

        async def work(connection: Connection) -> None:
            for position in positions:
                prepared = prepare(position)
                if isinstance(prepared, Outcome):
                    outcomes[position] = prepared
                else:
                    outcomes[position] = await connection.deliver(prepared, self._count_retry)

        workers = [asyncio.create_task(work(c)) for c in self.connections[: max(1, len(ids))]]
        try:
            await asyncio.gather(*workers)
        except (ServerUnreachable, SmtpSecurityError) as exc:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            so_far = [o or Outcome(broadlog_id, "pending") for o, broadlog_id in zip(outcomes, ids, strict=True)]
            raise BatchStopped(exc, so_far) from exc
        return [o for o in outcomes if o is not None]

    async def send_envelopes(self, envelopes: Sequence[Envelope]) -> list[Outcome]:
        """Send messages already rendered."""
        return await self.send([e.broadlog_id for e in envelopes], envelopes.__getitem__)

    async def close(self) -> None:
        await asyncio.gather(*(c.quit() for c in self.connections))


def _hang_up(client: aiosmtplib.SMTP) -> None:
    """Close at once. A TLS connection's polite close waits for the server's close_notify on the event loop,
    which a finished delivery no longer runs: its socket would be left open."""
    transport = client.transport
    client.close()
    if isinstance(transport, asyncio.Transport):
        transport.abort()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:500]
