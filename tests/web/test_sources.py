"""The sources area of the workspace: connections set up from a connector's spec and tested, the dataflow wizard
with its mapping preview, dataflows with their runs, and "Run now" as a long operation; driven in Chromium by
clicks and typing, and by httpx with bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from accord.workspace import Workspace
from tests.conftest import Api
from tests.web.conftest import NARROW, PASSWORD, WIDE, Watched, accessibility_problems, check_page, sign_in

HOSTILE = '<script>document.title="owned"</script>'
CSV = "id,first,email\n1,Ann,ANN@example.com\n2,Bob,bob@example.com\n3," + HOSTILE.replace('"', "'") + ",not-an-email\n"
"""Two good rows and one whose e-mail is no e-mail, with a script for a first name (shown, never run)."""

SHOWN = {
    "/ui/sources/connections": "/ui/sources/connections",
    "/ui/sources/connections/{name}": "/ui/sources/connections/inbox",
    "/ui/sources/new-connection": "/ui/sources/new-connection?connector=local",
    "/ui/sources/dataflows": "/ui/sources/dataflows",
    "/ui/sources/dataflows/{name}": "/ui/sources/dataflows/crm-files",
    "/ui/sources/new-dataflow": "/ui/sources/new-dataflow?connection=inbox",
}
"""This module's pages, each with a URL that shows it once `seeded` ran."""
FRAGMENTS = {
    "/ui/sources/runs/{run_id}": "a run: checked by test_the_sources_pages_pass_every_check (its id is made there)",
}


def inbox(tmp_path: Path) -> Path:
    """A folder a data engineer of prod may name: under the allowed root, in the folder of their sandbox."""
    folder = tmp_path / "prod" / "inbox"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def seeded(api: Api, tmp_path: Path) -> dict[str, Any]:
    """A local connection, a dataflow into crm and one run of it with a failed row, made through the API."""
    (inbox(tmp_path) / "people.csv").write_text(CSV)
    assert api.post("/connections", json={"name": "inbox", "connector": "local",
                                          "config": {"root": str(inbox(tmp_path))}}).status_code == 201  # fmt: skip
    assert api.post("/dataflows", json={
        "name": "crm-files", "connection": "inbox", "dataset": "crm", "source": {"glob": "*.csv"},
        "errorThreshold": 50, "mapping": {"mappings": [
            {"source": "first", "destination": "person.name.firstName"},
            {"expression": "lower(email)", "destination": "personalEmail.address"}]}}).status_code == 201  # fmt: skip
    run = api.post("/dataflows/crm-files/runs")
    assert run.status_code == 201 and run.json()["recordsFailed"] == 1, run.text
    return dict(run.json())


def test_the_sources_pages_pass_every_check(api: Api, people: Workspace, watched: Watched, tmp_path: Path) -> None:
    run = seeded(api, tmp_path)
    sign_in(watched.page, api.base, "dan")
    more = ["/ui/sources/new-connection", f"/ui/sources/runs/{run['id']}"]  # the connector's choice; a run
    for step, url in enumerate([*SHOWN.values(), *more], 1):
        check_page(watched, f"{api.base}{url}", str(step))
    page = watched.page
    assert page.locator("#run-failed").inner_text() == "1"
    assert "people.csv" in page.locator("#row-errors").inner_text()
    assert page.title() != "owned"


# -- the journey -------------------------------------------------------------------------------------------------


def checked_here(watched: Watched, step: str) -> None:
    """The page as it stands (a wizard's step answers a POST: it cannot be loaded again) checked as `check_page`
    checks a page: no error, nothing axe finds serious, nothing wider than 390 pixels; screenshots at both."""
    page = watched.page
    assert not watched.problems, (step, watched.problems)
    assert not accessibility_problems(page), (step, accessibility_problems(page))
    watched.shot(f"{step}-1280")
    page.set_viewport_size(NARROW)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, (step, f"{overflow} pixels wider than a 390-pixel screen")
    assert not accessibility_problems(page), (step, "at 390 pixels")
    watched.shot(f"{step}-390")
    page.set_viewport_size(WIDE)


def test_a_data_engineer_connects_a_folder_maps_it_into_crm_and_runs_it(
    api: Api, people: Workspace, watched: Watched, tmp_path: Path
) -> None:
    folder = inbox(tmp_path)
    (folder / "people.csv").write_text(CSV)
    page = watched.page
    sign_in(page, api.base, "dan")
    page.get_by_role("link", name="Sources", exact=True).click()
    page.get_by_label("Search the catalog").fill("local")
    expect(page.locator(".card-item")).to_have_count(1)
    watched.shot("01-catalog")
    page.get_by_role("link", name="Set up a connection to Local folder").click()
    page.wait_for_url(re.compile(r"/ui/sources/new-connection\?connector=local"))
    page.get_by_label("Connection name").fill("inbox")
    page.get_by_label("Root").fill(str(folder))
    checked_here(watched, "02-connection-form")
    page.get_by_role("button", name="Create connection").click()
    page.wait_for_url(re.compile(r"/ui/sources/connections/inbox\?"))
    assert str(folder) in page.locator("dl.facts").inner_text()
    page.get_by_role("button", name="Test connection").click()  # htmx swaps the steps in
    expect(page.locator("#connection-test h2")).to_have_text("Test: passed")
    assert "folder exists: passed" in page.locator("#connection-test").inner_text()
    checked_here(watched, "03-connection-tested")

    page.get_by_role("link", name="Create a dataflow from this connection").click()
    expect(page.get_by_label("Connection")).to_have_value("inbox")
    page.get_by_label("Dataflow name").fill("crm-files")
    page.keyboard.press("Enter")  # the wizard is a plain form: Enter goes to the next step
    expect(page.locator("h2").first).to_have_text("Files or table")
    page.get_by_label("Glob").fill("*.csv")
    checked_here(watched, "04-files")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Target dataset").select_option("crm")
    checked_here(watched, "05-dataset")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("h2").first).to_have_text("Mapping")
    assert "people.csv" in page.locator("#sample").inner_text()
    assert [page.locator(f"#map-{i}-from").input_value() for i in range(3)] == ["id", "first", "email"]
    page.locator("#map-1-to").fill("person.name.firstName")
    page.locator("#map-2-from").fill("lower(email)")
    page.locator("#map-2-kind").select_option("expression")
    page.locator("#map-2-to").fill("personalEmail.address")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("ann@example.com")  # lower() at work
    assert "1 of them would fail" in preview.inner_text() and "personalEmail.address" in preview.inner_text()
    assert page.title() != "owned"  # the script in the file is shown as text
    checked_here(watched, "06-mapping-preview")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("h2").first).to_have_text("Schedule")
    page.get_by_label("Error threshold").fill("50")
    checked_here(watched, "07-schedule")
    page.get_by_role("button", name="Create dataflow").click()
    page.wait_for_url(re.compile(r"/ui/sources/dataflows/crm-files\?"))
    assert "No run yet" in page.locator("main").inner_text()
    watched.shot("08-dataflow")

    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"/ui/operations/"))
    watched.shot("09-operation")
    expect(page.locator("#operation-result")).to_be_visible(timeout=60_000)  # the page asks until the run ends
    assert "finished" in page.locator("#operation-state").inner_text()
    watched.shot("10-operation-finished")
    page.locator("#operation-result").click()
    page.wait_for_url(re.compile(r"/ui/sources/runs/"))
    assert page.locator("#run-status").inner_text() == "partial"
    assert (page.locator("#run-ingested").inner_text(), page.locator("#run-failed").inner_text()) == ("2", "1")
    assert "not-an-email" in page.locator("#row-errors").inner_text()
    watched.shot("11-run")
    page.get_by_role("link", name="Back to dataflow crm-files").click()
    row = page.locator("table tbody tr.status-partial").first
    assert re.search(r"partial .* 3 2 1 ", " ".join(row.inner_text().split()) + " ")
    expect(page.locator(".chart .uplot")).to_have_count(1)  # the chart is drawn
    assert "people.csv" in page.locator("#row-errors").inner_text()
    assert page.title() != "owned"
    watched.shot("12-dataflow-with-run")


# -- bad input, refusals, secrets --------------------------------------------------------------------------------


@contextmanager
def signed(api: Api, user: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.base, timeout=60) as client:
        assert client.post("/ui/login", data={"user": user, "password": PASSWORD}).status_code == 303
        yield client


def csrf(client: httpx.Client) -> str:
    return str(client.cookies["accord_csrf"])


def names(api: Api, what: str) -> list[str]:
    return sorted(item["name"] for item in api.get(f"/{what}").json())


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_actions_without_the_csrf_token_or_the_permission_are_refused(api: Api, people: Workspace,
                                                                      tmp_path: Path) -> None:  # fmt: skip
    seeded(api, tmp_path)
    connection = {"connector": "local", "name": "other", "config.root": str(inbox(tmp_path))}
    actions = [("/ui/connections", connection), ("/ui/connections/inbox/test", {}),
               ("/ui/sources/new-dataflow", {"step": "connection", "go": "next", "name": "x", "connection": "inbox"}),
               ("/ui/dataflows", {"name": "x", "connection": "inbox", "dataset": "crm", "step": "schedule"}),
               ("/ui/dataflows/crm-files/runs", {})]  # fmt: skip
    with signed(api, "dan") as client:
        for path, form in actions:
            refused = client.post(path, data=form)
            assert refused.status_code == 403 and "text/html" in refused.headers["content-type"], path
            assert "CSRF" in refused.text or "csrf" in refused.text, path
    for user, lacking in (("sam", "Manage Sources"), ("ann", "Manage Sources")):
        with signed(api, user) as client:
            for path, form in actions:
                refused = client.post(path, data={**form, "csrf_token": csrf(client)})
                assert refused.status_code == 403 and lacking in refused.text, (user, path)
    assert names(api, "connections") == ["inbox"] and names(api, "dataflows") == ["crm-files"]
    assert len(api.get("/runs").json()) == 1  # nothing was made, nothing run


@pytest.mark.settings(session_cookie_secure=False)
def test_buttons_show_only_to_those_who_may_use_them(api: Api, people: Workspace, tmp_path: Path) -> None:
    run = seeded(api, tmp_path)
    with signed(api, "sam") as client:  # an auditor: sees sources, changes nothing
        pages = {url: client.get(url) for url in (*SHOWN.values(), f"/ui/sources/runs/{run['id']}", "/ui/sources")}
        for url in ("/ui/sources/new-connection?connector=local", "/ui/sources/new-dataflow?connection=inbox"):
            assert pages.pop(url).status_code == 403
        for url, answer in pages.items():
            assert answer.status_code == 200, url
            for button in ("Set up a connection", "Test connection", "Run now", "Create a dataflow"):
                assert button not in answer.text, (url, button)
    with signed(api, "dan") as client:
        assert "Set up a connection" in client.get("/ui/sources").text
        assert "Run now" in client.get("/ui/sources/dataflows/crm-files").text
        assert "Test connection" in client.get("/ui/sources/connections/inbox").text
    with signed(api, "ann") as client:  # a marketer sees no source at all
        for url in (*SHOWN.values(), f"/ui/sources/runs/{run['id']}"):
            answer = client.get(url)
            assert answer.status_code == 403 and "Sources" in answer.text and "inbox" not in answer.text, url


@pytest.mark.settings(session_cookie_secure=False)
def test_the_connection_form_says_what_is_wrong_and_never_shows_a_secret_again(api: Api, people: Workspace,
                                                                                tmp_path: Path) -> None:  # fmt: skip
    with signed(api, "dan") as client:
        token = csrf(client)

        def post(**form: str) -> httpx.Response:
            return client.post("/ui/connections", data={"csrf_token": token, **form})

        missing = post(connector="local", name="")
        assert missing.status_code == 200 and "Root is required" in missing.text
        hostile = post(connector="local", name=HOSTILE, **{"config.root": HOSTILE})
        assert hostile.status_code == 200 and HOSTILE not in hostile.text and "&lt;script&gt;" in hostile.text
        outside = post(connector="local", name="far", **{"config.root": str(tmp_path / "dev")})
        assert outside.status_code == 200 and "outside the folders" in outside.text  # dan's folders are prod's
        secret = "s3cret-Value-never-shown"
        database = {"config.dialect": "postgresql", "config.host": "db", "config.database": "crm",
                    "config.username": "u", "config.password": secret}  # fmt: skip
        typed = post(connector="database", name="crm-db", **database, **{"config.port": "not a number"})
        assert typed.status_code == 200 and "must be a number" in typed.text
        assert secret not in typed.text and 'value="db"' in typed.text  # what was typed is kept, the secret never
        huge = post(connector="local", name="big", **{"config.root": "x" * 20_000})
        assert huge.status_code == 200 and "longer than 10,000 characters" in huge.text
        unknown = post(connector="no-such-thing", name="x")
        assert unknown.status_code == 200 and "no-such-thing" in unknown.text
        made = post(connector="database", name="crm-db", **database, **{"config.port": "5432"})
        assert made.status_code == 303 and made.headers["location"].startswith("/ui/sources/connections/crm-db")
        shown = client.get(made.headers["location"])
        assert secret not in shown.text and "kept (never shown)" in shown.text
        tested = client.post("/ui/connections/crm-db/test", data={"csrf_token": token})
        assert tested.status_code == 200 and "Test: failed" in tested.text and secret not in tested.text
        for path in ("/ui/sources/connections/" + "n" * 5000, "/ui/sources/connections/nope"):
            assert client.get(path).status_code == 404
        assert client.get("/ui/sources/new-connection", params={"connector": HOSTILE}).status_code == 200
    assert names(api, "connections") == ["crm-db"]  # nothing half-made by the refusals
    audit = api.get("/audit", params={"limit": 100}).text
    assert secret not in audit


@pytest.mark.settings(session_cookie_secure=False)
def test_the_dataflow_wizard_says_what_is_wrong_at_the_step_where_it_is(api: Api, people: Workspace,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    seeded(api, tmp_path)
    with signed(api, "dan") as client:
        token = csrf(client)

        def step(step: str, go: str = "next", **form: str) -> httpx.Response:
            answer = client.post("/ui/sources/new-dataflow", data={"csrf_token": token, "step": step, "go": go, **form})
            assert answer.status_code == 200 and "text/html" in answer.headers["content-type"], answer.text[:300]
            return answer

        first = {"name": "second", "connection": "inbox"}
        assert "already exists" in step("connection", name="crm-files", connection="inbox").text
        assert "did you mean inbox" in step("connection", name="x", connection="inbx").text
        hostile = step("connection", name=HOSTILE, connection=HOSTILE)
        assert HOSTILE not in hostile.text and "&lt;script&gt;" in hostile.text
        assert 'id="e-connection"' in step("connection", name="x").text  # none chosen
        typed = step("source", **first, **{"source.glob": "*.csv", "source.groupFiles": "many"})
        assert "must be a number" in typed.text and 'id="f-source.groupFiles"' in typed.text
        outside = step("source", **first, **{"source.path": "../../etc"})
        assert "without &#39;..&#39;" in outside.text or "without '..'" in outside.text
        mapping = step("dataset", **first, **{"source.glob": "*.csv", "dataset": "crm"})
        assert "<h2>Mapping</h2>" in mapping.text and 'value="first"' in mapping.text, mapping.text[
            mapping.text.index("<h2>") :
        ][:3000]  # a row per column of the file
        assert "nope" in step("dataset", **first, dataset="nope").text
        bad = {**first, "source.glob": "*.csv", "dataset": "crm", "map.0.from": "frist", "map.0.to":
               "person.name.firstName", "map.1.from": "lower(", "map.1.kind": "expression",
               "map.1.to": "personalEmail.address"}  # fmt: skip
        shown = step("mapping", go="preview", **bad)
        assert 'id="map-0-error"' in shown.text and 'id="map-1-error"' in shown.text  # beside their rows
        assert "Schedule" not in re.findall(r"<h2>(.*?)</h2>", step("mapping", **bad).text)
        made = client.post("/ui/dataflows", data={"csrf_token": token, "step": "schedule", **bad,
                                                  "map.0.from": "first", "map.1.from": "lower(email)",
                                                  "schedule.frequency": "fortnightly", "schedule.interval": "0",
                                                  "errorThreshold": "500"})  # fmt: skip
        assert made.status_code == 200 and "<h2>Schedule</h2>" in made.text
        for wrong in ("schedule.frequency", "schedule.interval", "errorThreshold"):  # each beside its input
            assert f'id="e-{wrong}"' in made.text, wrong
        assert names(api, "dataflows") == ["crm-files"]
        made = client.post("/ui/dataflows", data={"csrf_token": token, "step": "schedule", **bad,
                                                  "map.0.from": "first", "map.1.from": "lower(email)",
                                                  "schedule.frequency": "day", "backfill": "on"})  # fmt: skip
        assert made.status_code == 303 and made.headers["location"].startswith("/ui/sources/dataflows/second")
    flow = api.get("/dataflows/second").json()
    assert flow["schedule"]["frequency"] == "day" and flow["source"]["glob"] == "*.csv"
    assert flow["mapping"]["mappings"][1] == {"expression": "lower(email)", "destination": "personalEmail.address"}


@pytest.mark.settings(session_cookie_secure=False)
def test_runs_of_unknown_dataflows_and_unknown_runs_are_pages(api: Api, people: Workspace, tmp_path: Path) -> None:
    seeded(api, tmp_path)
    with signed(api, "dan") as client:
        for path in ("/ui/dataflows/nope/runs", "/ui/dataflows/" + "n" * 3000 + "/runs"):
            refused = client.post(path, data={"csrf_token": csrf(client)})
            assert refused.status_code == 404 and "text/html" in refused.headers["content-type"]
        for path in ("/ui/sources/runs/nope", "/ui/sources/runs/" + "r" * 3000, "/ui/sources/dataflows/nope"):
            answer = client.get(path)
            assert answer.status_code == 404 and "text/html" in answer.headers["content-type"], path
    assert len(api.get("/runs").json()) == 1
