"""What the event log holds of people, found and erased (privacy jobs).

The embedded log keeps every accepted message (`log.py`: it never trims, so that ids stay idempotent). A
message names a person when one of its text values, at any depth of its body, trimmed and lower-cased, is
one of their identity values: SQLite reads the JSON (`json_tree`) and compares, without a row going through
Python. Only the messages of the sandbox's datasets are looked at. Erased messages are deleted with
`secure_delete` on, then the file is compacted (`accord.secure_delete`); the processor's positions stay
valid (a gap in the sequence is nothing to it), and a message sent again with an erased message's id is
taken as new.

A log on NATS JetStream is not reached: a JetStream stream has no query by content, and deleting messages
one by one by sequence is not built. A privacy job says so in its report."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from accord.secure_delete import compact, securely
from accord.settings import Settings
from accord.streaming.open_log import EMBEDDED_LOG

NAMING = """
SELECT DISTINCT m.seq FROM messages AS m, json_tree(CAST(m.body AS TEXT)) AS t
WHERE json_extract(CAST(m.body AS TEXT), '$.dataset') IN (SELECT value FROM json_each(?1))
  AND t.type = 'text' AND lower(trim(t.atom)) IN (SELECT value FROM json_each(?2))
"""


@dataclass(frozen=True)
class LogReach:
    """Whether a privacy job reaches the event log, and where it is."""

    path: Path | None
    why_not: str | None = None


def event_log(settings: Settings) -> LogReach:
    """The embedded log's file, or why the log is out of reach."""
    if settings.streaming_log_url.strip():
        return LogReach(None, "the event log is on NATS JetStream, which a privacy job does not reach (its messages "
                              "are ingested into the lake, which it does)")  # fmt: skip
    return LogReach(settings.home / EMBEDDED_LOG)


def messages_naming(path: Path, dataset_ids: list[str], values: set[str]) -> list[dict[str, Any]]:
    """The messages of these datasets that name one of the values (lower-cased): position, inlet, id, body."""
    if not path.exists() or not values or not dataset_ids:
        return []
    with closing(sqlite3.connect(path, timeout=30)) as db:
        seqs = [row[0] for row in db.execute(NAMING, (json.dumps(dataset_ids), json.dumps(sorted(values))))]
        rows = db.execute("SELECT seq, inlet, message_id, received, body FROM messages WHERE seq IN "
                          "(SELECT value FROM json_each(?)) ORDER BY seq", (json.dumps(seqs),)).fetchall()  # fmt: skip
    return [{"position": seq, "inlet": inlet, "messageId": message_id, "received": received,
             "body": orjson.loads(body)} for seq, inlet, message_id, received, body in rows]  # fmt: skip


def forget_messages(path: Path, dataset_ids: list[str], values: set[str]) -> tuple[int, bool]:
    """Delete the messages of these datasets that name one of the values; (how many, whether the log's
    write-ahead log was emptied)."""
    if not path.exists() or not values or not dataset_ids:
        return 0, True
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as db:
        with securely(db):
            db.execute("BEGIN IMMEDIATE")
            seqs = [row[0] for row in db.execute(NAMING, (json.dumps(dataset_ids), json.dumps(sorted(values))))]
            db.execute("DELETE FROM messages WHERE seq IN (SELECT value FROM json_each(?))", (json.dumps(seqs),))
            db.execute("COMMIT")
        return len(seqs), compact(db) if seqs else True
