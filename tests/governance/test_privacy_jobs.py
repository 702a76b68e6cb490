"""Privacy jobs as a user meets them: requests checked whole before anything is recorded, identities that exist
nowhere (a complete job that found nothing), another sandbox left alone, a delete that waits for the job holding
the sandbox's lock and then names it, a delete killed in the middle that blocks nothing, and the CLI's and the
API's surface (jobs, reports, bundles)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from accord import governance, lake, profile
from accord.catalog import create_sandbox
from accord.catalog.privacy import PrivacyJobRecord
from accord.errors import InvalidInputError, NotFoundError
from accord.governance import MAX_IDENTITIES, PrivacyRequestError, TooManyIdentitiesError
from accord.jobs import JobRunningError
from accord.settings import Settings
from accord.workspace import Workspace, initialise
from tests.conftest import Api
from tests.governance.privacy_data import People, build, stores, write_files

PEOPLE = People(60)


@pytest.fixture
def filled(settings: Settings, tmp_path: Path) -> Workspace:
    initialise(settings)
    ws = Workspace.open(settings)
    write_files(tmp_path / "files", PEOPLE, seed=5)
    build(ws, tmp_path / "files")
    return ws


def _jobs(ws: Workspace) -> int:
    with ws.catalog.session() as session:
        return session.query(PrivacyJobRecord).count()


def test_a_request_is_checked_whole_and_records_nothing_when_it_has_problems(workspace: Workspace) -> None:
    with pytest.raises(PrivacyRequestError) as refused:
        governance.run_privacy_job(workspace, "prod", "delete", [
            {"namespace": "Email", "value": "ann@example.com"},  # fine
            {"namespace": "Emial", "value": "bob@example.com"},
            {"namespace": "Email", "value": "not an e-mail"},
            {"namespace": "CRMID"},
            "Email-without-a-colon",
            42,
            {"namespace": "Email", "value": "cy@example.com", "id": "cy"},
        ])  # fmt: skip
    problems = [(p["path"], p["message"]) for p in refused.value.problems]
    assert [path for path, _ in problems] == ["identities[1].namespace", "identities[2].value", "identities[3].value",
                                              "identities[4]", "identities[5]", "identities[6].id"]  # fmt: skip
    assert "did you mean Email" in problems[0][1]
    assert "not a valid Email identity" in problems[1][1] and "NAMESPACE:VALUE" in problems[3][1]
    assert refused.value.code == "PRIVACY-0400-400" and "identities[2].value" in refused.value.message
    with pytest.raises(TooManyIdentitiesError, match="at most 1,000 identities; this one holds 1,001"):
        governance.run_privacy_job(workspace, "prod", "access", [f"Email:p{i}@x.io" for i in range(MAX_IDENTITIES + 1)])
    with pytest.raises(PrivacyRequestError, match="give 1 to 1,000 identities"):
        governance.run_privacy_job(workspace, "prod", "access", [])
    with pytest.raises(InvalidInputError, match="`access` or `delete`"):
        governance.run_privacy_job(workspace, "prod", "erase", ["Email:ann@example.com"])
    assert _jobs(workspace) == 0


def test_identities_that_exist_nowhere_make_a_complete_job_that_found_nothing(workspace: Workspace) -> None:
    for kind, not_reached in (
        ("delete", {"campaign", "identityGraph", "profileStore"}),
        ("access", {"campaign", "identityGraph"}),
    ):  # lookups read the lake without a store
        job = governance.run_privacy_job(workspace, "prod", kind, ["Email:Nobody@Example.com "], requested_by="me")
        assert job["status"] == "complete" and job["error"] is None, job
        assert job["summary"] == {"people": 0, "identities": 1, "found": 0, "removed": 0,
                                  "storesReached": 10 - len(not_reached), "storesWithErrors": []}  # fmt: skip
        why_not = {r["store"]: r["whyNot"] for r in job["report"] if not r["reached"]}
        assert "sends nothing" in why_not["campaign"] and "no identity graph" in why_not["identityGraph"]
        assert set(why_not) == not_reached
    access, delete = governance.list_privacy_jobs(workspace, "prod")
    assert access["identities"] == [{"namespace": "Email", "value": "nobody@example.com"}]  # normalised
    path = governance.privacy_bundle(workspace, "prod", access["id"])
    assert path.stat().st_mode & 0o077 == 0 and path.parent.stat().st_mode & 0o077 == 0  # the owner's only
    bundle = json.loads(path.read_text())
    assert bundle["lake"] == {} and bundle["people"] == [{"graphId": None, "identities": [
        {"namespace": "Email", "value": "nobody@example.com"}]}]  # fmt: skip
    with workspace.catalog.session() as session:
        salt = session.get(PrivacyJobRecord, delete["id"]).salt
    assert delete["identities"] == [{"namespace": "Email",
                                     "digest": governance.identity_digest(salt, "nobody@example.com")}]  # fmt: skip
    with pytest.raises(governance.NoBundleError, match="it is a delete job"):
        governance.privacy_bundle(workspace, "prod", delete["id"])
    with pytest.raises(governance.PrivacyJobNotFoundError):
        governance.get_privacy_job(workspace, "prod", "0" * 24)


def test_a_delete_leaves_another_sandbox_alone(filled: Workspace, tmp_path: Path) -> None:
    with filled.catalog.session() as session:
        create_sandbox(session, "dev", "Development")
    build(filled, tmp_path / "files", sandbox="dev")  # the same people in another sandbox
    before = profile.get_profile(filled, "dev", "CRMID", "C3")
    job = governance.run_privacy_job(filled, "prod", "delete", ["CRMID:C3"])
    assert job["status"] == "complete" and job["summary"]["removed"] > 0
    with pytest.raises(governance.PrivacyJobNotFoundError):  # nor are its jobs seen from there
        governance.get_privacy_job(filled, "dev", job["id"])
    assert profile.get_profile(filled, "dev", "CRMID", "C3")["attributes"] == before["attributes"]
    assert {r["personalEmail"]["address"] for r in lake.preview(filled, "dev", "notes", 10)} == {"p3@x.io", "p5@x.io"}
    assert {r["personalEmail"]["address"] for r in lake.preview(filled, "prod", "notes", 10)} == {"p5@x.io"}


@pytest.mark.settings(job_wait_seconds=0.5)
def test_a_delete_waits_for_the_job_that_holds_the_sandbox_and_names_it(filled: Workspace) -> None:
    held, release = threading.Event(), threading.Event()

    def segment_job() -> None:  # another job holding the sandbox's lock, in a thread of its own
        with lake.sandbox_job(filled, "prod", "segment job"):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=segment_job)
    holder.start()
    try:
        assert held.wait(30)
        with pytest.raises(JobRunningError, match="segment job in sandbox prod is already running") as busy:
            governance.run_privacy_job(filled, "prod", "delete", ["CRMID:C3"])
        assert busy.value.pid == os.getpid()
    finally:
        release.set()
        holder.join()
    [job] = governance.list_privacy_jobs(filled, "prod")
    assert job["status"] == "error" and "segment job" in job["error"] and "value" not in job["identities"][0]
    assert governance.run_privacy_job(filled, "prod", "delete", ["CRMID:C3"])["status"] == "complete"


@pytest.mark.settings(job_wait_seconds=30)
def test_a_delete_is_queued_while_another_job_holds_the_sandbox(filled: Workspace) -> None:
    held, release, done = threading.Event(), threading.Event(), []

    def segment_job() -> None:
        with lake.sandbox_job(filled, "prod", "segment job"):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=segment_job)
    holder.start()
    assert held.wait(30)
    waiting = threading.Thread(target=lambda: done.append(governance.run_privacy_job(filled, "prod", "delete",
                                                                                     ["CRMID:C5"])))  # fmt: skip
    waiting.start()
    try:
        deadline = time.monotonic() + 30
        while not governance.list_privacy_jobs(filled, "prod") and time.monotonic() < deadline:
            time.sleep(0.05)
        [queued] = governance.list_privacy_jobs(filled, "prod")
        assert queued["status"] == "queued" and queued["startedAt"] is None
    finally:
        release.set()
        holder.join()
        waiting.join(60)
    assert done and done[0]["status"] == "complete" and done[0]["id"] == queued["id"]


@pytest.mark.slow
def test_a_delete_killed_in_the_middle_blocks_nothing_and_the_next_one_mends_what_it_left(
    settings: Settings, tmp_path: Path
) -> None:
    people = People(1500)  # enough rows for the job to be caught while it rewrites the lake
    initialise(settings)
    ws = Workspace.open(settings)
    write_files(tmp_path / "files", people, seed=9)
    build(ws, tmp_path / "files")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env |= {"ACCORD_HOME": str(settings.home), "ACCORD_DUCKDB_THREADS": "2"}
    killed = subprocess.Popen([str(Path(sys.executable).parent / "accord"), "privacy", "delete", "-i", "CRMID:C1",
                               "-i", "CRMID:C2", "-i", "CRMID:C21", "--json"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and killed.poll() is None:
            with ws.catalog.session() as session:
                records = session.query(PrivacyJobRecord).all()
                if records and records[0].status == "processing" and records[0].started_at is not None:
                    break
            time.sleep(0.005)
        assert killed.poll() is None, "the job ended before it could be killed"
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(10)
    finally:
        if killed.poll() is None:
            os.kill(killed.pid, signal.SIGKILL)
    [stopped] = governance.list_privacy_jobs(ws, "prod")  # its process was on this host: it is seen to be gone
    assert stopped["status"] == "error" and stopped["summary"] == {"stopped": True, "mendedBy": None}
    job = governance.run_privacy_job(ws, "prod", "delete", ["CRMID:C1", "CRMID:C2", "CRMID:C21"])
    assert job["status"] == "complete", job
    graph = next(r for r in job["report"] if r["store"] == "identityGraph")
    assert graph["details"]["rebuiltAfterStoppedJobs"] == [stopped["id"]]
    stopped = governance.get_privacy_job(ws, "prod", stopped["id"])
    assert stopped["error"].startswith("interrupted") and stopped["summary"]["mendedBy"] == job["id"]
    assert all("digest" in i for i in stopped["identities"])  # it names nobody either
    assert not list((ws.lake.root / "_staging").glob("*"))  # nothing of it left in staging
    with pytest.raises(NotFoundError, match="no profile holds"):
        profile.get_profile(ws, "prod", "CRMID", "C1")
    sandbox_id = next(p.name for p in ws.lake.root.iterdir() if (p / "identity").exists())
    after = stores(ws, sandbox_id)
    profile.rebuild(ws, "prod")
    assert stores(ws, sandbox_id) == after  # graphs and profiles true to the lake
    ws.close()


def test_the_cli_runs_jobs_reads_files_of_identities_and_saves_bundles(filled: Workspace, cli: Any,
                                                                       tmp_path: Path) -> None:  # fmt: skip
    ids = tmp_path / "ids.csv"
    ids.write_text("namespace,value\nEmail,P4@X.IO\nCRMID,C4\n")
    bundle = tmp_path / "bundle.json"
    nowhere = cli("privacy", "access", "-i", "CRMID:C4", "-o", str(tmp_path / "no" / "b.json"), "--json")
    assert nowhere.code == 2 and "does not exist" in nowhere.json()["error"]["message"]
    assert cli("privacy", "jobs", "--json").json() == []  # refused before any job ran
    done = cli("privacy", "access", "--identity", "ECID:" + PEOPLE.ecid(4), "--file", str(ids), "--output",
               str(bundle), "--json")  # fmt: skip
    assert done.code == 0, done.stdout + done.stderr
    job = done.json()
    assert job["status"] == "complete" and job["summary"]["people"] == 1 and job["requestedBy"].startswith("cli:")
    saved = json.loads(bundle.read_text())
    assert saved["job"] == job["id"] and {r["_tenant"]["crm"] for r in saved["lake"]["crm"]} == {"C4"}
    listed = cli("privacy", "jobs", "--json").json()
    assert [j["id"] for j in listed] == [job["id"]]
    shown = cli("privacy", "jobs", job["id"])
    assert shown.code == 0 and "complete" in shown.stdout and "lake" in shown.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("namespace,value\nEmail,fine@x.io\nPhone_E164,not a phone\n")
    refused = cli("privacy", "delete", "-i", "Nope:1", "--file", str(bad), "--json")
    assert refused.code == 2, refused.stdout
    problems = refused.json()["error"]["details"]["problems"]
    assert [p["path"] for p in problems] == ["--identity 1.namespace", "bad.csv line 3.value"]
    people = cli("privacy", "delete", "-i", "CRMID:C4")
    assert people.code == 0 and "complete" in people.stdout and "removed" in people.stdout
    gone = cli("privacy", "jobs", job["id"], "--output", str(tmp_path / "again.json"), "--json")
    assert gone.code == 3 and "removed it" in gone.json()["error"]["message"]


def test_the_api_runs_jobs_and_serves_bundles(api: Api) -> None:
    refused = api.post("/privacy/jobs", json={"kind": "access", "identities": [{"namespace": "Email"}]})
    assert refused.status_code == 400 and refused.json()["details"]["problems"][0]["path"] == "identities[0].value"
    too_many = api.post("/privacy/jobs", json={"kind": "delete", "identities": ["Email:a@b.io"] * 1001})
    assert too_many.status_code == 400 and too_many.json()["code"] == "PRIVACY-0401-400"
    wrong = api.post("/privacy/jobs", json={"kind": "erase", "identities": ["Email:a@b.io"]})
    assert wrong.status_code == 400 and "kind" in wrong.json()["message"]
    made = api.post("/privacy/jobs", json={"kind": "access", "identities": ["Email:someone@example.com"]})
    assert made.status_code == 201 and made.json()["status"] == "complete" and made.json()["bundleReady"]
    job = made.json()
    assert job["requestedBy"].startswith("admin (token ")  # the user, and the token it came through
    assert api.get(f"/privacy/jobs/{job['id']}").json()["report"] == job["report"]
    assert [j["id"] for j in api.get("/privacy/jobs").json()] == [job["id"]]
    bundle = api.get(f"/privacy/jobs/{job['id']}/bundle")
    assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/json"
    assert bundle.json()["requested"] == [{"namespace": "Email", "value": "someone@example.com"}]
    deleted = api.post("/privacy/jobs", json={"kind": "delete", "identities": ["Email:someone@example.com"]}).json()
    assert api.get(f"/privacy/jobs/{deleted['id']}/bundle").status_code == 404
    assert api.get("/privacy/jobs/nope").status_code == 404


@pytest.mark.settings(allowed_roots=None)  # the default: local connections read the home's landing folder
def test_input_files_under_the_home_are_reported_and_left_as_they_are(filled: Workspace) -> None:
    from accord import sources
    from accord.access import AllowedRoots

    folder = filled.settings.landing / "crm"
    folder.mkdir(parents=True)
    dropped = folder / "more.csv"
    dropped.write_text("crm,email,first,city\nC9,p9@x.io,Nine,Lima\nC10,p10@x.io,Ten,Oslo\n")
    with filled.catalog.session() as session:
        box, roots = sources.SecretBox(filled.settings.home), AllowedRoots.from_settings(filled.settings)
        sources.create_connection(session, box, "prod", "drop", "local", {"root": str(folder)}, roots)
    job = governance.run_privacy_job(filled, "prod", "delete", ["Email:p9@x.io"])
    assert job["status"] == "complete"
    report = next(r for r in job["report"] if r["store"] == "sourceFiles")
    assert report["found"] == 1 and report["removed"] == 0
    assert report["details"]["leftAsTheyAre"] == [{"file": "landing/crm/more.csv", "rows": 1}]
    assert "by hand" in report["details"]["why"]
    assert "p9@x.io" in dropped.read_text()  # the operator's file, untouched


def test_a_request_can_be_checked_before_its_job_is_run_and_nothing_is_recorded(workspace: Workspace) -> None:
    checked = governance.check_privacy_request(workspace, "prod", "delete", [
        {"namespace": "Email", "value": " Ann@Example.COM"}, "Email:ann@example.com", "CRMID:C1"])  # fmt: skip
    assert [i.to_document() for i in checked] == [{"namespace": "Email", "value": "ann@example.com"},
                                                  {"namespace": "CRMID", "value": "C1"}]  # fmt: skip
    with pytest.raises(PrivacyRequestError) as refused:
        governance.check_privacy_request(workspace, "prod", "access", ["Emial:bob@example.com", "Email:bob"],
                                         places=["row 1", "row 2"])  # fmt: skip
    assert [p["path"] for p in refused.value.problems] == ["row 1.namespace", "row 2.value"]
    with pytest.raises(InvalidInputError, match="`access` or `delete`"):
        governance.check_privacy_request(workspace, "prod", "erase", ["Email:ann@example.com"])
    assert _jobs(workspace) == 0
