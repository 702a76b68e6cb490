"""Locks held by running jobs: one catalog row per lock, naming its owner (pid, host) and beating a heartbeat.

A job takes a lock by inserting its row (the name is the key: of two inserts, one wins) and gives it
back by deleting it. While the job runs, a thread beats the row's heartbeat. A lock whose owner is
gone (a dead pid on this host, or one reused by a process started after the lock was taken) or
silent for longer than the stale bound (any host) is abandoned:
the next taker removes it and takes the lock. A thread that already holds a lock gets it again at
once, so that a job may call another job that takes the same lock (a record deletion rebuilds the
profiles it fed)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from accord.catalog import Database, JobLeaseRecord, aware, new_id, utcnow
from accord.jobs.exceptions import JobRunningError, LockLostError
from accord.jobs.owners import Owner

log = logging.getLogger("accord.jobs")


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, for what, since when, and when it last said it was alive."""

    purpose: str
    owner: Owner
    since: datetime
    heartbeat: datetime

    @classmethod
    def of(cls, record: JobLeaseRecord) -> Holder:
        since = aware(record.started_at)
        return cls(record.purpose, Owner(record.pid, record.host, since.timestamp()), since,
                   aware(record.heartbeat_at))  # fmt: skip

    def abandoned(self, stale_seconds: float) -> bool:
        """Its process is gone from this host, or it has not beaten for `stale_seconds` (any host)."""
        return self.owner.gone or (utcnow() - self.heartbeat).total_seconds() > stale_seconds


@dataclass
class Lease:
    """A lock this process holds."""

    name: str
    purpose: str
    token: str
    lost: bool = False
    """The heartbeat found the row gone: another process judged this one dead and took the lock over."""


def holder(session: Session, name: str) -> Holder | None:
    """Who holds the lock `name` (alive or not), or None."""
    record = session.get(JobLeaseRecord, name)
    return Holder.of(record) if record is not None else None


def is_held(session: Session, name: str, stale_seconds: float) -> bool:
    """Whether a live process holds the lock `name`."""
    found = holder(session, name)
    return found is not None and not found.abandoned(stale_seconds)


def live_lock_hosts(session: Session, stale_seconds: float) -> frozenset[str]:
    """The hosts whose processes hold locks that are not abandoned."""
    records = session.scalars(select(JobLeaseRecord))
    return frozenset(record.host for record in records if not Holder.of(record).abandoned(stale_seconds))


_held = threading.local()


def holds(catalog: Database, name: str) -> bool:
    """Whether this thread holds the lock `name` (within `hold`)."""
    return (catalog.url, name) in _held.__dict__.get("leases", {})


def ensure_held(catalog: Database) -> None:
    """Raise `LockLostError` if another process took over a lock this thread holds on `catalog`.

    Jobs call it just before they replace what others read (a folder swap, a batch's commit, new
    memberships): a job that was stopped past the stale bound, then resumed, must not undo the work
    of the job that took its lock over. The row is looked at now, not at the heartbeat's last beat."""
    for (url, name), lease in _held.__dict__.get("leases", {}).items():
        if url != catalog.url:
            continue
        if not lease.lost:
            with catalog.session() as session:
                row = session.get(JobLeaseRecord, name)
                lease.lost = row is None or row.token != lease.token
        if lease.lost:
            raise LockLostError(lease.purpose, name)


@contextmanager
def hold(catalog: Database, name: str, purpose: str, *, wait_seconds: float, stale_seconds: float) -> Iterator[Lease]:
    """Hold the lock `name` for the block, waiting up to `wait_seconds` for its holder to finish.

    Raises `JobRunningError` (who holds it, since when) when it is still held after the wait. The
    heartbeat is beaten often enough that a live holder never looks stale to others. `catalog` is any of
    Accord's databases with a `job_leases` table: the catalog, or the campaign engine's own."""
    mine: dict[tuple[str, str], Lease] = _held.__dict__.setdefault("leases", {})
    key = (catalog.url, name)
    if key in mine:  # this thread holds it already: a job within a job
        yield mine[key]
        return
    lease = _take(catalog, name, purpose, wait_seconds, stale_seconds)
    mine[key] = lease
    heartbeat = _Heartbeat(catalog, lease, every=max(0.5, min(60.0, stale_seconds / 6)))
    try:
        yield lease
    finally:
        heartbeat.stop()
        del mine[key]
        try:
            with catalog.session() as session:
                session.execute(delete(JobLeaseRecord).where(JobLeaseRecord.name == name,
                                                             JobLeaseRecord.token == lease.token))  # fmt: skip
        except SQLAlchemyError as exc:  # the row goes stale and the next taker removes it
            log.warning("could not give back the lock %s: %s", name, exc)


def _take(catalog: Database, name: str, purpose: str, wait_seconds: float, stale_seconds: float) -> Lease:
    started = time.monotonic()
    me = Owner.me()
    told = False
    while True:
        with catalog.session() as session:
            current = session.get(JobLeaseRecord, name)
            if current is not None and Holder.of(current).abandoned(stale_seconds):
                log.warning("%s takes over from %s (pid %s on %s), which stopped", purpose, current.purpose,
                            current.pid, current.host)  # fmt: skip
                session.execute(delete(JobLeaseRecord).where(JobLeaseRecord.name == name,
                                                             JobLeaseRecord.token == current.token))  # fmt: skip
                current = None
            found = Holder.of(current) if current is not None else None
        if found is None:
            token = new_id()
            try:
                with catalog.session() as session:
                    now = utcnow()
                    session.add(JobLeaseRecord(name=name, token=token, purpose=purpose[:255], pid=me.pid,
                                               host=me.host, started_at=now, heartbeat_at=now))  # fmt: skip
                return Lease(name, purpose, token)
            except IntegrityError:  # another process inserted first: look again at who holds it
                continue
        waited = time.monotonic() - started
        if waited >= wait_seconds:
            raise JobRunningError(purpose, found.purpose, found.owner.pid, found.owner.host, found.since,
                                  round(waited, 1))  # fmt: skip
        if not told:  # a silent wait looks like a hang
            log.warning("%s waits for %s (pid %s on %s, since %s UTC) to finish, for up to %g s", purpose,
                        found.purpose, found.owner.pid, found.owner.host, f"{found.since:%Y-%m-%d %H:%M:%S}",
                        wait_seconds)  # fmt: skip
            told = True
        time.sleep(min(0.5, wait_seconds - waited))


class _Heartbeat:
    """A thread that beats a lease's heartbeat until stopped."""

    def __init__(self, catalog: Database, lease: Lease, every: float) -> None:
        self._catalog, self._lease, self._every = catalog, lease, every
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {lease.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        lease = self._lease
        while not self._stopped.wait(self._every):
            try:
                with self._catalog.session() as session:
                    beaten = session.execute(update(JobLeaseRecord).where(
                        JobLeaseRecord.name == lease.name, JobLeaseRecord.token == lease.token,
                    ).values(heartbeat_at=utcnow()))  # fmt: skip
            except SQLAlchemyError as exc:  # the catalog may be back at the next beat
                log.warning("could not beat the heartbeat of %s: %s", lease.name, exc)
                continue
            if beaten.rowcount == 0:  # type: ignore[attr-defined]
                lease.lost = True
                log.error("the lock %s was taken over by another process while %s ran", lease.name, lease.purpose)
                return

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
