"""The streaming service of a server: its event log, the inlets' way in, and (when it runs one) the processor.

`accord serve` opens one with the processor running in a thread of its own (unless the scheduler is
off, as in tests that drive it by hand); `accord worker` runs only the processor. One processor works
at a time per home (the lease `streaming-processor`); another waits, and takes over when the lease
goes stale (its holder was killed).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from accord.access import ROUTES, Principal, authenticate, authorize_sandbox, require
from accord.catalog import Sandbox
from accord.catalog.inlets import InletRecord
from accord.errors import AccordError, ConflictError, PermissionDeniedError, TooLargeError
from accord.jobs import JobRunningError, hold
from accord.streaming.collection import (
    CONSUMER,
    LOG_SECONDS,
    MAX_BATCH_BYTES,
    MAX_BATCH_MESSAGES,
    MAX_MESSAGE_BYTES,
    Checked,
    accept,
    answers,
    check_content_type,
    check_message,
    decoded,
    entries_of,
    parse_body,
    refuse_when_behind,
    sandbox_datasets,
)
from accord.streaming.exceptions import MessageError, UnknownInletError
from accord.streaming.inlets import inlet_by_id
from accord.streaming.log import Appended, Entry, EventLog
from accord.streaming.open_log import open_event_log
from accord.streaming.processor import LEASE, Processor
from accord.streaming.turns import InletTurns
from accord.workspace import Workspace

log = logging.getLogger("accord.streaming")


INLET_SECONDS = 2.0
"""How long an inlet read from the catalog serves its messages before it is read again."""
INLINE_BYTES = 64 * 1024
"""A request at most this large may be checked on the event loop (`StreamingService.take`)..."""
INLINE_MESSAGES = 200
"""... with at most this many messages (small ones: 1,500 fit in 64 KB, and took 7 ms to check)."""
LAG_SECONDS = 0.1
"""How long the processor's lag read from the log serves the inlets' back-pressure before it is read again."""
LAG_STALE_SECONDS = 1.0
"""While a new read of the lag is under way, requests checked on the event loop use the last one, up to this old
(older: the log may not answer; a request then reads it in a worker thread, and is told when it cannot)."""
TOKEN_SECONDS = 2.0
"""How long a token checked against the catalog is taken for its caller before it is checked again."""


class StreamingService:
    def __init__(self, workspace: Workspace, event_log: EventLog | None = None) -> None:
        self.workspace = workspace
        self._log = event_log
        self._inlets: dict[str, tuple[float, tuple[InletRecord, str, dict[str, str]]]] = {}
        self._contracts: dict[str, tuple[float, tuple[str, Any, bool]]] = {}
        self._turns: InletTurns | None = None
        self._holding = False
        """This process's processor holds the lease (it processes; without it, it stands by)."""
        self._lag_read: tuple[float, int] = (-LAG_STALE_SECONDS, 0)
        """When the processor's lag was last read (monotonic seconds), and what it was."""
        self._lag_lock = threading.Lock()
        self._lag_done: tuple[float, Exception | None] = (-1.0, None)
        """When the last read of the lag finished, and why it failed if it did (its figure: `_lag_read`): the
        threads that waited for it are told the same."""
        self._lag_reading = False
        """A read of the lag was started ahead for the event loop's requests (`take`) and is not done."""
        self._callers: dict[bytes, tuple[float, Principal]] = {}
        """Requests in progress, by inlet."""
        self._opening = threading.Lock()
        self._processor: Processor | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._publisher: threading.Thread | None = None
        self._counting = threading.Lock()
        self.accepted = 0
        self.refused = 0
        self.acks: deque[float] = deque(maxlen=10_000)
        """Seconds from a request's arrival to its answer, for the newest requests that were taken."""

    @property
    def log(self) -> EventLog:
        """The event log, opened on first use (a server that takes no message starts no writer)."""
        with self._opening:
            if self._log is None:
                self._log = open_event_log(self.workspace.settings)
            return self._log

    @property
    def turns(self) -> InletTurns:
        """The inlets' turns (`turns.py`), kept by the server's event loop."""
        if self._turns is None:
            settings = self.workspace.settings
            self._turns = InletTurns(settings.streaming_inlet_concurrency, settings.streaming_inlet_queue)
        return self._turns

    @property
    def processor(self) -> Processor:
        if self._processor is None:
            settings = self.workspace.settings
            self._processor = Processor(self.workspace, self.log, max_rows=settings.streaming_max_rows,
                                        max_age=settings.streaming_max_age_seconds)  # fmt: skip
        return self._processor

    def start_processor(self) -> None:
        self._start_publishing()
        self._thread = threading.Thread(target=self._process, name="streaming-processor", daemon=True)
        self._thread.start()

    def _process(self) -> None:
        stale = self.workspace.settings.stale_run_seconds
        while not self._stop.is_set():
            try:
                with hold(self.workspace.catalog, LEASE, "the streaming processor", wait_seconds=0,
                          stale_seconds=stale):  # fmt: skip
                    self._holding = True
                    try:
                        self.processor.run(self._stop)
                    finally:
                        self._holding = False
            except JobRunningError:  # another process processes: stand by
                self._stop.wait(min(30.0, stale / 4))
            except Exception:
                log.exception("streaming: the processor stopped; starting it again")
                self._stop.wait(1.0)

    def process_now(self) -> int:
        """Process what waits in the log, then return how many messages were taken; refused (with who holds
        it) while another processor runs, as `accord serve`'s does."""
        with ExitStack() as held:
            try:
                held.enter_context(hold(self.workspace.catalog, LEASE, "the streaming processor", wait_seconds=0,
                                        stale_seconds=self.workspace.settings.stale_run_seconds))  # fmt: skip
            except JobRunningError as running:
                since = running.since.strftime("%Y-%m-%d %H:%M:%S UTC")
                raise ConflictError(f"a streaming processor runs already (pid {running.pid} on {running.host} since "
                                    f"{since}: `accord serve` or `accord worker`); it takes the log as messages "
                                    "come, so there is nothing to run by hand", code="STREAM-0409-409",
                                    **running.details) from None  # fmt: skip
            taken = 0
            while done := self.processor.process_waiting():
                taken += done
            return taken

    def stop(self) -> None:
        self._stop.set()
        for thread in (self._thread, self._publisher):
            if thread is not None:
                thread.join(timeout=30)
        if self._log is not None:
            self._log.close()

    def collect(self, inlet_id: str, token: str | None, sandbox_header: str | None, raw: bytes, batch: bool,
                sync_validation: bool = False, content_type: str | None = None, *,
                encoding: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Check who posts, then the messages, and keep those that fit in the log; the answer's document."""
        pending = self.prepare(inlet_id, token, sandbox_header, raw, batch, sync_validation, content_type,
                               encoding=encoding)  # fmt: skip
        return self.answer(pending, self.log.append(pending.entries).result(LOG_SECONDS))

    async def take(self, inlet_id: str, token: str | None, sandbox_header: str | None, raw: bytes, batch: bool,
                   sync_validation: bool = False, content_type: str | None = None, *,
                   encoding: str | None = None) -> dict[str, Any]:  # fmt: skip
        """`collect`, on the server's event loop: the checks of a small request (`INLINE_BYTES`, `INLINE_MESSAGES`:
        a millisecond or so) run on the loop when they need no read of the catalog or the log (`ready`, and every
        message's dataset known: else `_NotInline` sends them to a worker thread, as a large request's and
        synchronous validation's); the wait for the log's commit holds no thread."""
        pending = None
        if time.monotonic() - self._lag_read[0] >= LAG_SECONDS and not self._lag_reading:
            self._lag_reading = True  # read ahead in a thread: no request waits for it
            asyncio.get_running_loop().run_in_executor(None, self._read_lag_ahead)
        plain = (encoding or "identity").strip().lower() == "identity"  # a zipped body is unzipped in a thread
        if plain and not sync_validation and len(raw) <= INLINE_BYTES and self.ready(inlet_id, token):
            with contextlib.suppress(_NotInline):
                pending = self.prepare(inlet_id, token, sandbox_header, raw, batch, False, content_type, inline=True)
        if pending is None:
            pending = await asyncio.to_thread(functools.partial(
                self.prepare, inlet_id, token, sandbox_header, raw, batch, sync_validation, content_type,
                encoding=encoding))  # fmt: skip
        # shielded: a request that stops waiting (a timeout, its client gone) leaves the log's answer alone
        taken = asyncio.shield(asyncio.wrap_future(self.log.append(pending.entries)))
        async with asyncio.timeout(LOG_SECONDS):
            appended = await taken
        return self.answer(pending, appended)

    def ready(self, inlet_id: str, token: str | None) -> bool:
        """Whether the processor's lag, the inlet, and the caller unless it is public, are known without reading
        the log or the catalog (`prepare` then does no input or output: a single message's checks may run on
        the server's event loop, which a slow log or catalog must never hold up)."""
        now = time.monotonic()
        if now - self._lag_read[0] >= LAG_STALE_SECONDS:
            return False
        cached = self._inlets.get(inlet_id)
        if cached is None or now - cached[0] >= INLET_SECONDS:
            return False
        inlet = cached[1][0]
        contract = self._contracts.get(inlet.dataset_id) if inlet.dataset_id else None
        if contract is None or now - contract[0] >= INLET_SECONDS:  # a schema's inlet routes by message
            return False
        if inlet.public:
            return True
        caller = self._callers.get(_token_key(token))
        return caller is not None and now - caller[0] < TOKEN_SECONDS

    def prepare(self, inlet_id: str, token: str | None, sandbox_header: str | None, raw: bytes, batch: bool,
                sync_validation: bool = False, content_type: str | None = None, *, encoding: str | None = None,
                inline: bool = False) -> Pending:  # fmt: skip
        """Check who posts, then the body (`Content-Type`, `Content-Encoding`), then the messages: what goes into
        the log, and what the answer needs (`answer`). `inline`: on the event loop, where what only the catalog
        or the log tells (a dataset's contract, an old lag), or a batch of many messages, raises `_NotInline`."""
        if self._publisher is None:
            self._start_publishing()
        try:
            inlet, sandbox, datasets = self._inlet(inlet_id)
        except UnknownInletError:
            self._authenticate(token, sandbox_header, None)  # news only to a caller with a token
            raise
        if not inlet.public:
            self._authenticate(token, sandbox_header or sandbox, sandbox)
        check_content_type(content_type)  # after who posts: news of the inlet only to who may post to it
        try:
            raw = decoded(raw, encoding, MAX_BATCH_BYTES if batch else MAX_MESSAGE_BYTES)
            return self._checked(inlet, datasets, raw, batch, sync_validation, inline)
        except AccordError:  # a request refused whole counts as one refusal (its messages are not counted)
            with self._counting:
                self.refused += 1
            raise

    def answer(self, pending: Pending, appended: Sequence[Appended]) -> dict[str, Any]:
        """The answer's document, once the log has taken the pending messages."""
        answered = answers(pending.checked, appended)
        with self._counting:  # from the event loop and from worker threads
            self.accepted += sum(1 for a in answered if a["status"] == 200)
            self.refused += sum(1 for a in answered if a["status"] != 200)
        if not pending.batch:
            return {"inletId": pending.inlet_id, **answered[0]}
        return {"inletId": pending.inlet_id, "responses": answered}

    def _checked(self, inlet: InletRecord, datasets: dict[str, str], raw: bytes, batch: bool,
                 sync_validation: bool, inline: bool = False) -> Pending:  # fmt: skip
        refuse_when_behind(self._lag(inline), self.workspace.settings.streaming_lag_bound)
        payload = parse_body(raw, MAX_BATCH_BYTES if batch else MAX_MESSAGE_BYTES)
        if batch:
            messages = payload.get("messages") if isinstance(payload, dict) else None
            if not isinstance(messages, list):
                raise MessageError('a batch is {"messages": [...]}, a list of messages')
            if len(messages) > MAX_BATCH_MESSAGES:
                raise MessageError(f"a batch holds at most {MAX_BATCH_MESSAGES:,} messages, not {len(messages):,}")
            if inline and len(messages) > INLINE_MESSAGES:
                raise _NotInline  # too long for the event loop
            checked = [check_message(m, inlet, datasets, None, f"messages[{i}]") for i, m in enumerate(messages)]
        else:
            checked = [check_message(payload, inlet, datasets, len(raw), "the message")]
            if checked[0].entry is None:
                raise _refusal(checked[0])
        checked = self._validated(checked) if sync_validation else self._at_the_door(checked, False, inline)
        if not batch and checked[0].entry is None:
            raise _refusal(checked[0])
        return Pending(inlet.id, checked, batch)

    def _at_the_door(self, checked: list[Checked], strict: bool, inline: bool = False) -> list[Checked]:
        """The messages that their dataset's schema contract refuses are refused (400, with each problem and its
        path): under `freeze`, any that does not fit the schema; with `strict` (synchronous validation), any
        that the contract would keep out of the lake (`contracts.refusals`), and any incomplete record
        (`contracts.incomplete`). What makes a refused record incomplete is said first, as the processor
        says it."""
        from accord.streaming.contracts import ROW_LEFT_OUT, incomplete, refusals

        out = list(checked)
        for dataset_id, places in _by_dataset(checked).items():
            contract, schema, profile = self._contract_of(dataset_id, inline)
            if schema is None or not (strict or contract == "freeze"):
                continue
            entities = [checked[i].entity or {} for i in places]
            found = refusals(entities, schema, contract)
            lacking = incomplete(entities, schema, profile)
            for index, problems, lacks in zip(places, found, lacking, strict=True):
                # an incomplete record alone is refused only by synchronous validation: else it is taken, and
                # left out by the processor (whatever the contract)
                if problems or (strict and lacks):
                    errors = lacks + [{"code": ROW_LEFT_OUT, **problem} for problem in problems]
                    said = "; ".join(f"{p['code']} {p['path']}: {p['message']}" for p in errors[:5])
                    out[index] = Checked(None, f"{checked[index].where}: does not fit the dataset's schema "
                                               f"(schema contract {contract}): {said}", 400, errors)  # fmt: skip
        return out

    def _validated(self, checked: list[Checked]) -> list[Checked]:
        """The messages that fit their dataset's schema as a batch would check them; the others refused (400)
        with the batch pipeline's error codes, paths and messages. What the schema contract leaves out of a
        record (`discard_value`) or adds to the schema (`evolve`) is not checked."""
        from accord.ingest import check_records, records_trimmed

        checked = self._at_the_door(checked, strict=True)  # an incomplete record is refused there
        out = list(checked)
        for dataset_id, places in _by_dataset(checked).items():
            schema = self._contract_of(dataset_id)[1]
            if schema is None:
                continue
            # what the contract would leave out, or add to the schema, is not checked; a record of nothing else
            # (all of it new fields, under `evolve`) has nothing to check
            trimmed = records_trimmed([checked[i].entity or {} for i in places], schema)
            places = [i for i, kept in zip(places, trimmed, strict=True) if kept]
            problems = check_records(self.workspace, dataset_id, [kept for kept in trimmed if kept])
            for index, found in zip(places, problems, strict=True):
                if found:
                    out[index] = _unfit(checked[index].where, found)
        return out

    def collect_calls(self, write_key: str | None, kind: str | None, raw: bytes, encoding: str | None,
                      content_type: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Segment-spec calls (`kind` for a one-call URL, None for a batch) into the log, taken whole or refused
        whole; Segment's answer."""
        from accord.streaming import segment_inlets

        if self._publisher is None:
            self._start_publishing()

        payload = None
        if not write_key and not raw.strip():  # no key anywhere: 401, not a complaint about the empty body
            with self.workspace.catalog.session() as session:
                segment_inlets.inlet_by_write_key(session, None)
        if not write_key:  # Segment also takes the key in the body; else the key is checked before the body is read
            payload = segment_inlets.segment_body(raw, encoding, batch=kind is None)
            write_key = segment_inlets.body_write_key(payload)
        with self.workspace.catalog.session() as session:
            inlet = segment_inlets.inlet_by_write_key(session, write_key)
            segment_inlets.check_datasets(session, inlet)
            session.expunge(inlet)
        check_content_type(content_type)
        if payload is None:
            payload = segment_inlets.segment_body(raw, encoding, batch=kind is None)
        refuse_when_behind(self._lag(), self.workspace.settings.streaming_lag_bound)
        answers = accept(self.log, segment_inlets.checked_calls(payload, kind, inlet))
        with self._counting:
            self.accepted += len(answers)
        return {"success": True}

    def _contract_of(self, dataset_id: str, inline: bool = False) -> tuple[str, Any, bool]:
        """A dataset's schema contract, schema, and whether it feeds profiles, read from the catalog at most every
        `INLET_SECONDS` (`inline`: `_NotInline` rather than read)."""
        from accord.catalog import DatasetRecord
        from accord.schema import resolve_schema_by_id

        now = time.monotonic()
        cached = self._contracts.get(dataset_id)
        if cached is not None and now - cached[0] < INLET_SECONDS:
            return cached[1]
        if inline:
            raise _NotInline
        with self.workspace.catalog.session() as session:
            dataset = session.get(DatasetRecord, dataset_id)
            if dataset is None:  # deleted since the inlet was read: the processor drops its messages
                return "discard_row", None, False
            found = (dataset.schema_contract, resolve_schema_by_id(session, dataset.schema_id),
                     bool(dataset.profile_enabled))  # fmt: skip
        if len(self._contracts) > 10_000:
            self._contracts.clear()
        self._contracts[dataset_id] = (now, found)
        return found

    def _inlet(self, inlet_id: str) -> tuple[InletRecord, str, dict[str, str]]:
        """An inlet, its sandbox's name and datasets, read from the catalog at most every `INLET_SECONDS`
        (a busy inlet's messages do not each cost catalog queries); an inlet deleted is refused within them."""
        now = time.monotonic()
        cached = self._inlets.get(inlet_id)
        if cached is not None and now - cached[0] < INLET_SECONDS:
            return cached[1]
        with self.workspace.catalog.session() as session:
            inlet = inlet_by_id(session, inlet_id)
            sandbox = session.get(Sandbox, inlet.sandbox_id)
            assert sandbox is not None
            found = (inlet, sandbox.name, sandbox_datasets(session, inlet.sandbox_id))
            session.expunge(inlet)
        if len(self._inlets) > 10_000:  # ids made up by callers are not cached (unknown ones raise above)
            self._inlets.clear()
        self._inlets[inlet_id] = (now, found)
        return found

    def _authenticate(self, token: str | None, wanted: str | None, own: str | None) -> Principal:
        caller = self._caller(token)
        chosen = authorize_sandbox(caller, wanted, self.workspace.settings.sandbox)  # 403: not the token's sandbox
        require(caller, ROUTES[("POST", "/collection/{inlet_id}")], chosen)  # one table says what posting needs
        if own is not None and chosen != own:
            raise PermissionDeniedError("this inlet belongs to another sandbox than the one asked for",
                                        code="STREAM-0403-403")  # fmt: skip
        return caller

    def _lag(self, inline: bool = False) -> int:
        """How many messages wait for the processor, read from the log at most every `LAG_SECONDS` (two reads
        of the log a request cost the requests a fifth of their time, waiting for each other), by one thread at
        a time. `inline` (on the event loop): the last figure while a new one is read ahead, up to
        `LAG_STALE_SECONDS` old; `_NotInline` past that."""
        read_at, lag = self._lag_read
        age = time.monotonic() - read_at
        if age < LAG_SECONDS or (inline and age < LAG_STALE_SECONDS):
            return lag
        if inline:
            raise _NotInline
        arrived = time.monotonic()
        with self._lag_lock:  # one thread reads; the others take what it found, or its failure
            done_at, failure = self._lag_done
            if done_at >= arrived:  # read while this one waited (however long it took): not read again in turn
                if failure is not None:
                    raise failure.with_traceback(None)  # not the frames of every thread it was raised in
                return self._lag_read[1]
            read_at, lag = self._lag_read
            if time.monotonic() - read_at < LAG_SECONDS:
                return lag
            read_at = time.monotonic()
            try:
                lag = self.log.last() - self.log.position(CONSUMER)
            except Exception as exc:
                self._lag_done = (time.monotonic(), exc)
                raise
            self._lag_read, self._lag_done = (read_at, lag), (time.monotonic(), None)
            return lag

    def _read_lag_ahead(self) -> None:
        try:
            self._lag()
        except Exception as exc:  # the requests that read it themselves are told
            log.debug("streaming: the lag could not be read ahead: %r", exc)
        finally:
            self._lag_reading = False

    def _caller(self, token: str | None) -> Principal:
        """Who a token is, read from the catalog at most every `TOKEN_SECONDS` (a busy inlet's requests do not
        each cost a catalog query: two thirds of a single message's time). A revoked token is refused within
        them; a token that is refused is never remembered."""
        key = _token_key(token)
        now = time.monotonic()
        cached = self._callers.get(key)
        if cached is not None and now - cached[0] < TOKEN_SECONDS:
            return cached[1]
        caller = authenticate(self.workspace.catalog, token)
        if len(self._callers) > 10_000:
            self._callers.clear()
        self._callers[key] = (now, caller)
        return caller

    def stats(self) -> dict[str, Any]:
        """The log's figures, with what every process of the home took in and processed (`stats.py`)."""
        from accord.streaming import stats

        last, position = self.log.last(), self.log.position(CONSUMER)
        oldest = self.log.read(position, 1) if last > position else []
        waited = max(0.0, time.time() - oldest[0].received) if oldest else 0.0
        more = stats.others(self.workspace.settings.home)
        mine = self._counters()
        running = mine["processing"] or any(f.get("processing") for f in more)
        return {"logged": last, "processedPosition": position, "lagMessages": last - position,
                "lagSeconds": round(waited, 3), "processorRunning": running,
                **stats.combined(mine, more)}  # fmt: skip

    def _counters(self) -> dict[str, Any]:
        """What this process took in and processed since it started."""
        acks = sorted(self.acks)

        def pick(share: float) -> float | None:
            return round(acks[min(len(acks) - 1, int(share * len(acks)))] * 1000, 2) if acks else None

        processing = self._holding and self._thread is not None and self._thread.is_alive()
        return {"accepted": self.accepted, "refused": self.refused, "processing": processing,
                "ackMilliseconds": {"p50": pick(0.5), "p99": pick(0.99)}, **self.processor.stats.to_dict()}  # fmt: skip

    def _publish(self) -> None:
        """Publish this process's figures every second while it runs (`stats.py`), and withdraw them at the end."""
        from accord.streaming import stats

        home = self.workspace.settings.home
        last: dict[str, Any] | None = None
        while not self._stop.wait(1.0):
            figures = self._counters()
            if figures != last:
                try:
                    stats.publish(home, figures)
                    last = figures
                except Exception as exc:  # a full disk, say: the figures wait; nothing else does
                    log.warning("streaming: cannot publish this process's figures: %s", exc)
        stats.withdraw(home)

    def _start_publishing(self) -> None:
        with self._opening:
            if self._publisher is None:
                self._publisher = threading.Thread(target=self._publish, name="streaming-stats", daemon=True)
                self._publisher.start()


@dataclass(frozen=True)
class Pending:
    """A request's messages, checked: what goes into the log (`entries`), and what its answer needs."""

    inlet_id: str
    checked: list[Checked]
    batch: bool

    @property
    def entries(self) -> list[Entry]:
        return entries_of(self.checked)


def _token_key(token: str | None) -> bytes:
    """How a caller's token is remembered (never as sent)."""
    return hashlib.sha256(token.encode()).digest() if token else b""


def _by_dataset(checked: list[Checked]) -> dict[str, list[int]]:
    """The places of the messages that may go into the log, by their dataset."""
    found: dict[str, list[int]] = {}
    for index, item in enumerate(checked):
        if item.entry is not None and item.dataset_id is not None and item.entity is not None:
            found.setdefault(item.dataset_id, []).append(index)
    return found


class _NotInline(Exception):
    """Checks on the event loop met what only a read of the catalog or the log tells, or more messages than the
    loop should check at once: they are done again in a worker thread."""


def _unfit(where: str, problems: list[dict[str, str]]) -> Checked:
    """A message refused by synchronous validation (400), with its problems (`code`, `path`, `message`)."""
    said = "; ".join(f"{p['code']} {p['path'] or 'record'}: {p['message']}" for p in problems[:5])
    return Checked(None, f"{where}: does not fit the dataset's schema: {said}", 400, problems)


def _refusal(checked: Checked) -> AccordError:
    problem = checked.problem or "refused"
    if checked.status == 413:
        return TooLargeError(problem, code="STREAM-0413-413")
    if checked.status == 403:
        return PermissionDeniedError(problem, code="STREAM-0403-403")
    refused = MessageError(problem)
    if checked.errors:
        refused.details["errors"] = checked.errors
    return refused
