"""Jobs on a shared lake: what killed jobs left is cleared when the next job starts, and the jobs that
replace a sandbox's folders run one at a time.

A killed process cannot clean up after itself. So every job starts by sweeping the scratch folders
(engine spill, staging, uploads) of processes gone from this host (and those of other hosts that
hold no live lock, once untouched for `stale_run_seconds`), and by closing the batches still
`loading` whose ingestion no longer holds its lock: they are marked failed, and their staging, any
rows already moved into the dataset and their diagnostics are removed.

Jobs that replace or remove folders of a sandbox (the identity graphs, the profile store, segment
memberships, batches rewritten or deleted) read what the others replace, so they hold the sandbox's
lock: one runs, the others wait up to `job_wait_seconds`, then are told who runs and since when.
Ingestion takes no sandbox lock: it only adds a batch in one rename, and readers list the batches
they read when they start."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from accord.catalog import BatchRecord, resolve_sandbox, utcnow
from accord.jobs import Lease, hold, holds, is_held, live_lock_hosts, removed_at_end, sweep
from accord.lake.store import recover_replacements

if TYPE_CHECKING:
    from accord.workspace import Workspace

log = logging.getLogger("accord.jobs")

ABANDONED = {"code": "INGEST-1501-500", "message": "abandoned: the process ingesting it stopped"}


def batch_lock(batch_id: str) -> str:
    """The lock an ingestion holds while its batch is loading."""
    return f"batch:{batch_id}"


def sandbox_lock(sandbox_id: str) -> str:
    """The lock of the jobs that replace a sandbox's folders."""
    return f"sandbox:{sandbox_id}"


@dataclass
class Reaped:
    folders: list[Path] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)


def reap_abandoned(workspace: Workspace) -> Reaped:
    """Clear what killed jobs left: their scratch folders, and their batches still `loading` (now failed)."""
    settings, lake = workspace.settings, workspace.lake
    stale = settings.stale_run_seconds
    reaped = Reaped()
    with workspace.catalog.session() as session:
        live_hosts = live_lock_hosts(session, stale)
    for root in (settings.spill_root, lake.staging_root, lake.uploads_root):
        reaped.folders.extend(sweep(root, stale, live_hosts))
    closed: list[tuple[str, str, str]] = []
    with workspace.catalog.session() as session:
        for batch in session.scalars(select(BatchRecord).where(BatchRecord.status == "loading")):
            if is_held(session, batch_lock(batch.id), stale):
                continue
            batch.status, batch.error, batch.completed_at = "failed", dict(ABANDONED), utcnow()
            closed.append((batch.sandbox_id, batch.dataset_id, batch.id))
    for sandbox_id, dataset_id, batch_id in closed:
        lake.discard_label(batch_id)
        lake.remove_batch(sandbox_id, dataset_id, batch_id)  # rows a commit moved in before the process died
        lake.remove_diagnostics(sandbox_id, batch_id)
        reaped.batches.append(batch_id)
    if reaped.folders or reaped.batches:
        log.info("cleared what stopped jobs left: %d scratch folders, batches %s", len(reaped.folders),
                 ", ".join(reaped.batches) or "none")  # fmt: skip
    return reaped


@contextmanager
def sandbox_job(workspace: Workspace, sandbox: str, purpose: str) -> Iterator[Lease]:
    """Run a job that replaces or removes folders of a sandbox alone.

    Clears what killed jobs left, holds the sandbox's lock (waiting up to `job_wait_seconds` for the
    job that holds it, then raising `JobRunningError`), finishes folder replacements a killed job left
    half done, and removes the job's staging folders when it ends, also on errors. A job within a job
    (a record deletion rebuilds profiles) holds the lock it already has."""
    settings = workspace.settings
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
    name = sandbox_lock(sandbox_id)
    outermost = not holds(workspace.catalog, name)
    if outermost:
        reap_abandoned(workspace)
    with (
        hold(workspace.catalog, name, f"{purpose} in sandbox {sandbox}", wait_seconds=settings.job_wait_seconds,
             stale_seconds=settings.stale_run_seconds) as lease,
        removed_at_end(),
    ):  # fmt: skip
        if outermost:
            _recover(workspace, sandbox_id)
        yield lease


def _recover(workspace: Workspace, sandbox_id: str) -> None:
    """Put back what a killed job had moved aside in the sandbox (derived stores, rewritten batches)."""
    folder = workspace.lake.sandbox_dir(sandbox_id)
    recovered = recover_replacements(folder)
    datasets = folder / "datasets"
    for dataset in datasets.iterdir() if datasets.is_dir() else []:
        recovered.extend(recover_replacements(dataset))
    if recovered:
        log.warning("put back what a stopped job had moved aside: %s", ", ".join(str(p) for p in recovered))
