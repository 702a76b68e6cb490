"""When dataflows run on their own: due times from schedules, and the scheduler that starts them.

A schedule is `once` (at its start time) or every `interval` minutes, hours, days or weeks from
its start time (or from when the dataflow was created). A dataflow is due when a slot has passed
since its last scheduled run. The scheduler ticks (APScheduler) and starts due dataflows in a
small pool of threads; the dataflow's lock keeps its runs from overlapping, whoever starts them."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from accord.catalog import DataflowRecord, FlowRunRecord, Sandbox, aware
from accord.errors import AccordError
from accord.jobs import is_held
from accord.sources.dataflows import dataflow_lock
from accord.workspace import Workspace

log = logging.getLogger("accord.scheduler")
PERIODS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1),
           "week": timedelta(weeks=1)}  # fmt: skip


def latest_slot(schedule: dict[str, Any], created: datetime, now: datetime) -> datetime | None:
    """The most recent moment at or before `now` when the schedule wanted a run, if any."""
    start = aware(datetime.fromisoformat(schedule["startTime"])) if schedule.get("startTime") else aware(created)
    if now < start:
        return None
    if schedule.get("frequency", "once") == "once":
        return start
    period = PERIODS[schedule["frequency"]] * int(schedule.get("interval", 1))
    return start + period * ((now - start) // period)


def is_due(schedule: dict[str, Any], created: datetime, last_scheduled: datetime | None, now: datetime) -> bool:
    slot = latest_slot(schedule, created, now)
    return slot is not None and (last_scheduled is None or aware(last_scheduled) < slot)


def due_dataflows(workspace: Workspace, now: datetime | None = None) -> list[tuple[str, str]]:
    """(sandbox, dataflow) pairs that are enabled, not running, and due.

    A dataflow whose last run's process died counts as not running: its next run closes that run."""
    now = now or datetime.now(UTC)
    last_run = (
        select(FlowRunRecord.dataflow_id, func.max(FlowRunRecord.started_at).label("last"))
        .where(FlowRunRecord.trigger == "schedule")
        .group_by(FlowRunRecord.dataflow_id)
        .subquery()
    )
    due = []
    with workspace.catalog.session() as session:
        rows = session.execute(
            select(DataflowRecord, Sandbox.name, last_run.c.last)
            .join(Sandbox, Sandbox.id == DataflowRecord.sandbox_id)
            .outerjoin(last_run, last_run.c.dataflow_id == DataflowRecord.id)
            .where(DataflowRecord.enabled.is_(True))
        )
        for flow, sandbox, last in rows:
            if flow.running_run_id and is_held(session, dataflow_lock(flow.id), workspace.settings.stale_run_seconds):
                continue
            if is_due(flow.schedule, flow.created_at, last, now):
                due.append((sandbox, flow.name))
    return due


class DataflowScheduler:
    """Starts due dataflows every `tick_seconds`; stop() waits for runs under way."""

    def __init__(self, workspace: Workspace, tick_seconds: float = 30, workers: int = 2) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.workspace = workspace
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dataflow")
        self._starting: set[tuple[str, str]] = set()
        self._guard = threading.Lock()
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._scheduler.add_job(self.tick, "interval", seconds=tick_seconds, next_run_time=datetime.now(UTC),
                                max_instances=1, coalesce=True, id="dataflows")  # fmt: skip

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        self._scheduler.shutdown(wait=True)
        self._pool.shutdown(wait=True)

    def tick(self) -> None:
        from accord.sources.alerts import check_delays

        try:
            due = due_dataflows(self.workspace)
            check_delays(self.workspace)
        except AccordError as exc:
            log.error("cannot read schedules: %s", exc.message)
            return
        for key in due:
            with self._guard:
                if key in self._starting:
                    continue
                self._starting.add(key)
            self._pool.submit(self._run, *key)

    def _run(self, sandbox: str, name: str) -> None:
        from accord.sources.runs import run_dataflow

        try:
            result = run_dataflow(self.workspace, sandbox, name, trigger="schedule")
            log.info("dataflow %s/%s run %s: %s", sandbox, name, result["id"], result["status"])
        except AccordError as exc:
            log.warning("dataflow %s/%s did not run: %s", sandbox, name, exc.message)
        except Exception:
            log.exception("dataflow %s/%s: internal error", sandbox, name)
        finally:
            with self._guard:
                self._starting.discard((sandbox, name))
