"""Deleting from SQLite files so that nothing of what was deleted stays in them.

A plain DELETE marks space free and leaves the bytes where they were; so do the UPDATEs that moved a row
before (its old copy stays in the page's free space), and the write-ahead log keeps the pages it logged
until it is checkpointed and truncated. Accord's SQLite files (the catalog, the campaign database, the
event log, graph and membership overlays) are all in WAL mode. So a deletion that must leave nothing:
1. deletes with `secure_delete` on, which overwrites the deleted content with zeros;
2. then `compact`s the file: VACUUM rebuilds it from the live rows only (no free page, no stale copy),
   and a TRUNCATE checkpoint copies the log into the file and empties the log.
A reader that holds a transaction open keeps the checkpoint from emptying the log; `compact` says so, and
the caller reports it (the next checkpoint of the file's own writer empties it)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("accord")


@contextmanager
def securely(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Deletes and updates within the block overwrite what they remove with zeros."""
    db.execute("PRAGMA secure_delete = ON")
    try:
        yield db
    finally:
        db.execute("PRAGMA secure_delete = OFF")


def compact(db: sqlite3.Connection) -> bool:
    """Rebuild the file from its live rows and empty its write-ahead log; whether the log could be emptied.

    `db` must be in autocommit mode (`isolation_level=None`): VACUUM cannot run within a transaction."""
    db.execute("VACUUM")
    busy, _logged, _copied = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return not busy


def compact_database(engine: Any) -> bool:
    """`compact` for a SQLAlchemy engine on SQLite (the catalog, the campaign database); True for any other
    database, whose own maintenance (PostgreSQL's VACUUM) is its operator's."""
    if engine.dialect.name != "sqlite":
        return True
    from sqlalchemy.exc import OperationalError

    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM")
            busy, _logged, _copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except OperationalError as exc:  # another process kept the file busy past the timeout: its next vacuum will do
        log.warning("could not compact %s: %s", engine.url.database, exc.orig)
        return False
    return not busy


def secure_session_deletes(session: Any) -> None:
    """Within a SQLAlchemy session on SQLite, make the deletes and updates it runs overwrite what they remove."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA secure_delete = ON")
