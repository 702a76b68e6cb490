"""Audiences in: a real activation of the CDP's accord-campaign destination lands CSV files in the instance's
landing folder; the import workflow loads them into recipients and a list per audience, audits each file, and
refuses bad files whole and clearly without losing or duplicating what is loaded."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from accord import campaign, destinations, sources
from accord.access import AllowedRoots
from accord.campaign import workflows
from accord.campaign.imports import IMPORT_WORKFLOW, audience_loads, import_audiences
from accord.campaign.models import ActivityRunRecord, RecipientRecord
from accord.settings import Settings
from accord.workspace import Workspace, initialise
from tests.destinations.conftest import PEOPLE, evaluate, ingest_people, register_people

CAMPAIGN_FLOW: dict[str, Any] = {
    "audiences": [{"segment": "parisians", "schedule": {"frequency": "daily", "time": "06:00"}}],
    "mapping": [
        {"source": "_tenant.crmId", "target": "externalId"},
        {"source": "identityMap.Email", "target": "email"},
        {"source": "person.name.firstName", "target": "firstName"},
        {"source": "homeAddress.city", "target": "city"},
    ],
}


@pytest.fixture
def cdp(campaign_settings: Settings, tmp_path: Path) -> Iterator[Workspace]:
    """A CDP with people in Paris and elsewhere, and an accord-campaign account writing into the instance's
    landing folder (which the operator allows, as by default)."""

    initialise(campaign_settings)
    workspace = Workspace.open(campaign_settings)
    register_people(workspace)
    (tmp_path / "files").mkdir(exist_ok=True)
    ingest_people(workspace, tmp_path / "files", PEOPLE)
    evaluate(workspace)
    with workspace.catalog.session() as s:
        roots = AllowedRoots.from_settings(campaign_settings)
        config = {
            "instance": "default",
            "targetMapping": "recipient",
            "root": str(campaign_settings.campaign_landing_folder),
        }
        destinations.create_account(s, sources.SecretBox(campaign_settings.home), "prod", "campaign", "accord-campaign",
                                    config, roots)  # fmt: skip
        destinations.create_flow(s, "prod", "to-campaign", "campaign", CAMPAIGN_FLOW)
    yield workspace
    workspace.close()


def landed(engine: campaign.CampaignEngine) -> list[Path]:
    return sorted(p for p in engine.landing.iterdir() if p.suffix == ".csv")


def test_an_activated_audience_becomes_recipients_and_a_list(cdp: Workspace, engine: campaign.CampaignEngine) -> None:
    assert destinations.run_activation(cdp, "prod", "to-campaign")["status"] == "success"
    [file] = landed(engine)
    header = next(csv.reader(io.StringIO(file.read_text())))
    assert header == ["externalId", "email", "firstName", "city", "segmentMembership.status"]
    run = import_audiences(engine)
    assert run["status"] == "success", run["error"]
    [load] = audience_loads(engine, run_id=run["id"])
    assert (load["loaded"], load["inserted"], load["updated"], load["rejected"], load["removed"]) == (4, 4, 0, 0, 0)
    [audience] = [lst for lst in campaign.list_lists(engine) if lst["origin"] == "audience"]
    assert audience["name"] == load["list"] and audience["audienceId"] in file.name
    assert campaign.list_member_ids(engine, audience["name"]) == ["C1", "C3", "C5", "C7"]  # Bob refused e-mail
    ann = campaign.get_recipient(engine, "C1")
    assert (ann["email"], ann["firstName"], ann["custom"]) == ("ann@example.com", "Ann", {"city": "Paris"})
    again = import_audiences(engine)  # nothing new landed: nothing collected, nothing changed
    assert [a["counts"] for a in again["activities"] if a["activity"] == "collect"] == [
        {"listed": 1, "collected": 0, "left": 0}]  # fmt: skip


def test_members_who_leave_the_audience_leave_the_list(
    cdp: Workspace, engine: campaign.CampaignEngine, tmp_path: Path
) -> None:
    destinations.run_activation(cdp, "prod", "to-campaign")
    import_audiences(engine)
    moved = PEOPLE.replace("C1,Ann,ann@example.com,Paris,y", "C1,Ann,ann@example.com,Oslo,y")
    ingest_people(cdp, tmp_path / "files", moved, "people-2.csv")  # Ann moves to Oslo: she exits the audience
    evaluate(cdp)
    assert destinations.run_activation(cdp, "prod", "to-campaign")["status"] == "success"
    run = import_audiences(engine)
    [load] = audience_loads(engine, run_id=run["id"])
    assert load["removed"] == 1 and load["inserted"] == 0
    [audience] = [lst for lst in campaign.list_lists(engine) if lst["origin"] == "audience"]
    assert campaign.list_member_ids(engine, audience["name"]) == ["C3", "C5", "C7"]
    assert campaign.get_recipient(engine, "C1")["email"] == "ann@example.com"  # still a recipient, off the list


def test_with_incremental_exports_exited_members_leave_the_list(
    cdp: Workspace, engine: campaign.CampaignEngine, tmp_path: Path
) -> None:
    with cdp.catalog.session() as s:
        destinations.create_flow(s, "prod", "changes", "campaign", {**CAMPAIGN_FLOW, "exportMode": "incremental"})
    document = workflows.get_workflow(engine, IMPORT_WORKFLOW)
    [lists] = [a for a in document["activities"] if a["type"] == "list-update"]
    lists["options"]["membership"] = "incremental"
    workflows.update_workflow(engine, IMPORT_WORKFLOW, {k: document[k] for k in ("name", "label", "activities")})
    destinations.run_activation(cdp, "prod", "changes")
    import_audiences(engine)
    moved = PEOPLE.replace("C1,Ann,ann@example.com,Paris,y", "C1,Ann,ann@example.com,Oslo,y")
    ingest_people(cdp, tmp_path / "files", moved, "people-2.csv")
    evaluate(cdp)
    destinations.run_activation(cdp, "prod", "changes")
    newest = landed(engine)[-1]
    assert "C1,ann@example.com,Ann,Oslo,exited" in newest.read_text()  # only the change, marked exited
    run = import_audiences(engine)
    [load] = audience_loads(engine, run_id=run["id"])
    assert (load["loaded"], load["removed"]) == (0, 1)
    [audience] = [lst for lst in campaign.list_lists(engine) if lst["origin"] == "audience"]
    assert campaign.list_member_ids(engine, audience["name"]) == ["C3", "C5", "C7"]


def drop(engine: campaign.CampaignEngine, name: str, content: str | bytes) -> None:
    """A file in the landing folder, as the CDP's destination leaves one (written whole)."""
    data = content.encode() if isinstance(content, str) else content
    (engine.landing / name).write_bytes(data)


def recipients(engine: campaign.CampaignEngine) -> int:
    with engine.database.session() as session:
        return session.scalar(select(func.count()).select_from(RecipientRecord)) or 0


STATUS = "segmentMembership.status"


def test_bad_files_are_refused_whole_and_bad_rows_rejected_with_their_reasons(
    any_engine: campaign.CampaignEngine,
) -> None:
    engine = any_engine
    wide = (
        ",".join(["externalId", *(f"f{i}" for i in range(20)), STATUS]) + "\n" + ",".join(["W1"] * 21) + ",realized\n"
    )
    drop(engine, "wide_segmentw1_20261130080000.csv", wide)  # 21 fields besides the status
    drop(engine, "nokey_segmentk1_20261130080000.csv", f"email,{STATUS}\nx@example.com,realized\n")
    drop(engine, "empty_segmente1_20261130080000.csv", "")
    drop(engine, "image_segmenti1_20261130080000.csv", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    drop(engine, "mixed_segmentm1_20261130080000.csv", (
        f"externalId,email,firstName,{STATUS}\n"
        "M1,m1@example.com,Mia,realized\n"
        "M2,not-an-address,Max,realized\n"  # bad e-mail
        "M1,m1.again@example.com,Mia,existing\n"  # the same key twice
        ",nokey@example.com,Nok,realized\n"  # no key
        "M3,m3@example.com,Moe,realized,extra\n"  # more cells than the header
        "M4,m4@example.com,Mo,existing\n"
    ))  # fmt: skip
    run = import_audiences(engine)
    assert run["status"] == "success", run["error"]
    loads = {load["file"].split("_")[0]: load for load in audience_loads(engine, run_id=run["id"])}
    assert "has 21 fields, more than the 20" in loads["wide"]["error"] and "wide_segmentw1" in loads["wide"]["error"]
    assert "no column for the key 'externalId'" in loads["nokey"]["error"]
    assert "is empty" in loads["empty"]["error"]
    assert "not a CSV file" in loads["image"]["error"]
    mixed = loads["mixed"]
    assert (mixed["loaded"], mixed["inserted"], mixed["rejected"], mixed["error"]) == (2, 2, 4, None)
    reasons = {r["row"]: r["reason"] for r in mixed["rejects"]}
    assert reasons[3] == "not an e-mail address: 'not-an-address'"
    assert reasons[4] == "externalId 'M1' again (first on row 2)"
    assert reasons[5] == "no externalId (the reconciliation key)"
    assert reasons[6] == "5 cells, more than the 4 columns of the header"
    assert sorted(r["externalId"] for r in campaign.list_recipients(engine)["recipients"]) == ["M1", "M4"]
    assert campaign.get_recipient(engine, "M1")["email"] == "m1@example.com"  # the first row of the key counts
    again = import_audiences(engine)  # the same files: nothing changed; only the one over a limit is tried again
    assert [load["file"] for load in audience_loads(engine, run_id=again["id"])] == [
        "wide_segmentw1_20261130080000.csv"
    ]
    assert recipients(engine) == 2


def test_loading_the_same_file_again_changes_nothing(engine: campaign.CampaignEngine) -> None:
    text = f"externalId,email,firstName,{STATUS}\nA1,a1@example.com,Al,realized\nA2,a2@example.com,Bo,realized\n"
    drop(engine, "one_segmentaaa_20261130080000.csv", text)
    import_audiences(engine)
    drop(engine, "one_segmentaaa_20261130090000.csv", text)  # the next export, with the same rows
    run = import_audiences(engine)
    [load] = audience_loads(engine, run_id=run["id"])
    assert (load["loaded"], load["inserted"], load["updated"], load["removed"]) == (2, 0, 0, 0)
    [audience] = [lst for lst in campaign.list_lists(engine) if lst["origin"] == "audience"]
    assert (audience["name"], audience["audienceId"], audience["members"]) == ("one_segmentaaa", "aaa", 2)
    assert recipients(engine) == 2


def test_over_the_instance_s_limits_a_file_is_refused_whole(campaign_settings: Settings) -> None:
    settings = campaign_settings.model_copy(update={"campaign_max_audiences": 2, "campaign_max_active_profiles": 5})
    campaign.initialise_engine(settings)
    engine = campaign.CampaignEngine.open(settings)
    try:
        for n in (1, 2, 3):  # the third audience is one too many
            drop(engine, f"aud{n}_segment{n}_20261130080000.csv", f"externalId,{STATUS}\nP{n},realized\n")
        drop(
            engine,
            "aud1_segment1_20261130090000.csv",
            f"externalId,{STATUS}\n" + "".join(f"Q{i},realized\n" for i in range(6)),
        )
        run = import_audiences(engine)
        errors = [load["error"] for load in audience_loads(engine, run_id=run["id"]) if load["error"]]
        assert len(errors) == 2, errors
        assert any("aud3_segment3" in e and "campaign_max_audiences" in e for e in errors)
        assert any("aud1_segment1_20261130090000.csv" in e and "campaign_max_active_profiles" in e for e in errors)
        assert sorted(r["externalId"] for r in campaign.list_recipients(engine)["recipients"]) == ["P1", "P2"]
        assert len([lst for lst in campaign.list_lists(engine) if lst["origin"] == "audience"]) == 2
    finally:
        engine.close()
    raised = settings.model_copy(update={"campaign_max_audiences": 3, "campaign_max_active_profiles": 100})
    engine = campaign.CampaignEngine.open(raised)  # the administrator raises the limits: the files load
    try:
        run = import_audiences(engine)
        assert [load["error"] for load in audience_loads(engine, run_id=run["id"])] == [None, None]
        assert recipients(engine) == 9 and len(campaign.list_member_ids(engine, "aud3_segment3")) == 1
    finally:
        engine.close()


def test_more_bytes_waiting_than_the_landing_limit_stops_the_collector(campaign_settings: Settings) -> None:
    settings = campaign_settings.model_copy(update={"campaign_max_landing_bytes": 100})
    campaign.initialise_engine(settings)
    engine = campaign.CampaignEngine.open(settings)
    try:
        drop(engine, "big_segmentb_20261130080000.csv", f"externalId,{STATUS}\n" + "B1,realized\n" * 20)
        run = import_audiences(engine)
        assert run["status"] == "failed" and "campaign_max_landing_bytes" in run["error"]
        assert recipients(engine) == 0
    finally:
        engine.close()


def test_an_import_killed_while_loading_leaves_nothing_half_written_and_resumes(
    engine: campaign.CampaignEngine,
) -> None:
    rows = "".join(f"K{i},k{i}@example.com,realized\n" for i in range(60_000))
    drop(engine, "big_segmentkkk_20261130080000.csv", f"externalId,email,{STATUS}\n{rows}")
    code = ("from accord.settings import Settings; from accord import campaign; from accord.campaign import imports;"
            f"s = Settings(home={str(engine.settings.home)!r}, scheduler=False);"
            "imports.import_audiences(campaign.CampaignEngine.open(s))")  # fmt: skip
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _running(engine, "update"):
            time.sleep(0.02)
        assert _running(engine, "update"), "the child never reached update data"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert recipients(engine) in (0, 60_000)  # the file's transaction committed whole or not at all
    [run] = workflows.list_runs(engine, IMPORT_WORKFLOW)
    assert workflows.mark_interrupted(engine) == 1
    resumed = workflows.resume_workflow(engine, run["id"])
    assert resumed["status"] == "success", resumed["error"]
    assert recipients(engine) == 60_000
    [audience] = [lst for lst in campaign.list_lists(engine) if lst["origin"] == "audience"]
    assert audience["members"] == 60_000


def _running(engine: campaign.CampaignEngine, activity: str) -> bool:
    with engine.database.session() as session:
        found = session.scalar(select(ActivityRunRecord.id).where(ActivityRunRecord.activity == activity,
                                                                  ActivityRunRecord.status == "running"))  # fmt: skip
        return found is not None
