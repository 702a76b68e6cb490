"""Privacy jobs: each request is a job recorded in the catalog, with its status and a report per store.

A job is `queued` from the moment its identities were checked (`requests.parse_identities`: a request with
any problem records nothing), `processing` once it runs, then `complete` or `error`. A request for
identities that exist nowhere is a complete job whose report found nothing.

An access job reads, as lookups do, without a lock, and writes its bundle in its folder under the home
(`privacy/<job id>/bundle.json`, owner-only as everything there). A delete job replaces data: it holds the
lock of every activation flow of the sandbox, then the sandbox's lock, as the jobs that write those stores
do (waiting `job_wait_seconds` for the one that holds it, then naming it). Under the lock, a delete job
still `processing` was stopped (killed): it is closed as `error` (as it is when jobs are listed and its process
is gone from this host), and, since it may have stopped between the lake and the graphs, the next delete job
rebuilds the graphs and profiles in full once its own work is done, and says so. An access job whose process
is gone is closed when jobs are listed.

A delete job names nobody once it ends: its identities are kept as digests (HMAC-SHA256 under a key of the
job's own, `salt`), which say whether a given identity was in it to whoever asks with that identity, and
nothing to anyone else. It also removes the bundles of earlier access jobs about the same people and
replaces their identities by digests likewise. Then the catalog's file is compacted, so that the clear
text of its own request is not left in free pages or in the write-ahead log."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from accord.catalog import resolve_sandbox, utcnow
from accord.catalog.privacy import PrivacyJobRecord
from accord.catalog.reading import utc_time
from accord.errors import AccordError, InvalidInputError
from accord.governance.exceptions import BundleNotReadyError, NoBundleError, PrivacyJobNotFoundError
from accord.governance.privacy.requests import KINDS, RequestedIdentity, parse_identities
from accord.identity import namespaces
from accord.jobs import Owner
from accord.secure_delete import compact_database, secure_session_deletes

if TYPE_CHECKING:
    from accord.governance.privacy.reports import StoreReport
    from accord.workspace import Workspace

Progress = Callable[[str, float | None], None]
FOLDER = "privacy"
BUNDLE = "bundle.json"
INTERRUPTED = "interrupted: the process running it stopped"


def job_folder(workspace: Workspace, job_id: str) -> Path:
    """Where an access job writes its bundle, under the home."""
    return workspace.settings.home.resolve() / FOLDER / job_id


def run_privacy_job(workspace: Workspace, sandbox: str, kind: str, identities: Sequence[Any], *,
                    requested_by: str = "", places: Sequence[str] | None = None, progress: Progress | None = None,
                    campaign_withheld: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Check the request, record the job, run it to its end; the job as `job_document` gives it.

    `identities` are `{namespace, value}` objects or `NAMESPACE:VALUE` texts, 1 to 1,000 (`places` names where
    each came from, for the problems). `campaign_withheld`: why the job leaves the home's campaign instance
    alone (its requester may not act on it: `accord.access.campaign_withheld`). Raises the request's problems
    before anything is recorded, and `JobRunningError` (recorded as the job's error) when a delete cannot take
    the sandbox's lock in time."""
    sandbox_id, requested = _checked(workspace, sandbox, kind, identities, places)
    step = progress or (lambda _stage, _done: None)
    job_id = _record(workspace, sandbox_id, kind, requested, requested_by)
    try:
        if kind == "access":
            _access(workspace, sandbox, job_id, requested, step, campaign_withheld)
        else:
            _delete(workspace, sandbox, job_id, requested, step, campaign_withheld)
    except AccordError as exc:
        _finish(workspace, job_id, "error", error=exc.message, unfinished=True)
        raise
    except BaseException:
        _finish(workspace, job_id, "error", error=INTERRUPTED, unfinished=True)
        raise
    return get_privacy_job(workspace, sandbox, job_id)


def check_privacy_request(workspace: Workspace, sandbox: str, kind: str, identities: Sequence[Any],
                          places: Sequence[str] | None = None) -> list[RequestedIdentity]:  # fmt: skip
    """The identities a job of `kind` would be run for, checked as `run_privacy_job` checks them, without
    recording or reading anything: for a caller that says a request's problems before it runs the job elsewhere
    (the web workspace runs it in the background). Raises what `run_privacy_job` raises for a bad request."""
    return _checked(workspace, sandbox, kind, identities, places)[1]


def _checked(workspace: Workspace, sandbox: str, kind: str, identities: Sequence[Any],
             places: Sequence[str] | None) -> tuple[str, list[RequestedIdentity]]:  # fmt: skip
    """The sandbox's id and the request's identities, normalised; every problem raised at once."""
    if kind not in KINDS:
        raise InvalidInputError(f"a privacy job is `access` or `delete`, not {kind!r}", code="PRIVACY-0402-400",
                                kind=kind)  # fmt: skip
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        known = namespaces(session, sandbox_id)
    return sandbox_id, parse_identities(identities, known, places)


def _record(workspace: Workspace, sandbox_id: str, kind: str, requested: list[RequestedIdentity],
            requested_by: str) -> str:  # fmt: skip
    me = Owner.me()
    with workspace.catalog.session() as session:
        record = PrivacyJobRecord(sandbox_id=sandbox_id, kind=kind, status="queued", salt=secrets.token_hex(16),
                                  identities=[i.to_document() for i in requested], requested_by=requested_by[:128],
                                  pid=me.pid, host=me.host)  # fmt: skip
        session.add(record)
        session.flush()
        return record.id


def _processing(workspace: Workspace, job_id: str) -> None:
    with workspace.catalog.session() as session:
        record = session.get(PrivacyJobRecord, job_id)
        assert record is not None
        record.status, record.started_at = "processing", utcnow()


def _finish(workspace: Workspace, job_id: str, status: str, *, error: str | None = None,
            reports: list[StoreReport] | None = None, summary: dict[str, Any] | None = None,
            unfinished: bool = False) -> None:  # fmt: skip
    """Record how the job ended; a delete job's identities become digests (and the catalog is compacted). An
    `unfinished` job (stopped before it gave its report) leaves no bundle, not even part of one."""
    with workspace.catalog.session() as session:
        secure_session_deletes(session)
        record = session.get(PrivacyJobRecord, job_id)
        if record is None:
            return
        record.status, record.error, record.completed_at = status, error, utcnow()
        if reports is not None:
            record.report = [r.to_document() for r in reports]
        if summary is not None:
            record.summary = summary
        deleting = record.kind == "delete"
        if deleting:
            record.identities = _digests(record.salt, record.identities)
    if deleting and not compact_database(workspace.catalog.engine):
        with workspace.catalog.session() as session:  # said, so that an operator vacuums the catalog later
            record = session.get(PrivacyJobRecord, job_id)
            if record is not None:
                record.summary = {**(record.summary or {}), "catalogCompacted": False}
    if unfinished:
        shutil.rmtree(job_folder(workspace, job_id), ignore_errors=True)


def _digests(salt: str, identities: list[Any]) -> list[dict[str, str]]:
    """Identities as a finished delete job keeps them: each namespace with the HMAC-SHA256 of its value."""
    return [identity if "digest" in identity else
            {"namespace": identity["namespace"], "digest": identity_digest(salt, identity["value"])}
            for identity in identities]  # fmt: skip


def identity_digest(salt: str, value: str) -> str:
    """The digest a delete job keeps of an identity's (normalised) value."""
    return hmac.new(bytes.fromhex(salt), value.encode("utf-8"), hashlib.sha256).hexdigest()


def _access(workspace: Workspace, sandbox: str, job_id: str, requested: list[RequestedIdentity],
            step: Progress, campaign_withheld: str | None) -> None:  # fmt: skip
    from accord.governance.privacy.access import bundle_bytes, gather
    from accord.governance.privacy.reports import STORES
    from accord.governance.privacy.subject import find_subject

    _processing(workspace, job_id)
    subject = replace(find_subject(workspace, sandbox, requested), campaign_withheld=campaign_withheld)
    stores = list(STORES)
    bundle, reports = gather(workspace, subject, lambda store: step(f"reading {store}", stores.index(store) / len(
        stores)))  # fmt: skip
    bundle = {"job": job_id, "requested": [i.to_document() for i in requested], **bundle}
    folder = job_folder(workspace, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{BUNDLE}.partial"
    partial.write_bytes(bundle_bytes(bundle))
    partial.replace(folder / BUNDLE)
    _finish(workspace, job_id, _status(reports), reports=reports, summary=_summary(subject, reports),
            error=_errors(reports))  # fmt: skip


def _delete(workspace: Workspace, sandbox: str, job_id: str, requested: list[RequestedIdentity],
            step: Progress, campaign_withheld: str | None) -> None:  # fmt: skip
    from accord.destinations import flows_held, scratch_folder
    from accord.governance.privacy.delete import erase
    from accord.governance.privacy.reports import STORES
    from accord.governance.privacy.subject import find_subject
    from accord.lake import sandbox_job

    purpose = f"privacy delete job {job_id}"
    stores = list(STORES)
    with flows_held(workspace, sandbox, purpose), sandbox_job(workspace, sandbox, purpose):
        _close_stopped(workspace, sandbox, deletes=True)
        stopped = _unmended(workspace, sandbox)
        _processing(workspace, job_id)
        subject = replace(find_subject(workspace, sandbox, requested), campaign_withheld=campaign_withheld)
        with scratch_folder(workspace) as staging:
            reports = erase(workspace, subject, job_id, Path(staging), lambda store: step(
                f"erasing from {store}", stores.index(store) / len(stores)))  # fmt: skip
        catalog = next(r for r in reports if r.store == "catalog")
        catalog.details["accessBundlesRemoved"] = _forget_access_jobs(workspace, subject, job_id)
        catalog.found += catalog.details["accessBundlesRemoved"]  # found and removed: a report never removes more
        catalog.removed += catalog.details["accessBundlesRemoved"]
        if stopped:  # a stopped delete may have left the graphs behind the lake: they are made again from it
            step("rebuilding graphs and profiles after a stopped delete", 0.95)
            _rebuild_after(workspace, sandbox, stopped, reports)
            _mended(workspace, stopped, job_id)
    _finish(workspace, job_id, _status(reports), reports=reports, summary=_summary(subject, reports),
            error=_errors(reports))  # fmt: skip


def _rebuild_after(workspace: Workspace, sandbox: str, stopped: list[str], reports: list[StoreReport]) -> None:
    from accord.governance.privacy.reports import reaching
    from accord.profile import rebuild

    graph = next(r for r in reports if r.store == "identityGraph")
    with reaching(graph):
        rebuild(workspace, sandbox)
        graph.details["rebuiltAfterStoppedJobs"] = stopped


def _forget_access_jobs(workspace: Workspace, subject: Any, job_id: str) -> int:
    """Earlier access jobs of the sandbox about these people lose their bundle, and name them by digests only."""
    wanted = subject.identities
    removed = 0
    with workspace.catalog.session() as session:
        secure_session_deletes(session)
        records = session.scalars(select(PrivacyJobRecord).where(
            PrivacyJobRecord.sandbox_id == subject.sandbox_id, PrivacyJobRecord.kind == "access",
            PrivacyJobRecord.id != job_id))  # fmt: skip
        for record in records:
            named = {(i.get("namespace"), i.get("value")) for i in record.identities or []}
            if not named & wanted:
                continue
            record.identities = _digests(record.salt, record.identities)
            record.summary = {**(record.summary or {}), "bundleRemovedBy": job_id}
            folder = job_folder(workspace, record.id)
            if folder.exists():
                shutil.rmtree(folder)
                removed += 1
    return removed


def _close_stopped(workspace: Workspace, sandbox: str, deletes: bool) -> None:
    """Close the jobs still `queued` or `processing` whose process stopped: under the sandbox's lock (`deletes`),
    every delete job `processing` is one; any other is one when its process is gone from this host (a job
    queued by a live process waits for the lock). A stopped delete job is marked to be mended (`_unmended`)."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        records = list(
            session.scalars(
                select(PrivacyJobRecord).where(
                    PrivacyJobRecord.sandbox_id == sandbox_id, PrivacyJobRecord.status.in_(("queued", "processing"))
                )
            )
        )
    for record in records:
        seen = utc_time(record.started_at or record.created_at)
        gone = Owner(record.pid, record.host, seen.timestamp() if seen else None).gone
        if (deletes and record.kind == "delete" and record.status == "processing") or gone:
            began = record.kind == "delete" and record.status == "processing"  # a queued one changed nothing
            mend = {"stopped": True, "mendedBy": None} if began else None
            _finish(workspace, record.id, "error", error=INTERRUPTED, unfinished=True, summary=mend)


def _unmended(workspace: Workspace, sandbox: str) -> list[str]:
    """The delete jobs that stopped in the middle and whose work no delete job has mended since."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        records = session.scalars(select(PrivacyJobRecord).where(
            PrivacyJobRecord.sandbox_id == sandbox_id, PrivacyJobRecord.kind == "delete",
            PrivacyJobRecord.status == "error"))  # fmt: skip
        return [r.id for r in records if (r.summary or {}).get("stopped") and not (r.summary or {}).get("mendedBy")]


def _mended(workspace: Workspace, stopped: list[str], job_id: str) -> None:
    with workspace.catalog.session() as session:
        for record in session.scalars(select(PrivacyJobRecord).where(PrivacyJobRecord.id.in_(stopped))):
            record.summary = {**(record.summary or {}), "mendedBy": job_id}


def _status(reports: list[StoreReport]) -> str:
    return "error" if any(r.errors for r in reports) else "complete"


def _errors(reports: list[StoreReport]) -> str | None:
    failed = [f"{r.store}: {e['message']}" for r in reports for e in r.errors]
    return "; ".join(failed)[:4000] if failed else None


def _summary(subject: Any, reports: list[StoreReport]) -> dict[str, Any]:
    return {"people": len(subject.graphs), "identities": len(subject.identities),
            "found": sum(r.found for r in reports), "removed": sum(r.removed for r in reports),
            "storesReached": sum(1 for r in reports if r.reached),
            "storesWithErrors": [r.store for r in reports if r.errors]}  # fmt: skip


def list_privacy_jobs(workspace: Workspace, sandbox: str, limit: int = 100) -> list[dict[str, Any]]:
    """The sandbox's privacy jobs, newest first (those whose process stopped are closed first)."""
    if not 1 <= limit <= 10_000:
        raise InvalidInputError("limit: 1 to 10,000 jobs", code="PRIVACY-0403-400")
    _close_stopped(workspace, sandbox, deletes=False)
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        records = session.scalars(select(PrivacyJobRecord).where(PrivacyJobRecord.sandbox_id == sandbox_id)
                                  .order_by(PrivacyJobRecord.created_at.desc()).limit(limit))  # fmt: skip
        return [job_document(workspace, r) for r in records]


def get_privacy_job(workspace: Workspace, sandbox: str, job_id: str) -> dict[str, Any]:
    """One privacy job, with its report per store."""
    with workspace.catalog.session() as session:
        return job_document(workspace, _find(session, sandbox, job_id))


def privacy_bundle(workspace: Workspace, sandbox: str, job_id: str) -> Path:
    """The bundle of a completed access job; why not, for any other."""
    with workspace.catalog.session() as session:
        record = _find(session, sandbox, job_id)
        kind, status, summary = record.kind, record.status, dict(record.summary or {})
    if kind != "access":
        raise NoBundleError(job_id, "it is a delete job (only access jobs write one)")
    if summary.get("bundleRemovedBy"):
        raise NoBundleError(job_id, f"delete job {summary['bundleRemovedBy']} removed it with the people it named")
    path = job_folder(workspace, job_id) / BUNDLE
    if status not in ("complete", "error") or not path.exists():
        raise BundleNotReadyError(job_id, status)
    return path


def _find(session: Any, sandbox: str, job_id: str) -> PrivacyJobRecord:
    record = session.get(PrivacyJobRecord, job_id)
    if record is None or record.sandbox_id != resolve_sandbox(session, sandbox).id:
        raise PrivacyJobNotFoundError(job_id)
    return record  # type: ignore[no-any-return]


def job_document(workspace: Workspace, record: PrivacyJobRecord) -> dict[str, Any]:
    """A privacy job as the API and CLI show it."""
    started, completed = utc_time(record.started_at), utc_time(record.completed_at)
    created = utc_time(record.created_at)
    bundle = job_folder(workspace, record.id) / BUNDLE
    return {
        "id": record.id,
        "kind": record.kind,
        "status": record.status,
        "identities": record.identities,
        "summary": record.summary or {},
        "report": record.report or [],
        "error": record.error,
        "requestedBy": record.requested_by,
        "createdAt": created.isoformat() if created else None,
        "startedAt": started.isoformat() if started else None,
        "completedAt": completed.isoformat() if completed else None,
        "seconds": round((completed - started).total_seconds(), 3) if completed and started else None,
        "bundleReady": record.kind == "access" and bundle.exists(),
    }
