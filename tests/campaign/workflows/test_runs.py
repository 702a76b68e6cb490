"""Workflow runs: populations through queries, exclusions, splits and list updates; extraction to a file;
each activity recorded; a failed run resumed from the failed activity; waits and schedules left to the
scheduler; a run whose process died marked interrupted and resumed."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from accord import campaign
from accord.campaign import workflows
from accord.campaign.exceptions import WorkflowBusyError
from accord.campaign.models import ActivityRunRecord, WorkflowRecord, WorkflowRunRecord
from tests.campaign.workflows.conftest import add_recipients
from tests.http_receiver import HttpReceiver, answer

GOLD = {"field": "custom.tier", "op": "eq", "value": "gold"}


def activity(run: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [a for a in run["activities"] if a["activity"] == name]
    return found


def test_populations_flow_through_queries_exclusions_splits_and_lists(
    any_engine: campaign.CampaignEngine, tmp_path: Path
) -> None:
    engine = any_engine
    add_recipients(engine, 200)
    out = tmp_path / "files" / "out"
    workflows.create_workflow(engine, {"name": "tiers", "activities": [
        {"name": "everyone", "type": "query", "options": {"filter": {"field": "email", "op": "endsWith",
         "value": "@example.com"}}, "next": ["others"]},
        {"name": "gold", "type": "query", "options": {"filter": GOLD}, "next": ["others", "gold-list", "export"]},
        {"name": "gold-list", "type": "list-update", "options": {"list": "gold", "mode": "replace"}},
        {"name": "export", "type": "extraction", "options": {"folder": str(out), "file": "gold.csv",
         "columns": ["externalId", "email", "custom.tier"]}},
        {"name": "others", "type": "exclusion", "options": {"exclude": ["gold"]}, "next": ["halves"]},
        {"name": "halves", "type": "split", "options": {"branches": [{"name": "a", "percent": 50}],
         "remainder": "b"}, "next": {"a": ["list-a"], "b": ["list-b"]}},
        {"name": "list-a", "type": "list-update", "options": {"list": "half-a"}},
        {"name": "list-b", "type": "list-update", "options": {"list": "half-b"}},
    ]})  # fmt: skip
    run = workflows.run_workflow(engine, "tiers")
    assert run["status"] == "success", run["error"]
    assert activity(run, "others")["counts"] == {"population": 180, "excluded": 20}
    assert activity(run, "halves")["counts"] == {"a": 90, "b": 90}
    gold = campaign.list_member_ids(engine, "gold")
    assert gold == sorted(f"C{i}" for i in range(10, 201, 10))
    a, b = set(campaign.list_member_ids(engine, "half-a")), set(campaign.list_member_ids(engine, "half-b"))
    assert len(a) == len(b) == 90 and not a & b and not (a | b) & set(gold)
    with (out / "gold.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["externalId"] for r in rows) == gold and {r["custom.tier"] for r in rows} == {"gold"}
    assert [p.name for p in out.iterdir()] == ["gold.csv"]  # no partial file left beside it


def test_a_failed_run_resumes_from_the_failed_activity(engine: campaign.CampaignEngine, receiver: HttpReceiver) -> None:
    add_recipients(engine, 30)
    receiver.then(answer(503), answer(503))
    workflows.create_workflow(engine, {"name": "tell", "activities": [
        {"name": "gold", "type": "query", "options": {"filter": GOLD}, "next": ["list"]},
        {"name": "list", "type": "list-update", "options": {"list": "gold"}, "next": ["alert"]},
        {"name": "alert", "type": "alert", "options": {"url": receiver.url + "/hook", "message": "gold listed",
         "attempts": 2, "backoffSeconds": 0}},
    ]})  # fmt: skip
    failed = workflows.run_workflow(engine, "tell")
    assert failed["status"] == "failed" and "HTTP 503" in failed["error"] and "'alert'" in failed["error"]
    assert activity(failed, "alert")["status"] == "failed"
    resumed = workflows.resume_workflow(engine, failed["id"])
    assert resumed["status"] == "success"
    runs_of = [(a["activity"], a["status"]) for a in resumed["activities"]]
    assert runs_of == [("gold", "success"), ("list", "success"), ("alert", "failed"), ("alert", "success")]
    [delivered] = [r for r in receiver.requests("/hook") if r.json()["message"] == "gold listed"][-1:]
    assert delivered.json()["population"] == 3 and len(receiver.requests("/hook")) == 3
    assert campaign.list_member_ids(engine, "gold") == ["C10", "C20", "C30"]


def test_a_wait_leaves_the_run_to_the_scheduler_which_resumes_it(engine: campaign.CampaignEngine) -> None:
    add_recipients(engine, 20)
    start = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    workflows.create_workflow(engine, {"name": "later", "schedule": {"frequency": "daily", "at": "06:00",
        "start": start.isoformat()}, "activities": [
        {"name": "gold", "type": "query", "options": {"filter": GOLD}, "next": ["pause"]},
        {"name": "pause", "type": "wait", "options": {"duration": "2h"}, "next": ["list"]},
        {"name": "list", "type": "list-update", "options": {"list": "gold-later"}},
    ]})  # fmt: skip

    def due(now: datetime) -> list[dict[str, Any]]:  # the instance's hourly import workflow is due too
        return [run for run in workflows.run_due(engine, now) if run["workflow"] == "later"]

    assert "later" not in [w.workflow for w in workflows.due_workflows(engine, start + timedelta(minutes=30))]
    [run] = due(start + timedelta(hours=1, minutes=1))  # 06:01
    assert (run["status"], run["waitUntil"]) == ("waiting", "2026-12-01T08:01:00+00:00")
    assert "gold-later" not in [lst["name"] for lst in campaign.list_lists(engine)]  # not yet made
    assert due(start + timedelta(hours=2)) == []  # neither due again nor done waiting
    [resumed] = due(start + timedelta(hours=3, minutes=1))
    assert (resumed["id"], resumed["status"]) == (run["id"], "success")
    assert campaign.list_member_ids(engine, "gold-later") == ["C10", "C20"]
    [again] = due(start + timedelta(days=1, hours=1))  # the next day at 06:00
    assert again["id"] != run["id"] and again["trigger"] == "schedule"


def test_a_run_whose_process_was_killed_is_marked_interrupted_and_resumes(
    engine: campaign.CampaignEngine, receiver: HttpReceiver, tmp_path: Path
) -> None:
    add_recipients(engine, 10)
    receiver.then(answer(200, delay=60))  # the alert hangs: the process is killed while it waits
    workflows.create_workflow(engine, {"name": "slow", "activities": [
        {"name": "gold", "type": "query", "options": {"filter": GOLD}, "next": ["alert"]},
        {"name": "alert", "type": "alert", "options": {"url": receiver.url + "/hook", "attempts": 1}},
    ]})  # fmt: skip
    settings = engine.settings
    code = ("from accord.settings import Settings; from accord import campaign; from accord.campaign import workflows;"
            f"s = Settings(home={str(settings.home)!r}, scheduler=False);"
            "workflows.run_workflow(campaign.CampaignEngine.open(s), 'slow')")  # fmt: skip
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 30
        while not receiver.requests("/hook", complete=False) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert receiver.requests("/hook", complete=False), "the child never reached the alert"
        with pytest.raises(WorkflowBusyError, match="'slow' has a run in progress"):
            workflows.run_workflow(engine, "slow")  # while its process lives, a second run is refused
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    [seen] = workflows.list_runs(engine, "slow")
    assert seen["status"] == "running"  # as the dead process left it
    assert workflows.mark_interrupted(engine) == 1
    interrupted = workflows.get_run(engine, seen["id"])
    assert interrupted["status"] == "failed" and interrupted["error"].startswith("interrupted")
    resumed = workflows.resume_workflow(engine, seen["id"])
    assert resumed["status"] == "success"
    with engine.database.session() as session:
        done = session.query(ActivityRunRecord.activity).filter_by(run_id=seen["id"], status="success").all()
    assert sorted(a for (a,) in done) == ["alert", "gold"]  # the query was not run again
    assert len([a for a in resumed["activities"] if a["activity"] == "gold"]) == 1


def test_a_delivery_that_does_not_exist_fails_the_run_clearly(engine: campaign.CampaignEngine) -> None:
    add_recipients(engine, 5)
    workflows.create_workflow(engine, {"name": "mail", "activities": [
        {"name": "all", "type": "query", "options": {"filter": {"field": "email", "op": "notNull"}}, "next": ["send"]},
        {"name": "send", "type": "delivery", "options": {"delivery": "welcom"}},
    ]})  # fmt: skip
    run = workflows.run_workflow(engine, "mail")
    assert (run["status"], run["error"]) == ("failed", "activity 'send': no delivery 'welcom'")


def test_files_of_a_local_folder_with_another_delimiter_are_loaded_by_their_header(
    engine: campaign.CampaignEngine, tmp_path: Path
) -> None:
    folder = tmp_path / "files" / "partner"
    folder.mkdir(parents=True)
    (folder / "p.csv").write_text("crm;mail;tier\nP1;p1@example.com;gold\nP2;p2@example.com;silver\n")
    workflows.create_workflow(engine, {"name": "semi", "activities": [
        {"name": "collect", "type": "file-collector", "options": {"config": {"root": str(folder)}}, "next": ["check"]},
        {"name": "check", "type": "data-loading", "options": {"delimiter": ";", "required": ["crm"]}, "next": ["load"]},
        {"name": "load", "type": "update-data",
         "options": {"mapping": {"crm": "externalId", "mail": "email", "tier": "custom.tier"}}},
    ]})  # fmt: skip
    run = workflows.run_workflow(engine, "semi")
    assert run["status"] == "success", run["error"]
    assert campaign.get_recipient(engine, "P1")["custom"] == {"tier": "gold"}
    assert campaign.get_recipient(engine, "P2")["email"] == "p2@example.com"
    assert (folder / "p.csv").exists()  # a local file is read in place, never moved nor deleted


def test_a_run_of_another_machine_sharing_the_database_is_left_to_that_machine(engine: campaign.CampaignEngine) -> None:
    workflows.create_workflow(engine, {"name": "far", "activities": [
        {"name": "all", "type": "query", "options": {"filter": {"field": "email", "op": "notNull"}}}]})  # fmt: skip
    with engine.database.session() as session:  # what a process of another host wrote (no process here has it)
        workflow_id = session.query(WorkflowRecord.id).filter_by(name="far").scalar()
        session.add(WorkflowRunRecord(workflow_id=workflow_id, status="running", pid=2**22 + 7, host="elsewhere"))
    assert workflows.mark_interrupted(engine) == 0
    assert workflows.list_runs(engine, "far")[0]["status"] == "running"
    with pytest.raises(WorkflowBusyError):
        workflows.run_workflow(engine, "far")
