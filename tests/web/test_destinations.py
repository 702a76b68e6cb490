"""The destinations pages: the catalog, configuring an account from a destination's spec and testing it, the
activation wizard with its review, and the flows with their runs and dead letters; what each role may see and
do; secrets never shown; hostile input escaped and refused."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from accord import destinations
from accord.workspace import Workspace
from tests.conftest import Api
from tests.http_receiver import HttpReceiver, answer
from tests.web.conftest import NARROW, PASSWORD, WIDE, Watched, accessibility_problems, check_page, sign_in

PEOPLE = "first,email,city\nAnn,ann@example.com,Paris\nBob,bob@example.com,Paris\nCid,cid@example.com,Oslo\n"
MAPPING = {"mappings": [{"source": "first", "destination": "person.name.firstName"},
                        {"source": "email", "destination": "personalEmail.address"},
                        {"source": "city", "destination": "homeAddress.city"}]}  # fmt: skip
FLOW = {"name": "paris-mail", "account": "outbox", "audiences": [{"segment": "parisians"}],
        "mapping": [{"source": "personalEmail.address", "target": "email"}]}  # fmt: skip
SECRET_CONFIGS: dict[str, dict[str, str]] = {
    "ads": {"url": "https://ads.example.invalid/audiences"},
    "azure-blob": {"accountName": "acct", "container": "exports"},
    "http": {"url": "https://hook.example.invalid/in", "authentication": "bearer"},
    "s3": {"bucket": "exports", "accessKeyId": "AKIAEXAMPLE"},
    "sftp": {"host": "127.0.0.1", "username": "exporter"},
}
"""The settings besides their secrets of each destination that has secrets."""
HOSTILE = '<script>document.title="owned"</script>'


def seed_parisians(api: Api) -> None:
    """Ann and Bob in Paris, Cid in Oslo: the crm schema gets its identity (the e-mail), the people are ingested,
    the profiles built and the audience `parisians` evaluated, all through the API."""
    changed = api.put("/schemas/crm", json={"name": "crm", "class": "profile", "fieldGroups": [
        "demographic-details", "personal-contact-details"], "identities": [
        {"path": "personalEmail.address", "namespace": "Email", "primary": True}]})  # fmt: skip
    assert changed.status_code == 200, changed.text
    batch = api.post("/datasets/crm/batches", files={"file": ("people.csv", PEOPLE.encode())},
                     data={"mapping": json.dumps(MAPPING)})  # fmt: skip
    assert batch.status_code == 201 and batch.json()["status"] == "success", batch.text
    assert api.post("/profiles/rebuild").status_code in (200, 201)
    job = api.post("/segment/jobs", json={"segments": ["parisians"]})
    assert job.status_code == 201 and job.json()["counts"]["parisians"]["realized"] == 2, job.text


def outbox_folder(tmp_path: Path) -> Path:
    """A folder inside the allowed roots of a person granted `prod` alone (`AllowedRoots.for_caller`)."""
    folder = tmp_path / "prod" / "outbox"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def make_outbox(api: Api, tmp_path: Path) -> Path:
    folder = outbox_folder(tmp_path)
    made = api.post("/destinations/accounts", json={"name": "outbox", "destination": "local",
                                                    "config": {"root": str(folder)}})  # fmt: skip
    assert made.status_code == 201, made.text
    return folder


@contextmanager
def signed_in(api: Api, user: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.base, timeout=60) as client:
        assert client.post("/ui/login", data={"user": user, "password": PASSWORD}).status_code == 303
        yield client


def csrf(client: httpx.Client) -> str:
    return client.cookies["accord_csrf"]


def accessible(watched: Watched, step: str) -> None:
    """The page as it stands (a wizard's step, the result of a form) passes axe at both widths, fits 390 pixels,
    and is kept as a screenshot."""
    page = watched.page
    assert not accessibility_problems(page), (step, accessibility_problems(page))
    page.set_viewport_size(NARROW)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, (step, f"{overflow} pixels wider than a 390-pixel screen")
    assert not accessibility_problems(page), (step, "at 390 pixels")
    page.set_viewport_size(WIDE)
    watched.shot(step)


# -- the journey --------------------------------------------------------------------------------------------------


def test_a_person_configures_a_folder_activates_parisians_and_finds_the_file(
    api: Api, people: Workspace, watched: Watched, tmp_path: Path
) -> None:
    seed_parisians(api)
    folder = outbox_folder(tmp_path)
    page = watched.page
    sign_in(page, api.base, "ada")
    page.get_by_role("link", name="Destinations", exact=True).click()
    page.wait_for_url(re.compile(r"/ui/destinations\?"))
    assert page.locator(".card-item").count() >= 6
    page.get_by_label("Search the catalog").fill("local folder")  # the cards narrow as one types
    expect(page.locator(".card-item")).to_have_count(1)
    accessible(watched, "1-catalog")
    page.get_by_role("link", name="Configure Local folder").click()
    page.wait_for_url(re.compile(r"/ui/destinations/configure/local"))
    page.get_by_label("Name").fill("outbox")
    page.get_by_label("Root").fill("/etc")  # outside the allowed folders: said on the form
    page.get_by_role("button", name="Save account").click()
    expect(page.locator("#e-root")).to_contain_text("outside the folders this server allows")
    assert page.get_by_label("Name").input_value() == "outbox"  # what was typed is kept
    accessible(watched, "2-configure-refused")
    page.get_by_label("Root").fill(str(folder))
    page.get_by_role("button", name="Save account").click()
    page.wait_for_url(re.compile(r"/ui/destinations/accounts/outbox\?"))
    expect(page.locator("#made")).to_contain_text("saved")
    page.get_by_role("button", name="Test").click()
    expect(page.locator("#test-result h2")).to_have_text("Test: passed")
    assert "folder writable" in page.locator("#test-result").inner_text()
    accessible(watched, "3-account-tested")

    page.get_by_role("link", name="Activate audiences").click()
    page.wait_for_url(re.compile(r"/activate\?"))
    page.get_by_label("Activation name").fill("paris-mail")
    page.keyboard.press("Tab")  # the wizard by keyboard: the audience, then Next
    assert page.evaluate("() => document.activeElement.value") == "parisians"
    page.keyboard.press("Space")
    accessible(watched, "4-wizard-audiences")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Next: Schedule"
    page.keyboard.press("Enter")
    expect(page.locator("#step-title")).to_have_text("Step 2: Schedule")
    page.get_by_label("Frequency").select_option("daily")  # a daily schedule needs its time: said beside it
    page.get_by_role("button", name="Next: Attributes").click()
    expect(page.locator("#step-title")).to_have_text("Step 2: Schedule")
    expect(page.locator("[id='e-time-parisians']")).to_contain_text("needs a time")
    page.get_by_label("Time (UTC)").fill("06:30")
    page.get_by_label("File format").select_option("csv")
    accessible(watched, "5-wizard-schedule")
    page.get_by_role("button", name="Next: Attributes").click()
    expect(page.locator("#step-title")).to_have_text("Step 3: Attributes")
    page.locator("#source-0").press_sequentially("personalEmail.address")
    page.locator("#target-0").press_sequentially("email")
    page.locator("#mandatory-0").check()
    page.locator("#dedup-0").check()
    page.locator("#source-1").press_sequentially("person.name.firstName")
    page.locator("#target-1").press_sequentially("first_name")
    page.locator("#source-2").press_sequentially("homeAddress.cty")  # misspelt: said, with the right name
    page.locator("#target-2").press_sequentially("city")
    page.get_by_role("button", name="Next: Review").click()
    expect(page.locator("#e-source-2")).to_contain_text("did you mean homeAddress.city")
    page.locator("#source-2").fill("homeAddress.city")
    accessible(watched, "6-wizard-attributes")
    page.get_by_role("button", name="Next: Review").click()
    expect(page.locator("#step-title")).to_have_text("Step 4: Review")
    expect(page.locator("#policy-allowed")).to_contain_text("Allowed")
    expect(page.locator("#consent-note")).to_contain_text("No consent leaves anyone out")
    assert page.locator("#review-mapping tbody tr").count() == 3
    assert "daily at 06:30 UTC" in page.locator("#review-audiences").inner_text()
    accessible(watched, "7-wizard-review")
    page.get_by_role("button", name="Save activation").click()
    page.wait_for_url(re.compile(r"/ui/destinations/activations/paris-mail\?"))
    assert page.locator("#flow-state").inner_text() == "enabled"
    accessible(watched, "8-flow")

    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"/ui/operations/"))
    expect(page.locator("#operation-result")).to_be_visible(timeout=60_000)  # the page asks for its state
    assert "success" in page.locator("#operation-state").inner_text()
    accessible(watched, "9-operation")
    page.locator("#operation-result").click()
    page.wait_for_url(re.compile(r"/ui/destinations/activations/paris-mail/runs/"))
    assert page.locator("#run-status").inner_text() == "success"
    assert page.locator("#run-activated").inner_text() == "2 rows sent"
    written = page.locator("#run-files tbody tr td").first.inner_text()
    accessible(watched, "10-run")

    files = sorted(folder.rglob("*.csv"))
    assert [f.name for f in files] == [written]
    with files[0].open(newline="") as opened:
        rows = list(csv.DictReader(opened))
    assert sorted((r["email"], r["first_name"], r["city"]) for r in rows) == [
        ("ann@example.com", "Ann", "Paris"), ("bob@example.com", "Bob", "Paris")]  # fmt: skip
    assert {r["segmentMembership.status"] for r in rows} == {"realized"}

    page.get_by_role("link", name="Back to the activation paris-mail").click()
    assert page.locator("#runs tbody tr").count() == 1
    page.get_by_role("button", name="Disable").click()
    expect(page.locator("#flow-state")).to_have_text("disabled")
    page.get_by_role("button", name="Enable").click()
    expect(page.locator("#flow-state")).to_have_text("enabled")
    page.get_by_role("button", name="Run now").click()  # once more: the runs now draw a chart
    expect(page.locator("#operation-result")).to_be_visible(timeout=60_000)
    page.locator("#operation-result").click()
    page.get_by_role("link", name="Back to the activation paris-mail").click()
    assert page.locator("#runs tbody tr").count() == 2
    expect(page.locator(".chart canvas")).to_have_count(1)
    watched.shot("11-flow-after-two-runs")


# -- every page ---------------------------------------------------------------------------------------------------

SHOWN = {
    "/ui/destinations": "/ui/destinations",
    "/ui/destinations/configure/{destination}": "/ui/destinations/configure/accord-campaign",
    "/ui/destinations/accounts": "/ui/destinations/accounts",
    "/ui/destinations/accounts/{name}": "/ui/destinations/accounts/outbox",
    "/ui/destinations/accounts/{name}/activate": "/ui/destinations/accounts/outbox/activate",
    "/ui/destinations/activations": "/ui/destinations/activations",
    "/ui/destinations/activations/{name}": "/ui/destinations/activations/hooked",
    "/ui/destinations/activations/{name}/runs/{run_id}": "/ui/destinations/activations/paris-mail/runs/{run}",
}
"""This module's pages, each with a URL that shows it (`{run}`: the run the check makes)."""
FRAGMENTS = {
    "/ui/destinations/cards": "the catalog's cards, swapped into /ui/destinations (test_a_person_configures...)",
}


def test_the_destinations_pages_pass_every_check(api: Api, people: Workspace, watched: Watched, tmp_path: Path,
                                                 receiver: HttpReceiver) -> None:  # fmt: skip
    seed_parisians(api)
    make_outbox(api, tmp_path)
    assert api.post("/activations", json=FLOW).status_code == 201
    run = api.post("/activations/paris-mail/runs").json()
    assert run["status"] == "success", run
    hooked_flow(api, receiver)
    sign_in(watched.page, api.base, "ada")
    for step, url in enumerate(SHOWN.values(), 1):
        check_page(watched, f"{api.base}{url.format(run=run['id'])}", str(step))
    page = watched.page
    page.goto(f"{api.base}/ui/destinations/configure/accord-campaign")  # the reference's fields, by its labels
    for label in ("Name", "Instance", "Target mapping"):
        expect(page.get_by_label(label)).to_be_visible()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver()
    yield server
    server.stop()


def hooked_flow(api: Api, receiver: HttpReceiver) -> list[dict[str, Any]]:
    """A flow `hooked` to an HTTP endpoint that refused every try of its run: its dead letters."""
    made = api.post("/destinations/accounts", json={"name": "hook", "destination": "http",
                                                    "config": {"url": f"{receiver.url}/in"}})  # fmt: skip
    assert made.status_code == 201, made.text
    assert api.post("/activations", json={**FLOW, "name": "hooked", "account": "hook"}).status_code == 201
    receiver.then(default=answer(503))
    assert api.post("/activations/hooked/runs").json()["status"] == "failed"
    letters = api.get("/activations/hooked/deadletters").json()
    assert letters
    return letters  # type: ignore[no-any-return]


# -- what is refused, and what is never shown --------------------------------------------------------------------


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_secrets_never_appear_in_any_page(api: Api, people: Workspace, tmp_path: Path) -> None:
    with_secrets = {s.id: s.secret_fields() for s in destinations.list_destinations() if s.secret_fields()}
    assert set(with_secrets) <= set(SECRET_CONFIGS), f"add settings for {set(with_secrets) - set(SECRET_CONFIGS)}"
    secrets = {}
    with signed_in(api, "ada") as client:
        for destination, fields in with_secrets.items():
            typed = {field: f"SeCrEt-{destination}-{field}-7c1f" for field in fields}
            secrets.update(typed)
            wrong = {**SECRET_CONFIGS[destination], **typed, "name": "no good", "csrf_token": csrf(client)}
            again = client.post(f"/ui/destinations/configure/{destination}", data=wrong)  # the form again
            assert again.status_code == 200 and "letters, digits" in again.text
            assert not [s for s in typed.values() if s in again.text], destination
            good = {**wrong, "name": f"acct-{destination}"}
            made = client.post(f"/ui/destinations/configure/{destination}", data=good)
            assert made.status_code == 303, made.text
            shown = client.get(made.headers["location"])
            assert shown.status_code == 200 and "stored encrypted, never shown" in shown.text
            assert all(field in shown.text for field in fields)  # named, never given
        pages = ["/ui/destinations", "/ui/destinations/accounts", "/ui/destinations/activations",
                 *[f"/ui/destinations/accounts/acct-{d}" for d in with_secrets],
                 *[f"/ui/destinations/configure/{d}" for d in with_secrets],
                 *[f"/ui/destinations/accounts/acct-{d}/activate" for d in with_secrets]]  # fmt: skip
        for path in pages:
            text = client.get(path).text
            assert not [s for s in secrets.values() if s in text], path
        stored = api.get("/destinations/accounts").json()
        assert {a["name"] for a in stored} == {f"acct-{d}" for d in with_secrets}
        assert not [s for s in secrets.values() if s in json.dumps(stored)]


@pytest.mark.settings(session_cookie_secure=False)
def test_hostile_names_are_refused_or_escaped(api: Api, people: Workspace, tmp_path: Path, watched: Watched) -> None:
    folder = outbox_folder(tmp_path)
    assert api.post("/segment/definitions", json={"name": "x-script", "description": HOSTILE, "expression": {
        "type": "PQL", "value": "true"}}).status_code == 201  # fmt: skip
    assert api.post("/marketing-actions", json={"name": "smsTargeting", "title": HOSTILE}).status_code == 201
    with signed_in(api, "ada") as client:
        refused = client.post("/ui/destinations/configure/local", data={
            "name": HOSTILE, "root": str(folder), "csrf_token": csrf(client)})  # fmt: skip
        assert refused.status_code == 200 and HOSTILE not in refused.text and "&lt;script&gt;" in refused.text
        assert api.get("/destinations/accounts").json() == []  # nothing half-made
        made = client.post("/ui/destinations/configure/s3", data={
            "name": "store", "bucket": "exports", "prefix": HOSTILE, "csrf_token": csrf(client)})  # fmt: skip
        assert made.status_code == 303
        assert client.post("/ui/destinations/configure/local", data={
            "name": "outbox", "root": str(folder), "csrf_token": csrf(client)}).status_code == 303  # fmt: skip
        wizard = client.post("/ui/destinations/accounts/outbox/activate", data={
            "step": "1", "go": "next", "flow_name": HOSTILE, "audience": "x-script",
            "csrf_token": csrf(client)})  # fmt: skip
        assert wizard.status_code == 200 and HOSTILE not in wizard.text and "&lt;script&gt;" in wizard.text
        assert api.get("/activations").json() == []
    page = watched.page
    sign_in(page, api.base, "ada")
    for path in ("/ui/destinations/accounts/store", "/ui/destinations/configure/local",
                 "/ui/destinations/accounts/outbox/activate"):  # fmt: skip
        page.goto(f"{api.base}{path}?sandbox=prod")
        assert page.title() != "owned" and page.locator("script:not([src])").count() == 0, path
        assert "<script>" in page.locator("main").inner_text(), path  # shown as text
    watched.shot("escaped")


@pytest.mark.settings(session_cookie_secure=False)
def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(api: Api, people: Workspace,
                                                                      tmp_path: Path) -> None:  # fmt: skip
    seed_parisians(api)
    folder = make_outbox(api, tmp_path)
    assert api.post("/activations", json=FLOW).status_code == 201
    posts = {
        "/ui/destinations/configure/local": {"name": "second", "root": str(folder)},
        "/ui/destinations/accounts/outbox/test": {},
        "/ui/destinations/accounts/outbox/activate": {
            "step": "4",
            "go": "save",
            "flow_name": "sneaky",
            "audience": "parisians",
            "source-0": "personalEmail.address",
            "target-0": "email",
        },
        "/ui/destinations/activations/paris-mail/disable": {},
        "/ui/destinations/activations/paris-mail/runs": {},
        "/ui/destinations/activations/paris-mail/deadletters/replay": {},
    }
    with signed_in(api, "ada") as client:
        for path, data in posts.items():
            for token in (None, "forged"):
                sent = data if token is None else {**data, "csrf_token": token}
                answer_ = client.post(path, data=sent)
                assert answer_.status_code == 403 and "text/html" in answer_.headers["content-type"], path
    assert [a["name"] for a in api.get("/destinations/accounts").json()] == ["outbox"]
    assert [f["name"] for f in api.get("/activations").json()] == ["paris-mail"]
    assert api.get("/activations/paris-mail").json()["state"] == "enabled"
    assert api.get("/activations/paris-mail/runs").json() == []


@pytest.mark.settings(session_cookie_secure=False)
def test_each_role_sees_and_may_do_what_it_holds(api: Api, people: Workspace, tmp_path: Path) -> None:
    seed_parisians(api)
    folder = make_outbox(api, tmp_path)
    assert api.post("/activations", json=FLOW).status_code == 201
    wizard = {"step": "4", "go": "save", "audience": "parisians", "frequency-parisians": "once",
              "source-0": "personalEmail.address", "target-0": "email"}  # fmt: skip
    with signed_in(api, "ann") as ann:  # a marketer: activates, configures no account
        catalog = ann.get("/ui/destinations").text
        assert "Local folder" in catalog and "/ui/destinations/configure/" not in catalog
        assert 'id="not-allowed"' in ann.get("/ui/destinations/configure/local").text
        refused = ann.post("/ui/destinations/configure/local", data={"name": "mine", "root": str(folder),
                                                                     "csrf_token": csrf(ann)})  # fmt: skip
        assert refused.status_code == 403 and "Manage Destinations" in refused.text
        account = ann.get("/ui/destinations/accounts/outbox").text
        assert "Activate audiences" in account and ">Test<" not in account
        assert ann.post("/ui/destinations/accounts/outbox/test", data={"csrf_token": csrf(ann)}).status_code == 403
        saved = ann.post("/ui/destinations/accounts/outbox/activate",
                         data={**wizard, "flow_name": "anns", "csrf_token": csrf(ann)})  # fmt: skip
        assert saved.status_code == 303 and saved.headers["location"].startswith("/ui/destinations/activations/anns")
        assert "Run now" in ann.get("/ui/destinations/activations/anns").text
    with signed_in(api, "dan") as dan:  # a data engineer: configures accounts, activates nothing
        assert "/ui/destinations/configure/local" in dan.get("/ui/destinations").text
        assert "/ui/destinations/configure/accord-campaign" not in dan.get("/ui/destinations").text  # Manage Campaign
        assert (
            dan.post(
                "/ui/destinations/configure/accord-campaign",
                data={"name": "camp", "root": str(folder), "instance": "i1", "csrf_token": csrf(dan)},
            ).status_code
            == 403
        )
        assert 'id="not-allowed"' in dan.get("/ui/destinations/accounts/outbox/activate").text
        refused = dan.post("/ui/destinations/accounts/outbox/activate",
                           data={**wizard, "flow_name": "dans", "csrf_token": csrf(dan)})  # fmt: skip
        assert refused.status_code == 403 and "Activate Destinations" in refused.text
        assert "Run now" not in dan.get("/ui/destinations/activations/paris-mail").text
        assert dan.post("/ui/destinations/activations/paris-mail/runs", data={"csrf_token": csrf(dan)}).status_code \
            == 403  # fmt: skip
    with signed_in(api, "sam") as sam:  # an auditor: sees everything, no action, refused every one
        for path in ("/ui/destinations", "/ui/destinations/accounts/outbox", "/ui/destinations/activations/paris-mail",
                     "/ui/destinations/activations", "/ui/destinations/accounts/outbox/activate"):  # fmt: skip
            text = sam.get(path).text
            assert not re.search(r"<form method=\"post\" action=\"/ui/destinations", text), path
            assert "Configure<" not in text and "Activate audiences</a>" not in text, path
        for path in ("/ui/destinations/configure/local", "/ui/destinations/accounts/outbox/test",
                     "/ui/destinations/accounts/outbox/activate", "/ui/destinations/activations/paris-mail/disable",
                     "/ui/destinations/activations/paris-mail/enable", "/ui/destinations/activations/paris-mail/runs",
                     "/ui/destinations/activations/paris-mail/deadletters/replay"):  # fmt: skip
            refused = sam.post(path, data={**wizard, "name": "x", "root": str(folder), "csrf_token": csrf(sam)})
            assert refused.status_code == 403, path
    assert sorted(f["name"] for f in api.get("/activations").json()) == ["anns", "paris-mail"]
    assert [a["name"] for a in api.get("/destinations/accounts").json()] == ["outbox"]
    assert api.get("/activations/paris-mail/runs").json() == []


@pytest.mark.settings(session_cookie_secure=False)
def test_bad_values_answer_a_page_saying_what_is_wrong(api: Api, people: Workspace, tmp_path: Path) -> None:
    make_outbox(api, tmp_path)
    with signed_in(api, "ada") as client:
        token = csrf(client)
        typed = client.post("/ui/destinations/configure/sftp", data={
            "name": "box", "host": "h", "username": "u", "port": "twenty-two", "csrf_token": token})  # fmt: skip
        assert typed.status_code == 200 and re.search(r'id="e-port">Port must be a number', typed.text)
        ranged = client.post("/ui/destinations/configure/sftp", data={
            "name": "box", "host": "h", "username": "u", "port": "99999", "csrf_token": token})  # fmt: skip
        assert ranged.status_code == 200 and 'id="e-port"' in ranged.text
        long = client.post("/ui/destinations/configure/local", data={"name": "n" * 5000, "root": "r" * 20_000,
                                                                     "csrf_token": token})  # fmt: skip
        assert long.status_code == 200 and "longer than 10,000 characters" in long.text
        assert client.post("/ui/destinations/configure/nowhere", data={"csrf_token": token}).status_code == 404
        for path in ("/ui/destinations/configure/nowhere", "/ui/destinations/accounts/" + "x" * 5000,
                     "/ui/destinations/activations/nope", "/ui/destinations/activations/nope/runs/r1",
                     "/ui/destinations/accounts/nope/activate"):  # fmt: skip
            missing = client.get(path)
            assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html"), path
        for q in ("x" * 5000, "<b>", "%00"):
            assert client.get("/ui/destinations/cards", params={"q": q}).status_code == 200
        base = {"flow_name": "paris", "audience": "parisians", "csrf_token": token}
        timed = client.post("/ui/destinations/accounts/outbox/activate", data={
            **base, "step": "2", "go": "next", "frequency-parisians": "daily", "time-parisians": "25:99",
            "start-parisians": "someday"})  # fmt: skip
        assert timed.status_code == 200 and "Step 2: Schedule" in timed.text
        assert 'id="e-time-parisians">must be a time of day' in timed.text and 'id="e-start-parisians"' in timed.text
        assert 'value="25:99"' in timed.text  # kept as typed
        wrong_step = client.post("/ui/destinations/accounts/outbox/activate", data={
            **base, "step": "99", "go": "next", "source-0": "s" * 20_000})  # fmt: skip
        assert wrong_step.status_code == 200 and "longer than 10,000 characters" in wrong_step.text
        unknown = client.post("/ui/destinations/accounts/outbox/activate", data={
            **base, "step": "3", "go": "save", "audience": "nobody", "source-0": "personalEmail.address",
            "target-0": "email"})  # fmt: skip
        assert unknown.status_code == 200 and "Step 1: Audiences" in unknown.text and "nobody" in unknown.text
    assert api.get("/activations").json() == []


@pytest.mark.settings(session_cookie_secure=False)
def test_dead_letters_are_shown_and_replayed(api: Api, people: Workspace, receiver: HttpReceiver) -> None:
    seed_parisians(api)
    letters = hooked_flow(api, receiver)
    with signed_in(api, "ann") as client:
        shown = client.get("/ui/destinations/activations/hooked")
        assert f"{len(letters)} waiting, of {len(letters)} in all" in shown.text
        assert "Replay every waiting letter" in shown.text and "/in" in shown.text
        receiver.then(default=answer(200))
        one = client.post("/ui/destinations/activations/hooked/deadletters/replay",
                          data={"letter": letters[0]["id"], "csrf_token": csrf(client)})  # fmt: skip
        assert one.status_code == 303 and "replayed=1" in one.headers["location"]
        rest = client.post("/ui/destinations/activations/hooked/deadletters/replay", data={"csrf_token": csrf(client)})
        assert rest.status_code == 303
        after = client.get(rest.headers["location"])
        waiting = len(letters) - 1
        assert f"Replayed {waiting} dead letters: {waiting} delivered, 0 failed" in after.text
        assert f"0 waiting, of {len(letters)} in all" in after.text
        spoofed = client.get("/ui/destinations/activations/hooked", params={"replayed": "1", "delivered": "<b>all</b>",
                                                                            "failed": "0"})  # fmt: skip
        assert spoofed.status_code == 200 and "Replayed" not in spoofed.text  # only counts are said
    with signed_in(api, "sam") as auditor:
        assert "Replay" not in auditor.get("/ui/destinations/activations/hooked").text
