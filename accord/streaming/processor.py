"""The real-time processor: takes the event log's messages into the lake, the identity graph and audiences.

It reads the log in order from its position, in micro-batches (at most `max_rows` messages, or what
came within `max_age` seconds), and for each dataset of a micro-batch ingests the entities as one
batch through the batch pipeline: the same validation, the same row diagnostics and error codes,
and no row error ever fails the batch (a stream has no file to fix and send again). What does
not fit the schema is sorted first by the dataset's schema contract (`contracts.py`): left out, trimmed,
or the schema evolved; what is left out goes to the batch's diagnostics. Each message's
key (`stream:<inlet>:<message id>`) is recorded with the batch when it commits, in the same
transaction: a micro-batch processed again after a crash skips what its batch already holds, so a
message is in the lake once, whatever the log redelivers (at-least-once delivery, exactly-once
effect). Then the records of a profile dataset update the identity graph, all of a batch's in one
change (`identity.add_records`, idempotent by record), and the streaming audiences are evaluated again
on the profiles they feed. The position moves on only when all of this is done; a micro-batch read
again after a failure or a crash finishes the graph updates and evaluations of the batches it
already committed.

One processor runs per home (it holds the lease `streaming-processor`); others wait to take over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select

from accord.catalog import BatchRecord, BatchSourceRecord, DatasetRecord, Sandbox
from accord.streaming.collection import CONSUMER
from accord.streaming.log import EventLog, Stored
from accord.workspace import Workspace

if TYPE_CHECKING:
    from accord.profile import RecentEvents

log = logging.getLogger("accord.streaming")

LEASE = "streaming-processor"
EVENTS_LOOKED_AT = timedelta(hours=24, minutes=5)
"""How far back a changed profile's events are read for streaming evaluation: streaming definitions look at
the last 24 hours (with a margin for clocks)."""
KEYS_PER_QUERY = 500


@dataclass
class ProcessorStats:
    """What the processor has done since it started, and how late it is."""

    processed: int = 0
    """Messages taken from the log into the lake (duplicates excluded)."""
    deduplicated: int = 0
    """Messages skipped because their batch already held them (redelivered after a crash)."""
    invalid: int = 0
    """Records refused by validation (in their batch's row diagnostics)."""
    batches: int = 0
    profiles_changed: int = 0
    membership_changes: int = 0
    evolved_fields: int = 0
    """Fields added to datasets' schemas by the contract `evolve`."""
    discarded_values: int = 0
    """Records taken without values that did not fit (contract `discard_value`)."""
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    """Seconds from a message's acceptance to its micro-batch being done, for the newest messages."""

    def to_dict(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pick(share: float) -> float | None:
            return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 4) if ordered else None

        return {"processed": self.processed, "deduplicated": self.deduplicated, "invalid": self.invalid,
                "batches": self.batches, "profilesChanged": self.profiles_changed,
                "membershipChanges": self.membership_changes, "evolvedFields": self.evolved_fields,
                "discardedValues": self.discarded_values,
                "endToEndSeconds": {"p50": pick(0.5), "p99": pick(0.99)}}  # fmt: skip


@dataclass(frozen=True)
class _Message:
    seq: int
    key: str
    dataset_id: str
    entity: dict[str, Any]
    received: float


class Processor:
    """Drains the event log (see the module's docstring); `process_waiting` does one micro-batch."""

    def __init__(self, workspace: Workspace, event_log: EventLog, *, max_rows: int = 10_000,
                 max_age: float = 1.0) -> None:  # fmt: skip
        self.workspace = workspace
        self.log = event_log
        self.max_rows = max_rows
        self.max_age = max_age
        self.stats = ProcessorStats()
        self._recent: dict[str, RecentEvents] = {}
        """The recent events of each sandbox's event datasets, kept between micro-batches (`profile/recent.py`)."""

    def process_waiting(self) -> int:
        """Process one micro-batch of what waits in the log; how many messages it took (0: none waited)."""
        position = self.log.position(CONSUMER)
        stored = self.log.read(position, self.max_rows)
        if not stored:
            return 0
        messages = [m for m in map(_decoded, stored) if m is not None]
        fresh, landed = self._not_yet_ingested(messages)
        self.stats.deduplicated += len(messages) - len(fresh)
        # batches that hold messages of this micro-batch already (its processing stopped after they committed):
        # their graph updates and evaluations are done again, as both skip what they did before
        for batch_id, sandbox in self._profile_batches(landed).items():
            self._update_profiles(sandbox, batch_id)
        by_dataset: dict[str, list[_Message]] = {}
        for message in fresh:
            by_dataset.setdefault(message.dataset_id, []).append(message)
        for dataset_id, group in by_dataset.items():
            self._ingest(dataset_id, group)
        self.log.commit(CONSUMER, stored[-1].seq)
        now = time.time()
        self.stats.latencies.extend(now - m.received for m in fresh)
        self.stats.processed += len(fresh)
        return len(stored)

    def run(self, stop: threading.Event, idle_wait: float = 0.02) -> None:
        """Process until `stop` is set: a micro-batch as soon as `max_rows` wait or the oldest is `max_age` old."""
        while not stop.is_set():
            waiting = self.log.last() - self.log.position(CONSUMER)
            if waiting <= 0:
                stop.wait(idle_wait)
                continue
            if waiting < self.max_rows:
                oldest = self.log.read(self.log.position(CONSUMER), 1)
                age = time.time() - oldest[0].received if oldest else self.max_age
                if age < self.max_age:
                    stop.wait(min(idle_wait, self.max_age - age))
                    continue
            try:
                self.process_waiting()
            except Exception:  # a micro-batch that fails is tried again; the service goes on
                log.exception("streaming: a micro-batch failed; trying again shortly")
                stop.wait(1.0)

    def _not_yet_ingested(self, messages: list[_Message]) -> tuple[list[_Message], set[str]]:
        """The messages no committed batch holds (each once), and the batches that hold the others."""
        keys = [m.key for m in messages]
        done: dict[str, str] = {}
        with self.workspace.catalog.session() as session:
            for start in range(0, len(keys), KEYS_PER_QUERY):
                part = keys[start : start + KEYS_PER_QUERY]
                done.update(session.execute(select(BatchSourceRecord.source_key, BatchSourceRecord.batch_id).where(
                    BatchSourceRecord.source_key.in_(part))).all())  # fmt: skip
        seen: set[str] = set()
        fresh = []
        for message in messages:
            if message.key not in done and message.key not in seen:
                seen.add(message.key)
                fresh.append(message)
        return fresh, set(done.values())

    def _profile_batches(self, batch_ids: set[str]) -> dict[str, str]:
        """Of these batches, those of profile datasets, with their sandbox's name."""
        if not batch_ids:
            return {}
        with self.workspace.catalog.session() as session:
            query = (
                select(BatchRecord.id, Sandbox.name)
                .join(DatasetRecord, DatasetRecord.id == BatchRecord.dataset_id)
                .join(Sandbox, Sandbox.id == BatchRecord.sandbox_id)
                .where(BatchRecord.id.in_(sorted(batch_ids)), DatasetRecord.profile_enabled.is_(True))
            )
            return {batch_id: sandbox for batch_id, sandbox in session.execute(query)}

    def _ingest(self, dataset_id: str, messages: list[_Message]) -> None:
        from accord.ingest import LeftOut
        from accord.schema import resolve_schema_by_id
        from accord.streaming.contracts import sort_records

        with self.workspace.catalog.session() as session:
            query = select(DatasetRecord, Sandbox.name).join(Sandbox, Sandbox.id == DatasetRecord.sandbox_id)
            found = session.execute(query.where(DatasetRecord.id == dataset_id)).first()
            schema = resolve_schema_by_id(session, found[0].schema_id) if found is not None else None
            if found is not None:
                session.expunge(found[0])
        if found is None or schema is None:  # the dataset was deleted after its messages came: nowhere to go
            log.warning("streaming: %d messages for a deleted dataset %s dropped", len(messages), dataset_id)
            return
        dataset, sandbox = found
        # What does not fit the schema (a field it lacks, a value of a kind its field cannot take) would make the
        # whole batch's file unreadable to the default mapping: the dataset's schema contract says what of such a
        # message goes in (`contracts.py`); what is left out is in the batch's diagnostics, and the rest goes on.
        sorted_ = sort_records(self.workspace, sandbox, dataset, schema, [m.entity for m in messages])
        self.stats.evolved_fields += len(sorted_.added)
        kept = [(m, v.entity) for m, v in zip(messages, sorted_.verdicts, strict=True) if v.entity is not None]
        left_out = tuple(LeftOut(orjson.dumps(m.entity).decode(), v.errors, row=v.entity is None)
                         for m, v in zip(messages, sorted_.verdicts, strict=True) if v.errors)  # fmt: skip
        self.stats.discarded_values += sum(1 for item in left_out if not item.row)
        batch = self._batch(dataset.name, sandbox, kept, left_out, tuple(m.key for m in messages))
        if batch is not None and dataset.profile_enabled and batch.get("status") == "success" and kept:
            self._update_profiles(sandbox, batch["id"])

    def _batch(self, dataset: str, sandbox: str, kept: list[tuple[_Message, dict[str, Any]]],
               left_out: tuple[Any, ...], keys: tuple[str, ...]) -> dict[str, Any] | None:  # fmt: skip
        """The messages ingested as one batch (`kept`: each with what of it goes in; `left_out`: what did not,
        for the diagnostics); None when the batch was refused whole (recorded failed, with why)."""
        from accord.errors import AccordError
        from accord.ingest import IngestRequest, ReadOptions, ingest_file
        from accord.jobs import removed_at_end

        with removed_at_end():
            folder = self.workspace.lake.staging("stream")
            path = folder / "messages.json"
            path.write_bytes(b"".join(orjson.dumps(entity) + b"\n" for _m, entity in kept))
            request = IngestRequest(dataset, path, None, error_threshold=100.0, read=ReadOptions(format="json"),
                                    source_name=f"streaming: {len(keys)} messages", source_keys=keys,
                                    left_out=left_out)  # fmt: skip
            try:
                batch = ingest_file(self.workspace, sandbox, request)
            except AccordError as exc:  # the batch is recorded as failed, with why: the stream goes on
                log.warning("streaming: a batch of %d messages for %s was refused: %s", len(keys), dataset,
                            exc.message)  # fmt: skip
                return None
        self.stats.batches += 1
        self.stats.invalid += int(batch.get("failedRecordCount") or 0)
        return batch

    def _update_profiles(self, sandbox: str, batch_id: str) -> None:
        from accord import identity, segment

        changed: set[int] = set()
        records = identity.records_of_batch(self.workspace, sandbox, batch_id)
        for record, fed in zip(records, identity.add_records(self.workspace, sandbox, records), strict=True):
            if fed.get("graphId") is not None and record.identities:
                changed.add(int(fed["graphId"]))
        self.stats.profiles_changed += len(changed)
        if not changed:
            return
        evaluator = segment.StreamingEvaluator(self.workspace, sandbox)
        try:
            if not evaluator.definitions:
                return
            from accord.profile import RecentEvents, recent_profiles

            # The changed people read at once: streaming definitions look at attributes and at events of the
            # last 24 hours only (`segment/checker.py`), so older events are not read
            now = datetime.now(UTC)
            people = identity.graph_identities(self.workspace, sandbox, changed)
            fields = evaluator.event_columns if evaluator.reads_events else frozenset()
            recent = self._recent.get(sandbox)
            if recent is None or recent.fields != fields:
                recent = self._recent[sandbox] = RecentEvents(fields)
            recent.forget_before(now - EVENTS_LOOKED_AT)  # what no micro-batch asks for any more
            persons = recent_profiles(self.workspace, sandbox, people, now - EVENTS_LOOKED_AT, fields, recent)
            for graph in sorted(changed):
                person = persons.get(graph) or {"attributes": {}, "events": []}
                self.stats.membership_changes += len(evaluator.evaluate(graph, person, now))
        finally:
            evaluator.close()


def _decoded(stored: Stored) -> _Message | None:
    try:
        body = orjson.loads(stored.body)
        return _Message(stored.seq, f"stream:{stored.inlet}:{stored.message_id}", body["dataset"], body["entity"],
                        stored.received)  # fmt: skip
    except (ValueError, KeyError, TypeError):  # written by the inlets, so never: but one bad entry stops nothing
        log.error("streaming: message %d of the log cannot be read; skipped", stored.seq)
        return None
