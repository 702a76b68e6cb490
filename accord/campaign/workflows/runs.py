"""Workflow runs: each run and each activity recorded (status, counts, output, error, times, pid).

Activities run one after another in an order where each follows all those that lead to it; each one's
output is stored when it ends, so a failed run can be resumed from the failed activity without running again
those that succeeded. A wait leaves the run `waiting` until a time; `due_workflows` says which runs and
scheduled workflows are due, and `run_due` (called by `accord serve`) starts them. A run whose process died
is marked failed (interrupted) the next time runs are started or resumed.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update

from accord.campaign.engine import CampaignEngine
from accord.campaign.exceptions import CampaignInputError, UnknownObjectError, WorkflowBusyError
from accord.campaign.models import ActivityRunRecord, WorkflowRecord, WorkflowRunRecord
from accord.campaign.workflows.activities.scheduler import SchedulerOptions
from accord.campaign.workflows.definitions import find_workflow
from accord.campaign.workflows.document import Workflow, check_workflow
from accord.campaign.workflows.records import mark_processed
from accord.campaign.workflows.spec import ActivityResult, Inputs, RunContext
from accord.catalog import aware, utcnow
from accord.errors import AccordError
from accord.jobs import process_runs

log = logging.getLogger(__name__)


def run_workflow(
    engine: CampaignEngine, name: str, *, trigger: str = "manual", now: datetime | None = None
) -> dict[str, Any]:
    """Start a run of a workflow and take it as far as it goes (its end, a failure, or a wait)."""
    mark_interrupted(engine)
    with engine.database.session() as session:
        record = find_workflow(session, name)
        workflow = check_workflow(record.document)
        busy = session.scalar(select(WorkflowRunRecord.id).where(WorkflowRunRecord.workflow_id == record.id,
                                                                 WorkflowRunRecord.status == "running"))  # fmt: skip
        if busy is not None:  # two runs would collect the same files and compete for the same lists
            raise WorkflowBusyError(name, busy)
        run = WorkflowRunRecord(workflow_id=record.id, status="running", trigger=trigger, pid=os.getpid(),
                                host=socket.gethostname(), started_at=now or utcnow())  # fmt: skip
        session.add(run)
        session.flush()
        run_id, workflow_id = run.id, record.id
    _execute(engine, workflow, workflow_id, run_id, now)
    return get_run(engine, run_id)


def resume_workflow(engine: CampaignEngine, run_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """Take a failed or waiting run on from where it stopped: what succeeded is not run again."""
    mark_interrupted(engine)
    with engine.database.session() as session:
        run = session.get(WorkflowRunRecord, run_id)
        if run is None:
            raise UnknownObjectError("workflow run", str(run_id))
        if run.status not in ("failed", "waiting"):
            raise CampaignInputError(f"run {run_id} is {run.status}: only a failed or waiting run is resumed",
                                     run=run_id, status=run.status)  # fmt: skip
        if run.status == "waiting" and run.wait_until is not None and aware(run.wait_until) > (now or utcnow()):
            return _run_document(session, run)
        record = session.get(WorkflowRecord, run.workflow_id)
        assert record is not None
        workflow = check_workflow(record.document)
        # Claimed in one statement: of two processes resuming the same run, one takes it, the other is told.
        claimed = session.execute(update(WorkflowRunRecord)
                                  .where(WorkflowRunRecord.id == run_id, WorkflowRunRecord.status == run.status)
                                  .values(status="running", error=None, pid=os.getpid(), host=socket.gethostname(),
                                          ended_at=None))  # fmt: skip
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise WorkflowBusyError(record.name, run_id)
        workflow_id = record.id
    _execute(engine, workflow, workflow_id, run_id, now)
    return get_run(engine, run_id)


def _execute(engine: CampaignEngine, workflow: Workflow, workflow_id: int, run_id: int, now: datetime | None) -> None:
    moment = now or utcnow()
    workdir = workdir_of(engine, run_id)
    latest = _latest_activity_runs(engine, run_id)
    for name in workflow.order():
        previous = latest.get(name)
        if previous is not None and previous.status == "success":
            continue
        if previous is not None and previous.status == "waiting":
            _end_wait(engine, previous.id)
            latest[name] = _refetch(engine, previous.id)
            continue
        inputs = Inputs({p: _output(latest[p].output, output) for p, output in workflow.predecessors(name)})
        activity = workflow.activities[name]
        with engine.database.session() as session:
            record = ActivityRunRecord(run_id=run_id, activity=name, type=activity.spec.name, status="running",
                                       started_at=utcnow())  # fmt: skip
            session.add(record)
            session.flush()
            activity_run_id = record.id
        context = RunContext(engine, workflow_id, workflow.name, run_id, name, moment, workdir)
        try:
            result = activity.run(context, inputs)
        except AccordError as exc:
            _fail(engine, run_id, activity_run_id, f"activity {name!r}: {exc.message}")
            return
        except Exception as exc:  # a fault of ours or of a plug-in: recorded, never a trace to the user
            log.exception("activity %s of workflow %s failed", name, workflow.name)
            _fail(engine, run_id, activity_run_id, f"activity {name!r} failed: internal error {type(exc).__name__}")
            return
        latest[name] = _succeed(engine, run_id, activity_run_id, result)
        if result.wait_until is not None:
            return
    with engine.database.session() as session:
        session.execute(update(WorkflowRunRecord).where(WorkflowRunRecord.id == run_id)
                        .values(status="success", ended_at=utcnow(), wait_until=None))  # fmt: skip
        mark_processed(session, run_id)
    shutil.rmtree(workdir, ignore_errors=True)


def _output(output: dict[str, Any], name: str | None) -> dict[str, Any]:
    return output.get("outputs", {}).get(name, {}) if name is not None else output  # type: ignore[no-any-return]


def _latest_activity_runs(engine: CampaignEngine, run_id: int) -> dict[str, ActivityRunRecord]:
    with engine.database.session() as session:
        rows = session.scalars(select(ActivityRunRecord).where(ActivityRunRecord.run_id == run_id)
                               .order_by(ActivityRunRecord.id))  # fmt: skip
        latest = {r.activity: r for r in rows}
        session.expunge_all()
        return latest


def _refetch(engine: CampaignEngine, activity_run_id: int) -> ActivityRunRecord:
    with engine.database.session() as session:
        record = session.get(ActivityRunRecord, activity_run_id)
        assert record is not None
        session.expunge(record)
        return record


def _succeed(engine: CampaignEngine, run_id: int, activity_run_id: int, result: ActivityResult) -> ActivityRunRecord:
    with engine.database.session() as session:
        record = session.get(ActivityRunRecord, activity_run_id)
        assert record is not None
        record.counts, record.output, record.ended_at = result.counts, result.output, utcnow()
        record.status = "waiting" if result.wait_until is not None else "success"
        if result.wait_until is not None:
            session.execute(update(WorkflowRunRecord).where(WorkflowRunRecord.id == run_id)
                            .values(status="waiting", wait_until=result.wait_until))  # fmt: skip
        session.flush()
        session.expunge(record)
        return record


def _end_wait(engine: CampaignEngine, activity_run_id: int) -> None:
    with engine.database.session() as session:
        session.execute(update(ActivityRunRecord).where(ActivityRunRecord.id == activity_run_id)
                        .values(status="success", ended_at=utcnow()))  # fmt: skip


def _fail(engine: CampaignEngine, run_id: int, activity_run_id: int, error: str) -> None:
    with engine.database.session() as session:
        now = utcnow()
        session.execute(update(ActivityRunRecord).where(ActivityRunRecord.id == activity_run_id)
                        .values(status="failed", error=error[:4000], ended_at=now))  # fmt: skip
        session.execute(update(WorkflowRunRecord).where(WorkflowRunRecord.id == run_id)
                        .values(status="failed", error=error[:4000], ended_at=now))  # fmt: skip


def mark_interrupted(engine: CampaignEngine) -> int:
    """Mark failed (interrupted) the runs whose process no longer runs; returns how many. Their activity
    that was running is failed too, so that a resume runs it again."""
    with engine.database.session() as session:
        # Only this host can tell whether a process of its own ended: a run of another machine (one database
        # for two) is left to that machine.
        running = session.execute(select(WorkflowRunRecord.id, WorkflowRunRecord.pid)
                                  .where(WorkflowRunRecord.status == "running",
                                         or_(WorkflowRunRecord.host == socket.gethostname(),
                                             WorkflowRunRecord.host.is_(None)))).all()  # fmt: skip
        dead = [run_id for run_id, pid in running if pid is None or not process_runs(pid)]
        if dead:
            error = "interrupted: the process running it ended before it did; resume it to go on"
            now = utcnow()
            session.execute(update(WorkflowRunRecord).where(WorkflowRunRecord.id.in_(dead))
                            .values(status="failed", error=error, ended_at=now))  # fmt: skip
            session.execute(update(ActivityRunRecord)
                            .where(ActivityRunRecord.run_id.in_(dead), ActivityRunRecord.status == "running")
                            .values(status="failed", error=error, ended_at=now))  # fmt: skip
        return len(dead)


@dataclass(frozen=True)
class DueWork:
    """A scheduled workflow to start (`workflow`) or a waiting run to resume (`run`)."""

    workflow: str
    run: int | None = None


def due_workflows(engine: CampaignEngine, now: datetime) -> list[DueWork]:
    """The enabled workflows whose schedule says start now, and the waiting runs whose wait is over."""
    due: list[DueWork] = []
    with engine.database.session() as session:
        last_started = dict(session.execute(
            select(WorkflowRunRecord.workflow_id, func.max(WorkflowRunRecord.started_at))
            .where(WorkflowRunRecord.trigger == "schedule").group_by(WorkflowRunRecord.workflow_id)
        ).all())  # fmt: skip
        running = set(
            session.scalars(select(WorkflowRunRecord.workflow_id).where(WorkflowRunRecord.status == "running"))
        )
        for record in session.scalars(select(WorkflowRecord).where(WorkflowRecord.enabled.is_(True))):
            if record.id in running:  # its next start waits for the run in progress to end
                continue
            schedule = schedule_of(record.document)
            last = last_started.get(record.id)
            if schedule is not None and schedule.due(now, aware(last) if last else None, aware(record.created_at)):
                due.append(DueWork(record.name))
        waiting = session.execute(
            select(WorkflowRunRecord.id, WorkflowRecord.name)
            .join(WorkflowRecord, WorkflowRecord.id == WorkflowRunRecord.workflow_id)
            .where(WorkflowRunRecord.status == "waiting", WorkflowRunRecord.wait_until <= now)
        ).all()
        due += [DueWork(name, run_id) for run_id, name in waiting]
    return due


def run_due(engine: CampaignEngine, now: datetime | None = None) -> list[dict[str, Any]]:
    """Start or resume whatever is due (what `accord serve` calls on its clock); returns the runs' records."""
    moment = now or utcnow()
    runs = []
    for work in due_workflows(engine, moment):
        if work.run is not None:
            runs.append(resume_workflow(engine, work.run, now=moment))
        else:
            runs.append(run_workflow(engine, work.workflow, trigger="schedule", now=moment))
    return runs


def schedule_of(document: dict[str, Any]) -> SchedulerOptions | None:
    """A workflow's schedule: its scheduler activity's options, or its `schedule`; None when it has neither."""
    for activity in document.get("activities", ()):
        if activity.get("type") == "scheduler":
            return SchedulerOptions.model_validate(activity.get("options") or {})
    return SchedulerOptions.model_validate(document["schedule"]) if document.get("schedule") else None


def get_run(engine: CampaignEngine, run_id: int) -> dict[str, Any]:
    with engine.database.session() as session:
        run = session.get(WorkflowRunRecord, run_id)
        if run is None:
            raise UnknownObjectError("workflow run", str(run_id))
        return _run_document(session, run)


def list_runs(engine: CampaignEngine, workflow: str | None = None, *, limit: int = 50) -> list[dict[str, Any]]:
    with engine.database.session() as session:
        query = select(WorkflowRunRecord).order_by(WorkflowRunRecord.id.desc()).limit(limit)
        if workflow is not None:
            query = query.where(WorkflowRunRecord.workflow_id == find_workflow(session, workflow).id)
        return [_run_document(session, run, activities=False) for run in session.scalars(query)]


def _run_document(session: Any, run: WorkflowRunRecord, *, activities: bool = True) -> dict[str, Any]:
    name = session.scalar(select(WorkflowRecord.name).where(WorkflowRecord.id == run.workflow_id))
    document = {"id": run.id, "workflow": name, "status": run.status, "trigger": run.trigger, "pid": run.pid,
                "host": run.host,
                "error": run.error, "startedAt": _time(run.started_at), "endedAt": _time(run.ended_at),
                "waitUntil": _time(run.wait_until)}  # fmt: skip
    if activities:
        rows = session.scalars(select(ActivityRunRecord).where(ActivityRunRecord.run_id == run.id)
                               .order_by(ActivityRunRecord.id))  # fmt: skip
        document["activities"] = [{"id": a.id, "activity": a.activity, "type": a.type, "status": a.status,
                                   "counts": a.counts, "error": a.error, "startedAt": _time(a.started_at),
                                   "endedAt": _time(a.ended_at)} for a in rows]  # fmt: skip
    return document


def _time(moment: datetime | None) -> str | None:
    return aware(moment).isoformat() if moment is not None else None


def workdir_of(engine: CampaignEngine, run_id: int) -> Path:
    return engine.settings.home / "work" / "campaign" / f"run-{run_id}"
