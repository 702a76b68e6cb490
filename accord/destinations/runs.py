"""Activation runs: build an activation flow's files and hand them to its destination, recorded whatever starts it.

A run holds its flow's lock (two runs of one flow never overlap; the second is told who runs), then
builds every audience's files under the sandbox's lock (a profile rebuild or segment job never swaps
the store under it), lets that lock go, and hands the files to the destination, which puts each in
place atomically. Only then does it keep what it sent as the snapshot the next incremental run
compares with: a run that fails or is killed sends again, next time, what did not land. A killed
run's record is closed as failed by the next run of its flow, and its scratch files are swept.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select

from accord.access import AllowedRoots
from accord.catalog import resolve_sandbox, utcnow
from accord.catalog.activations import ActivationFlowRecord, ActivationRunRecord, DestinationAccountRecord
from accord.catalog.reading import utc_time
from accord.destinations.accounts import open_destination
from accord.destinations.export import AudienceExport, ExportInputs, export_audience
from accord.destinations.flows import FileSettings, definition_of, delete_flow_record, find_flow
from accord.destinations.handover import Handover, acknowledged, manifest_file, put_files, stream_rows
from accord.destinations.naming import NameValues
from accord.destinations.spec import FileDestination, RequestContext, StreamingDestination, profile_graphs
from accord.destinations.sync import acknowledged_records
from accord.destinations.usage import enforce_flow
from accord.errors import AccordError, NotFoundError
from accord.home import write_whole
from accord.jobs import Owner, hold, is_held, process_runs, removed_at_end
from accord.sources.alerts import raise_alerts

if TYPE_CHECKING:
    from accord.workspace import Workspace

Progress = Callable[[str, int, int], None]
"""Told (what, done, total) as a run goes: audiences built, files delivered."""
Changes = dict[str, tuple[pa.Table, pa.Table]]
"""By segment id: the profiles that joined (`graph`, `status` 0) and those that left (`graph`, `_hash`)."""
INTERRUPTED = "interrupted: the process running it stopped"


def run_activation(workspace: Workspace, sandbox: str, flow_name: str, *, trigger: str = "manual",
                   dry_run: bool = False, segment_ids: list[str] | None = None, progress: Progress | None = None,
                   changes: Changes | None = None) -> dict[str, Any]:  # fmt: skip
    """Run a flow now: its audiences (those of `segment_ids` alone, when given), full or incremental as the flow
    says; the run's document.

    A dry run builds nothing and sends nothing: it counts what would go out (added, changed, removed; with a
    sync mode, inserts, updates and deletes, and a few keys of each under `samples`, which its record does not keep).
    `changes` (the follower of membership changes, `following.py`): send, per audience, only these profiles,
    those that joined as members and those that left as exits."""
    settings = workspace.settings
    with workspace.catalog.session() as session:
        flow = find_flow(session, resolve_sandbox(session, sandbox).id, flow_name)
        flow_id, sandbox_id = flow.id, flow.sandbox_id
    _close_interrupted(workspace, flow_id)
    with hold(workspace.catalog, flow_lock(flow_id), f"activation flow {flow_name}", wait_seconds=0,
              stale_seconds=settings.stale_run_seconds):  # fmt: skip
        with workspace.catalog.session() as session:
            me = Owner.me()
            current = session.get(ActivationFlowRecord, flow_id)
            assert current is not None  # deleting a flow waits for its lock
            wanted = [a.segment_id for a in definition_of(current).audiences
                      if segment_ids is None or a.segment_id in segment_ids]  # fmt: skip
            # the audiences it tries, known from the start: a failed scheduled run counts as an attempt
            run = ActivationRunRecord(sandbox_id=sandbox_id, flow_id=flow_id, trigger=trigger, dry_run=dry_run,
                                      audiences=[{"segmentId": s} for s in wanted], host=me.host, pid=me.pid,
                                      heartbeat_at=utcnow())  # fmt: skip
            session.add(run)
            session.flush()
            run_id, started = run.id, utc_time(run.created_at)
        if not dry_run and changes is None:  # a run per batch of changes would flood the start alerts
            raise_alerts(workspace, "activation.start", flow_id, f"activation flow {flow_name} started (run {run_id})",
                         run_id)  # fmt: skip
        try:
            outcome = _run(workspace, sandbox, flow_id, run_id, started, dry_run, segment_ids,  # type: ignore[arg-type]
                           progress, changes)  # fmt: skip
        except AccordError as exc:
            _finish(workspace, run_id, "failed", errors=[{"code": exc.code, "message": exc.message}])
            raise
        except Exception as exc:
            _finish(workspace, run_id, "failed", errors=[{"code": "ACTIVATION-0500-500", "message": str(exc)}])
            raise
        samples = outcome.pop("samples")
        _finish(workspace, run_id, outcome.pop("status"), **outcome)
    document = get_run(workspace, sandbox, run_id)
    for audience in document["audiences"]:  # shown to whoever asked for the dry run, never kept: keys are personal
        if audience.get("segmentId") in samples:
            audience["samples"] = samples[audience["segmentId"]]
    return document


def _run(workspace: Workspace, sandbox: str, flow_id: str, run_id: str, started: datetime, dry_run: bool,
         segment_ids: list[str] | None, progress: Progress | None,
         changes: Changes | None) -> dict[str, Any]:  # fmt: skip
    from accord import profile, segment
    from accord.engine import connect
    from accord.lake import sandbox_job
    from accord.profile.store import FINGERPRINTS
    from accord.schema import field_dtype, union_schema
    from accord.sources import SecretBox

    with workspace.catalog.session() as session:
        flow = session.get(ActivationFlowRecord, flow_id)
        assert flow is not None
        account = session.get(DestinationAccountRecord, flow.account_id)
        assert account is not None
        definition = definition_of(flow)
        # the policies of now, on the segments of now: enabled since the flow was saved, or labels added since
        enforce_flow(session, sandbox, flow.name, definition, account)
        if account.marketing_actions:  # the account's actions are its flows': the consents they need are honoured
            definition = definition.model_copy(update={"marketing_actions": sorted(
                {*definition.marketing_actions, *account.marketing_actions})})  # fmt: skip
        if segment_ids is not None:
            definition = definition.model_copy(update={"audiences": [
                a for a in definition.audiences if a.segment_id in segment_ids]})  # fmt: skip
        destination = open_destination(account, SecretBox(workspace.settings.home),
                                       AllowedRoots.from_settings(workspace.settings))  # fmt: skip
        spec = destination.spec
        sandbox_id = flow.sandbox_id
        leaves = {**union_schema(session, sandbox, "profile").leaves(), **segment.computed_fields(session, sandbox)}
        leaf_types = {p: field_dtype(s) for p, s in leaves.items()}
        segments = {a.segment_id: segment.find_segment(session, sandbox, a.segment_id or a.segment).name
                    for a in definition.audiences}  # fmt: skip
        flow_name, account_name = flow.name, account.name
    streaming = isinstance(destination, StreamingDestination)
    if streaming:  # built as Parquet with each profile's id, then read back a batch at a time and sent
        built = definition.model_copy(update={"file": FileSettings(format="parquet", nameTemplate="%SEGMENT_ID%",
                                                                   splitRows=10**12)})  # fmt: skip
    else:
        built = definition
    if changes is not None:  # the exits come from the "snapshot" the changes give, as an incremental run's do
        built = built.model_copy(update={"export_mode": "incremental"})
    folder = snapshots_folder(workspace, sandbox_id, flow_id)
    exports: list[AudienceExport] = []
    handed = Handover()
    with removed_at_end():
        staging = workspace.lake.staging("activation")
        with sandbox_job(workspace, sandbox, f"activation {flow_name}"):
            store = profile.store_folder(workspace, sandbox_id)
            if not (store / "profiles.parquet").exists():
                raise NotFoundError("no profiles to activate yet: build them with `accord profile rebuild`",
                                    code="ACTIVATION-0411-404")  # fmt: skip
            streamed = segment.overlay_changes(workspace, sandbox_id) if changes is None else {}
            computed = segment.computed_columns(workspace, sandbox, {m.source for m in definition.mapping})
            con = connect(export_settings(workspace.settings))
            try:
                for index, audience in enumerate(built.audiences):
                    segment_id = audience.segment_id or audience.segment
                    if changes is not None:
                        members, previous = changes[segment_id]
                    else:
                        members = _with_streamed(segment.membership_table(workspace, sandbox_id, segment_id),
                                                 streamed.get(segment_id))  # fmt: skip
                        previous = _read_snapshot(folder / f"{segment_id}.parquet")
                    inputs = ExportInputs(store / "profiles.parquet", store / "members.arrow", members, leaf_types,
                                          store / FINGERPRINTS, computed)  # fmt: skip
                    names = NameValues(spec.name, account_name, account.id, segment_id, segments[segment_id],
                                       sandbox, started)  # fmt: skip
                    exports.append(export_audience(con, inputs, built, spec, audience, names, staging, previous,
                                                   write=not dry_run, profile_ids=streaming))  # fmt: skip
                    if progress:
                        progress("audiences", index + 1, len(built.audiences))
            finally:
                con.disconnect()
        if not dry_run:
            if isinstance(destination, StreamingDestination):
                from accord.destinations.streaming.deadletters import CatalogDeadLetters

                context = RequestContext(destination=account_name, flow={"id": flow_id, "name": flow_name})
                letters = CatalogDeadLetters(workspace.catalog, sandbox_id, flow_id, run_id)
                waiting = changes is not None  # a follower has time: it waits for an open circuit breaker
                handed = stream_rows(destination, exports, definition, context, letters, wait_when_open=waiting)
            else:
                assert isinstance(destination, FileDestination)
                manifest = (
                    manifest_file(staging, flow_id, run_id, started, exports) if definition.file.manifest else None
                )
                handed = put_files(destination, exports, manifest, progress)
            for export in exports:  # what the destination accepted: the next incremental run compares with it
                path = folder / f"{export.segment_id}.parquet"
                if definition.sync_mode:  # never followed (`following.py`): its runs diff whole audiences
                    accepted = acknowledged_records(export.snapshot, export.previous, export.sent,
                                                    handed.failed_profiles)  # fmt: skip
                else:
                    accepted = acknowledged(export.snapshot, handed.failed_profiles)
                touched = changes[export.segment_id] if changes is not None else export.touched
                if touched is not None and definition.export_mode == "incremental":  # a part of the audience
                    accepted = _merged(_read_snapshot(path), accepted, touched, handed.failed_profiles)
                elif changes is not None:
                    accepted = None  # a full flow keeps no snapshot
                _write_snapshot(path, accepted)
    excluded: dict[str, int] = {}
    for export in exports:
        for reason, count in export.excluded.items():
            excluded[reason] = excluded.get(reason, 0) + count
    return {
        "full": all(e.full for e in exports),
        "profiles_received": sum(e.profiles_received for e in exports),
        "identities_activated": sum(e.identities for e in exports),
        "excluded": excluded,
        "files": handed.files,
        "requests": handed.requests,
        "retries": handed.retries,
        "profiles_failed": handed.failed,
        "errors": [
            {"code": "DEST-0502-502", "message": f"{n:,} profiles not delivered: {why}"}
            for why, n in sorted(handed.failures.items())
        ],
        "status": "success" if not handed.failed else "partial" if handed.delivered else "failed",
        "samples": {e.segment_id: e.samples for e in exports if dry_run and definition.sync_mode},
        "audiences": [
            {
                "segmentId": e.segment_id,
                "segment": e.segment_name,
                "profilesReceived": e.profiles_received,
                "rows": e.rows,
                "changes": e.changes,
                "excluded": e.excluded,
            }
            for e in exports
        ],
    }


def export_settings(settings: Any) -> Any:
    """The settings an export's engine runs with: the smaller of the two memory limits."""
    from accord.engine import size_bytes

    smaller = min(settings.duckdb_memory_limit, settings.export_memory_limit, key=size_bytes)
    return settings.model_copy(update={"duckdb_memory_limit": smaller})


def snapshots_folder(workspace: Workspace, sandbox_id: str, flow_id: str) -> Path:
    """Where a flow keeps, per audience, what the destination last accepted (profile and row hash)."""
    return workspace.lake.sandbox_dir(sandbox_id) / "activations" / flow_id


def _read_snapshot(path: Path) -> pa.Table | None:
    return pq.ParquetFile(path).read() if path.exists() else None  # not read_table: it loads pyarrow.dataset


def _write_snapshot(path: Path, table: pa.Table | None) -> None:
    if table is not None:
        write_whole(path, lambda partial: pq.write_table(table, partial))


def _with_streamed(members: pa.Table | None, streamed: Any) -> pa.Table | None:
    """An audience's memberships now: its last batch job's, with what streaming evaluation changed since."""
    import pyarrow.compute as pc

    if streamed is None or not len(streamed.graph):
        return members
    changed = pa.table({"graph": pa.array(streamed.graph, pa.int64()), "status": pa.array(streamed.status, pa.int8())})
    if members is None:
        return changed
    base = members.select(["graph", "status"]).cast(changed.schema)
    return pa.concat_tables([base.filter(pc.invert(pc.is_in(base["graph"], value_set=changed["graph"]))), changed])


def _merged(old: pa.Table | None, accepted: pa.Table | None, change: tuple[pa.Table, pa.Table],
            failed: set[str]) -> pa.Table | None:  # fmt: skip
    """The snapshot after a run on some profiles alone: those that joined replaced by what the destination
    accepted (one that failed is left out, so the next incremental run sends it), those that left taken
    out once their exit was accepted (one whose exit failed stays, so the next run says it left)."""
    if old is None:
        return accepted
    joined, left = change
    exits = left["graph"].combine_chunks()
    delivered_exits = exits.filter(pc.invert(pc.is_in(exits, value_set=profile_graphs(failed))))
    touched = pa.concat_arrays([joined["graph"].combine_chunks(), delivered_exits])
    kept = old.filter(pc.invert(pc.is_in(old["graph"], value_set=touched)))
    if accepted is None:
        return kept
    common = [c for c in kept.column_names if c in accepted.column_names]  # a snapshot made before fingerprints
    return pa.concat_tables([kept.select(common), accepted.select(common).cast(kept.select(common).schema)])


def _finish(workspace: Workspace, run_id: str, status: str, **values: Any) -> None:
    """Record how a run ended, set its flow's state, and raise the alerts it calls for (not for a dry run)."""
    with workspace.catalog.session() as session:
        run = session.get(ActivationRunRecord, run_id)
        if run is None:  # its flow was deleted meanwhile
            return
        for key, value in values.items():
            setattr(run, key, value)
        run.status, run.completed_at = status, utcnow()
        flow = session.get(ActivationFlowRecord, run.flow_id)
        if flow is None or run.dry_run:
            return
        if status == "failed":
            flow.state, flow.error = "error", run.errors[0]["message"] if run.errors else status
        elif flow.state == "error":
            flow.state, flow.error = "enabled", None
        flow_id, name, received, trigger = flow.id, flow.name, run.profiles_received, run.trigger
        left_out = sum(run.excluded.values()) + run.profiles_failed
        said = "; ".join(e["message"] for e in run.errors)[:500]
    if status != "success":
        raise_alerts(workspace, "activation.failure", flow_id, f"activation flow {name}: run {run_id} {status}: {said}",
                     run_id)  # fmt: skip
    elif trigger != "events":  # one run per batch of membership changes: their successes would flood
        raise_alerts(
            workspace, "activation.success", flow_id, f"activation flow {name}: run {run_id} succeeded", run_id
        )
    if received:
        rate = round(100 * left_out / received, 2)
        raise_alerts(workspace, "activation.skipped", flow_id, f"activation flow {name}: run {run_id} left out "
                     f"{left_out:,} of {received:,} profiles ({rate} %)", run_id, {"skipRate": rate})  # fmt: skip


def _close_interrupted(workspace: Workspace, flow_id: str) -> None:
    """Close as failed the runs of a flow left `running` while nobody holds its lock (their process was killed),
    and remove the half-written files of the flow's own that a killed process left (`write_whole`)."""
    with workspace.catalog.session() as session:
        if is_held(session, flow_lock(flow_id), workspace.settings.stale_run_seconds):
            return
        folder = snapshots_folder(workspace, session.get(ActivationFlowRecord, flow_id).sandbox_id, flow_id)  # type: ignore[union-attr]
        for partial in folder.glob(".*.*.*") if folder.exists() else []:
            pid = partial.name.rsplit(".", 2)[-2]
            if pid.isdigit() and not process_runs(int(pid)):
                partial.unlink(missing_ok=True)
        running = select(ActivationRunRecord).where(ActivationRunRecord.flow_id == flow_id,
                                                    ActivationRunRecord.status == "running")  # fmt: skip
        for run in session.scalars(running):
            run.status, run.completed_at = "failed", utcnow()
            run.errors = [{"code": "ACTIVATION-0500-500", "message": INTERRUPTED}]


def flow_lock(flow_id: str) -> str:
    """The lock a run of the flow holds: runs of one flow never overlap."""
    return f"activation:{flow_id}"


def run_document(run: ActivationRunRecord, flow_name: str) -> dict[str, Any]:
    started, completed = utc_time(run.created_at), utc_time(run.completed_at)
    return {
        "id": run.id,
        "flow": flow_name,
        "status": run.status,
        "trigger": run.trigger,
        "dryRun": run.dry_run,
        "full": run.full,
        "profilesReceived": run.profiles_received,
        "identitiesActivated": run.identities_activated,
        "profilesFailed": run.profiles_failed,
        "excluded": run.excluded,
        "audiences": run.audiences,
        "files": run.files,
        "requests": run.requests,
        "retries": run.retries,
        "errors": run.errors,
        "startedAt": started.isoformat() if started else None,
        "completedAt": completed.isoformat() if completed else None,
        "durationSeconds": round((completed - started).total_seconds(), 3) if started and completed else None,
    }


def get_run(workspace: Workspace, sandbox: str, run_id: str) -> dict[str, Any]:
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        row = session.execute(
            select(ActivationRunRecord, ActivationFlowRecord.name)
            .join(ActivationFlowRecord, ActivationFlowRecord.id == ActivationRunRecord.flow_id)
            .where(ActivationRunRecord.id == run_id, ActivationRunRecord.sandbox_id == sandbox_id)
        ).first()
        if row is None:
            raise NotFoundError(f"no activation run {run_id!r}", code="ACTIVATION-0405-404", run=run_id)
        return run_document(row[0], row[1])


def list_runs(workspace: Workspace, sandbox: str, flow_name: str, limit: int = 50) -> list[dict[str, Any]]:
    """A flow's runs, newest first."""
    with workspace.catalog.session() as session:
        flow = find_flow(session, resolve_sandbox(session, sandbox).id, flow_name)
        runs = session.scalars(select(ActivationRunRecord).where(ActivationRunRecord.flow_id == flow.id)
                               .order_by(ActivationRunRecord.created_at.desc()).limit(limit))  # fmt: skip
        return [run_document(r, flow.name) for r in runs]


def delete_flow(workspace: Workspace, sandbox: str, name: str) -> None:
    """Delete a flow with its runs, dead letters and snapshots (files already delivered stay where they landed).

    Waits for a run of the flow under way to end (up to `job_wait_seconds`)."""
    with workspace.catalog.session() as session:
        flow_id = find_flow(session, resolve_sandbox(session, sandbox).id, name).id
    settings = workspace.settings
    with hold(workspace.catalog, flow_lock(flow_id), f"deleting activation flow {name}",
              wait_seconds=settings.job_wait_seconds, stale_seconds=settings.stale_run_seconds):  # fmt: skip
        with workspace.catalog.session() as session:
            sandbox_id, _ = delete_flow_record(session, sandbox, name)
        shutil.rmtree(snapshots_folder(workspace, sandbox_id, flow_id), ignore_errors=True)
