"""The event log: where an accepted message is kept before its answer, until the processor has taken it.

Accepted means durable: `append` returns once the messages are in the log (committed, and with the
embedded log, synced to disk). Messages are idempotent by (inlet, message id): a message sent again
with the same id is not kept twice, and its answer says so. Consumers read in the order messages
were accepted and keep their position in the log itself, so that a restarted processor goes on where
its last committed position left it (at-least-once; the processor is idempotent by message id too).

`SqliteEventLog` is the embedded default: one SQLite file in WAL mode, written by one thread that
commits whatever is waiting in one transaction (group commit: many requests share one sync, never a
transaction per message). Another log (NATS JetStream) implements the same `EventLog` protocol.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from accord.streaming.exceptions import LogClosedError

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    inlet TEXT NOT NULL,
    message_id TEXT NOT NULL,
    received REAL NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (inlet, message_id)
);
CREATE TABLE IF NOT EXISTS consumers (name TEXT PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID;
"""

CHECKPOINT_SECONDS = 0.5
"""How often the write-ahead log is copied into the database (`SqliteEventLog._checkpoint_forever`)."""
MAX_GROUP = 5_000
"""Messages at most in one commit (a larger wait is split, so that one commit never holds the rest long)."""


@dataclass(frozen=True)
class Entry:
    """A message on its way into the log: its inlet, its id (unique per inlet) and its body (JSON bytes)."""

    inlet: str
    message_id: str
    body: bytes


@dataclass(frozen=True)
class Appended:
    """What the log did with an entry: its place (`seq`), and whether it was already there."""

    seq: int
    duplicate: bool


@dataclass(frozen=True)
class Stored:
    """A message as the log keeps it."""

    seq: int
    inlet: str
    message_id: str
    received: float
    """When it was accepted (seconds since the epoch)."""
    body: bytes


_Waiting = tuple[Sequence[Entry], Future[list[Appended]]]
"""Entries waiting for the writer, with the future their appender waits on."""


class EventLog(Protocol):
    """What the inlets write to and the processor reads from."""

    def append(self, entries: Sequence[Entry]) -> Future[list[Appended]]:
        """Add entries; the future resolves once they are durable (or were already there)."""

    def read(self, after: int, limit: int) -> list[Stored]:
        """Messages after a position, oldest first."""

    def position(self, consumer: str) -> int:
        """Where a consumer is (0 before it has taken anything)."""

    def commit(self, consumer: str, position: int) -> None:
        """A consumer has taken everything up to `position`."""

    def last(self) -> int:
        """The position of the newest message (0 when the log is empty)."""

    def close(self) -> None: ...


class SqliteEventLog:
    """The embedded event log (see the module's docstring); safe to share between threads."""

    def __init__(self, path: Path, *, sync: bool = True) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.executescript(SCHEMA)
        path.chmod(0o600)
        self._synchronous = "FULL" if sync else "NORMAL"
        self._waiting: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._closed = False
        self._writer = threading.Thread(target=self._write_forever, name="event-log-writer", daemon=True)
        self._writer.start()
        self._checkpoints = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint_forever, name="event-log-checkpoints",
                                              daemon=True)  # fmt: skip
        self._checkpointer.start()
        self._reader = self._connect()
        self._reading = threading.Lock()
        self.commits = 0
        """Transactions committed by the writer (each one sync): fewer than appends when they are grouped."""

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's work, never a commit's (`_checkpoint_forever`)
        return db

    def append(self, entries: Sequence[Entry]) -> Future[list[Appended]]:
        future: Future[list[Appended]] = Future()
        if self._closed:
            future.set_exception(LogClosedError())
        elif not entries:
            future.set_result([])
        else:
            self._waiting.put((entries, future))
        return future

    def _checkpoint_forever(self) -> None:
        """Copy the write-ahead log into the database every `CHECKPOINT_SECONDS`, beside the writer.

        Left to SQLite, the commit that fills the write-ahead log copies it into the database (and syncs it)
        before it returns, while the requests of that commit wait. A passive checkpoint from a connection of
        its own never holds the writer up."""
        db = self._connect()
        try:
            while not self._checkpoints.wait(CHECKPOINT_SECONDS):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:  # busy, say: the next one copies what this one did not
                    continue
        finally:
            db.close()

    def _write_forever(self) -> None:
        db = self._connect()
        db.execute(f"PRAGMA synchronous={self._synchronous}")
        try:
            while True:
                first = self._waiting.get()
                if first is None:
                    return
                group = [first]
                count = len(first[0])
                while count < MAX_GROUP:  # whatever else is waiting goes in the same commit
                    try:
                        item = self._waiting.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        self._waiting.put(None)  # stop after this group
                        break
                    group.append(item)
                    count += len(item[0])
                self._commit_group(db, group)
        finally:
            db.close()
            while True:  # appended as the log closed: refused, never left waiting
                try:
                    item = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    _settle(item[1], exception=LogClosedError())

    def _commit_group(self, db: sqlite3.Connection, group: list[_Waiting]) -> None:
        now = time.time()
        results: list[list[Appended]] = []
        try:
            db.execute("BEGIN IMMEDIATE")
            # All the group's messages in one statement (the loop is the driver's, not Python's); then what each
            # became: the new ones are those after the newest before (the transaction holds the log's write lock,
            # so no other process adds any meanwhile), and a message already there keeps the place it had.
            (before,) = db.execute("SELECT coalesce(max(seq), 0) FROM messages").fetchone()
            db.executemany("INSERT INTO messages (inlet, message_id, received, body) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (inlet, message_id) DO NOTHING",
                           [(e.inlet, e.message_id, now, e.body) for entries, _ in group for e in entries])  # fmt: skip
            added = {(inlet, message_id): seq for seq, inlet, message_id in db.execute(
                "SELECT seq, inlet, message_id FROM messages WHERE seq > ?", (before,))}  # fmt: skip
            placed: set[tuple[str, str]] = set()
            for entries, _ in group:
                done = []
                for entry in entries:
                    key = (entry.inlet, entry.message_id)
                    seq = added.get(key)
                    if seq is not None and key not in placed:
                        placed.add(key)
                        done.append(Appended(seq, False))
                        continue
                    if seq is None:  # sent before, in an earlier group
                        (seq,) = db.execute("SELECT seq FROM messages WHERE inlet = ? AND message_id = ?",
                                            key).fetchone()  # fmt: skip
                    done.append(Appended(seq, True))
                results.append(done)
            db.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            for _, future in group:
                _settle(future, exception=exc)
            return
        for (_, future), done in zip(group, results, strict=True):
            _settle(future, done)

    def read(self, after: int, limit: int) -> list[Stored]:
        with self._reading:
            rows = self._reader.execute(
                "SELECT seq, inlet, message_id, received, body FROM messages WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [Stored(*row) for row in rows]

    def position(self, consumer: str) -> int:
        with self._reading:
            row = self._reader.execute("SELECT position FROM consumers WHERE name = ?", (consumer,)).fetchone()
        return int(row[0]) if row else 0

    def commit(self, consumer: str, position: int) -> None:
        with self._reading:
            self._reader.execute(
                "INSERT INTO consumers VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position "
                "WHERE excluded.position > consumers.position",
                (consumer, position),
            )

    def last(self) -> int:
        with self._reading:
            row = self._reader.execute("SELECT max(seq) FROM messages").fetchone()
        return int(row[0] or 0)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._waiting.put(None)
        self._writer.join()
        self._checkpoints.set()
        self._checkpointer.join()
        with self._reading:
            self._reader.close()


def _settle(future: Future[list[Appended]], result: list[Appended] | None = None,
            exception: BaseException | None = None) -> None:  # fmt: skip
    """Give an appender its answer, unless it stopped waiting (cancelled its future): its messages are in the
    log all the same, and the writer goes on for the others."""
    if not future.set_running_or_notify_cancel():
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result or [])
