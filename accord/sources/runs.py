"""Running dataflows: the lock that keeps runs from overlapping, the run loop, and run records.

A run reads items from the connector and ingests each as one batch through the batch pipeline.
After each item is committed, the connector's checkpoint is saved, so a run that dies halfway is
picked up by the next one from the last committed point; an item whose batch already committed is
never ingested twice (the batch records its items). Two runs of one dataflow never overlap: a run
holds the dataflow's lock (`accord.jobs`, with its process and heartbeat); a lock left by a run
whose process died (or that stopped beating) is taken over, and the run it recorded is closed."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accord.access import AllowedRoots
from accord.catalog import (
    BatchRecord,
    BatchSourceRecord,
    DataflowRecord,
    FlowRunRecord,
    new_id,
    resolve_sandbox,
    run_health_rows,
    utcnow,
)
from accord.errors import AccordError, ConflictError, NotFoundError
from accord.ingest import IngestRequest, ReadOptions, ingest_file, parse_mapping
from accord.jobs import JobRunningError, hold
from accord.lake import reap_abandoned
from accord.sources.alerts import raise_alerts
from accord.sources.connections import find_connection, open_source
from accord.sources.dataflows import dataflow_document, dataflow_lock, find_dataflow
from accord.sources.exceptions import DataflowRunningError
from accord.sources.secrets import SecretBox
from accord.sources.spec import Checkpoint, IngestItem, ReadContext, SourceFile
from accord.workspace import Workspace


def run_document(record: FlowRunRecord, dataflow: str | None = None) -> dict[str, Any]:
    seconds = None
    if record.started_at and record.completed_at:
        seconds = round((record.completed_at - record.started_at).total_seconds(), 3)
    return {
        "id": record.id,
        "dataflow": dataflow,
        "status": record.status,
        "trigger": record.trigger,
        "recordsReceived": record.records_received,
        "recordsIngested": record.records_ingested,
        "recordsFailed": record.records_failed,
        "files": record.files,
        "bytes": record.bytes,
        "durationSeconds": seconds,
        "ingestionRate": round(record.records_ingested / seconds, 1) if seconds else None,
        "batches": record.batch_ids,
        "errors": record.errors,
        "startedAt": record.started_at.isoformat() if record.started_at else None,
        "completedAt": record.completed_at.isoformat() if record.completed_at else None,
    }


def list_runs(session: Session, sandbox: str, dataflow: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    query = (
        select(FlowRunRecord, DataflowRecord.name).join(DataflowRecord).where(FlowRunRecord.sandbox_id == sandbox_id)
    )
    if dataflow is not None:
        query = query.where(FlowRunRecord.dataflow_id == find_dataflow(session, sandbox_id, dataflow).id)
    rows = session.execute(query.order_by(FlowRunRecord.created_at.desc()).limit(max(1, min(limit, 1000))))
    return [run_document(run, name) for run, name in rows]


def run_health(session: Session, sandbox: str, since: datetime, failing: int = 20) -> dict[str, Any]:
    """The sandbox's dataflow runs since `since` counted by status, and the dataflows whose latest run failed
    (at most `failing` of them, the most recent first)."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    counted, rows = run_health_rows(session, FlowRunRecord, DataflowRecord, "dataflow_id", sandbox_id, since, failing)
    return {"byStatus": counted, "failing": [run_document(r, n) for r, n in rows]}


def get_run(session: Session, sandbox: str, run_id: str) -> dict[str, Any]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    run = session.get(FlowRunRecord, run_id)
    if run is None or run.sandbox_id != sandbox_id:
        raise NotFoundError(f"no run with id {run_id!r}", code="SOURCE-0423-404")
    dataflow = session.get(DataflowRecord, run.dataflow_id)
    return run_document(run, dataflow.name if dataflow else None)


Progress = Callable[[str], None]


def run_dataflow(
    workspace: Workspace, sandbox: str, name: str, trigger: str = "manual", progress: Progress | None = None
) -> dict[str, Any]:
    """Run a dataflow now and return the run record; never two runs of one dataflow at once.

    A run holds the dataflow's lock and does not wait for it: a second caller is told which run, in
    which process, holds it. A run whose process died no longer holds it: the next run closes it."""
    with workspace.catalog.session() as session:
        flow = find_dataflow(session, resolve_sandbox(session, sandbox).id, name)
        flow_id, running = flow.id, flow.running_run_id
    reap_abandoned(workspace)  # the batches of a killed run among them
    run_id = new_id()
    with ExitStack() as stack:
        try:
            stack.enter_context(hold(workspace.catalog, dataflow_lock(flow_id), f"run {run_id} of dataflow {name}",
                                     wait_seconds=0, stale_seconds=workspace.settings.stale_run_seconds))  # fmt: skip
        except JobRunningError as exc:
            raise DataflowRunningError(name, running or "?", exc.pid, exc.since) from None
        return _run(workspace, sandbox, name, trigger, progress, run_id)


def _run(
    workspace: Workspace, sandbox: str, name: str, trigger: str, progress: Progress | None, run_id: str
) -> dict[str, Any]:
    say = progress or (lambda _message: None)
    box = SecretBox(workspace.settings.home)
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        flow = find_dataflow(session, sandbox_id, name)
        if not flow.enabled and trigger == "manual":
            raise ConflictError(f"dataflow {name!r} is disabled; enable it to run it", code="SOURCE-0424-409")
        first_run = (
            session.scalar(
                select(FlowRunRecord.id).where(
                    FlowRunRecord.dataflow_id == flow.id, FlowRunRecord.status.in_(("success", "partial"))
                )
            )
            is None
        )
        if flow.running_run_id:  # the lock is ours, so the run that recorded itself here has stopped
            _reap(workspace, session, flow, flow.running_run_id)
        flow.running_run_id = run_id
        session.add(
            FlowRunRecord(
                id=run_id,
                sandbox_id=sandbox_id,
                dataflow_id=flow.id,
                status="running",
                trigger=trigger,
                started_at=utcnow(),
                heartbeat_at=utcnow(),
                host=socket.gethostname(),
                pid=os.getpid(),
            )
        )
        connection = find_connection(session, sandbox_id, dataflow_document(session, flow)["connection"])
        dataset_name = dataflow_document(session, flow)["dataset"]
        flow_id, state, selection_doc = flow.id, dict(flow.state), dict(flow.source)
        mapping = parse_mapping(flow.mapping) if flow.mapping else None
        read = ReadOptions.model_validate(flow.read_options)
        backfill, threshold = flow.backfill, flow.error_threshold
    raise_alerts(workspace, "run.start", flow_id, f"dataflow {name} started ({trigger})", run_id)
    workdir = workspace.lake.staging(f"run-{run_id}")
    outcome: dict[str, Any] = {
        "received": 0,
        "ingested": 0,
        "failed": 0,
        "files": 0,
        "bytes": 0,
        "batches": [],
        "errors": [],
        "items_failed": 0,
        "items_ok": 0,
    }
    status = "failed"
    try:
        source = open_source(connection, box, AllowedRoots.from_settings(workspace.settings))
        selection = source.spec.source.model_validate(selection_doc)
        context = ReadContext(state=state, workdir=workdir, backfill=backfill, first_run=first_run)

        def ingest_group(files: list[SourceFile]) -> None:
            first = files[0]
            request = IngestRequest(
                dataset_name, first.path, mapping, threshold, read, source_name=first.name,
                source_key=f"{flow_id}:{first.key}", source_keys=tuple(f"{flow_id}:{f.key}" for f in files),
                more_paths=tuple(f.path for f in files[1:]), more_names=tuple(f.name for f in files[1:]),
            )  # fmt: skip
            label = IngestItem(tuple(files)).name
            try:
                batch = ingest_file(workspace, sandbox, request)
            except AccordError as exc:
                if len(files) > 1:  # one bad file must not keep the others out: take them one by one
                    for file in files:
                        ingest_group([file])
                    return
                outcome["items_failed"] += 1
                outcome["errors"].append({"item": label, **exc.to_dict()})
                outcome["batches"].append(exc.details.get("batchId"))
                return
            outcome["batches"].append(batch["id"])
            outcome["received"] += batch["inputRecordCount"]
            outcome["ingested"] += batch["outputRecordCount"]
            outcome["failed"] += batch["failedRecordCount"]
            if batch["status"] == "success":
                outcome["items_ok"] += 1
            else:
                outcome["items_failed"] += 1
                outcome["errors"].extend({"item": label, **e} for e in batch["errors"])

        for item in source.read(selection, context):
            if isinstance(item, Checkpoint):
                _save_state(workspace, flow_id, item.state)
                continue
            todo = [f for f in item.files if not _already_ingested(workspace, f"{flow_id}:{f.key}")]
            if not todo:
                continue
            say(f"ingesting {IngestItem(tuple(todo)).name}")
            outcome["files"] += len(todo)
            outcome["bytes"] += sum(f.size for f in todo)
            ingest_group(todo)
        if outcome["items_failed"] and not outcome["items_ok"]:
            status = "failed"
        elif outcome["items_failed"] or outcome["failed"]:
            status = "partial"
        else:
            status = "success"
    except AccordError as exc:
        outcome["errors"].append(exc.to_dict())
        status = "partial" if outcome["items_ok"] else "failed"
    finally:
        workspace.lake.discard(workdir)
        with workspace.catalog.session() as session:
            run = session.get(FlowRunRecord, run_id)
            assert run is not None
            run.status = status
            run.records_received, run.records_ingested = outcome["received"], outcome["ingested"]
            run.records_failed, run.files, run.bytes = outcome["failed"], outcome["files"], outcome["bytes"]
            run.batch_ids = [b for b in outcome["batches"] if b]
            run.errors = outcome["errors"][:100]
            run.completed_at = utcnow()
            session.execute(update(DataflowRecord).where(DataflowRecord.id == flow_id,
                                                         DataflowRecord.running_run_id == run_id)
                            .values(running_run_id=None))  # fmt: skip
    with workspace.catalog.session() as session:
        document = get_run(session, sandbox, run_id)
    event = "run.success" if status == "success" else "run.failure"
    summary = (f"dataflow {name} run {run_id}: {status}, {document['recordsIngested']:,} records ingested, "
               f"{document['recordsFailed']:,} failed")  # fmt: skip
    raise_alerts(workspace, event, flow_id, summary, run_id, {"run": document})
    return document


def _reap(workspace: Workspace, session: Session, flow: DataflowRecord, run_id: str) -> None:
    """Close a run whose process stopped: it failed, and its working folder goes.

    Its half-made batches were closed when this run started (`accord.lake.reap_abandoned`)."""
    run = session.get(FlowRunRecord, run_id)
    if run is not None and run.status == "running":
        run.status = "failed"
        run.completed_at = utcnow()
        run.errors = [
            *run.errors,
            {"code": "SOURCE-0426-500", "message": "the process running this run stopped; the next run took over"},
        ]
    workspace.lake.discard_label(f"run-{run_id}")
    flow.running_run_id = None
    session.flush()


def _save_state(workspace: Workspace, flow_id: str, state: dict[str, Any]) -> None:
    with workspace.catalog.session() as session:
        session.execute(update(DataflowRecord).where(DataflowRecord.id == flow_id).values(state=state))


def _already_ingested(workspace: Workspace, key: str) -> bool:
    """Whether a committed batch holds this source item (a deleted batch counts: it was ingested)."""
    with workspace.catalog.session() as session:
        found = session.scalar(
            select(BatchSourceRecord.batch_id)
            .join(BatchRecord, BatchRecord.id == BatchSourceRecord.batch_id)
            .where(BatchSourceRecord.source_key == key, BatchRecord.status.in_(("success", "deleted")))
        )
        return found is not None
