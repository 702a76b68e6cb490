"""Under `accord serve` the engine's duties start due workflows: the built-in audience import (hourly) and log
export (every 15 minutes) among them; a run a killed process left `running` is marked interrupted when the
duties start."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from accord import campaign
from accord.campaign.models import WorkflowRecord, WorkflowRunRecord
from accord.campaign.scheduling import campaign_duties, workflows_due
from accord.jobs.scheduler import Scheduler
from accord.workspace import Workspace


@pytest.fixture
def engine(workspace: Workspace) -> Any:
    opened = campaign.CampaignEngine.open(workspace.settings)
    yield opened
    opened.close()


def test_one_tick_imports_audiences_and_exports_logs_then_each_again_on_its_schedule(engine: Any) -> None:
    from accord.campaign.workflows import list_runs

    built_in = ["audience-import", "log-export"]
    assert sorted(name for _, name, _ in workflows_due(engine)) == built_in  # made with the instance
    scheduler = Scheduler(campaign_duties(engine), tick_seconds=3600)
    scheduler.start()  # its first tick is now
    try:
        deadline = time.monotonic() + 60
        while not all(list_runs(engine, name) for name in built_in):
            assert time.monotonic() < deadline, "the scheduler started nothing within 60 s"
            time.sleep(0.1)
    finally:
        scheduler.stop()  # waits for what the tick started
    for name in built_in:
        assert [(r["trigger"], r["status"]) for r in list_runs(engine, name)] == [("schedule", "success")]
    assert workflows_due(engine) == []
    soon = datetime.now(UTC) + timedelta(minutes=16)
    assert [name for _, name, _ in workflows_due(engine, soon)] == ["log-export"]
    later = datetime.now(UTC) + timedelta(hours=1, minutes=1)
    assert sorted(name for _, name, _ in workflows_due(engine, later)) == built_in


def test_a_run_left_running_by_a_killed_process_is_marked_interrupted(engine: Any) -> None:
    with engine.database.session() as session:
        workflow = session.query(WorkflowRecord).filter_by(name="audience-import").one()
        session.add(WorkflowRunRecord(workflow_id=workflow.id, status="running", pid=2**22 + 7, trigger="schedule",
                                      host=socket.gethostname()))  # fmt: skip
    campaign_duties(engine)
    from accord.campaign.workflows import list_runs

    [run] = list_runs(engine, "audience-import")
    assert run["status"] == "failed" and "interrupted" in run["error"]
