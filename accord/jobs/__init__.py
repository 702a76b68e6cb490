"""Jobs that share a home: locks that keep some jobs from overlapping, and scratch folders of their own.

Several processes (the CLI, `accord serve`, scheduled runs) work on one home at once. Each job gets
scratch folders of its own, named for its owner, removed when it ends, and swept by the next job
when a killed one left them. Jobs that must not overlap hold a lock: a catalog row with the owner's
pid, host and heartbeat; a second caller waits up to a bound, then is told who runs, since when."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.jobs.exceptions import JobRunningError, LockLostError
    from accord.jobs.leases import Holder, Lease, ensure_held, hold, holder, holds, is_held, live_lock_hosts
    from accord.jobs.owners import Owner, process_runs, process_started
    from accord.jobs.scratch import SEPARATOR, owner_of, removed_at_end, scratch_name, sweep, track

_EXPORTS = {
    "exceptions": ["JobRunningError", "LockLostError"],
    "leases": ["Holder", "Lease", "ensure_held", "hold", "holder", "holds", "is_held", "live_lock_hosts"],
    "owners": ["Owner", "process_runs", "process_started"],
    "scratch": ["SEPARATOR", "owner_of", "removed_at_end", "scratch_name", "sweep", "track"],
}
__all__ = lazy_face(__name__, _EXPORTS)
