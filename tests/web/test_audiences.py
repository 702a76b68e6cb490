"""The audiences pages: the list with sizes and trends, the builder that checks PQL as one types, an audience's
page, and a segment job run from it; every page walked by the shared checks, and bad input on every action."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from playwright.sync_api import expect

from accord.access import create_role, create_user, grant_role
from accord.workspace import Workspace
from tests.conftest import Api
from tests.web.conftest import PASSWORD, Watched, check_page, sign_in

MAPPING = json.dumps({"mappings": [
    {"source": "email", "destination": "personalEmail.address"},
    {"source": "first", "destination": "person.name.firstName"},
    {"source": "city", "destination": "homeAddress.city"},
]})  # fmt: skip
"""Thirty people: p0, p3, ... p27 live in Paris (ten), the others in Oslo (twenty)."""


def people_csv(first: int, count: int, city: str | None = None) -> bytes:
    rows = "".join(f"p{i}@example.com,P{i},{city or ('Paris' if i % 3 == 0 else 'Oslo')}\n"
                   for i in range(first, first + count))  # fmt: skip
    return f"email,first,city\n{rows}".encode()


def ingest(api: Api, body: bytes) -> None:
    made = api.post("/datasets/shoppers/batches", files={"file": ("people.csv", body)}, data={"mapping": MAPPING})
    assert made.status_code == 201, made.text
    assert api.post("/profiles/rebuild").status_code == 200


@pytest.fixture
def shoppers(api: Api, people: Workspace) -> Workspace:
    """The people of the shared fixture, with profiles: thirty shoppers, then three more Parisians; `parisians`
    was counted by a job before they came (10) and after (13)."""
    assert api.post("/schemas", json={"name": "shoppers", "class": "profile", "fieldGroups": [
        "demographic-details", "personal-contact-details"], "identities": [
        {"path": "personalEmail.address", "namespace": "Email", "primary": True}]}).status_code == 201  # fmt: skip
    assert api.post("/datasets", json={"name": "shoppers", "schema": "shoppers", "profileEnabled": True}
                    ).status_code == 201  # fmt: skip
    ingest(api, people_csv(0, 30))
    assert api.post("/segment/jobs", json={"segments": ["parisians"]}).json()["counts"]["parisians"]["qualified"] == 10
    ingest(api, people_csv(30, 3, "Paris"))
    assert api.post("/segment/jobs", json={"segments": ["parisians"]}).json()["counts"]["parisians"]["qualified"] == 13
    return people


SHOWN = {
    "/ui/audiences": "/ui/audiences",
    "/ui/audiences/new": "/ui/audiences/new",
    "/ui/audiences/{segment_id}": "/ui/audiences/parisians",
    "/ui/audiences/{segment_id}/edit": "/ui/audiences/parisians/edit",
}
"""This area's pages, each with a URL that shows it (an audience's path takes its name as well as its id)."""
FRAGMENTS: dict[str, str] = {}
"""The builder's check (`POST /ui/audiences/check`) is a POST: the journey and the bad-input tests drive it."""


def test_the_audiences_pages_pass_every_check(api: Api, shoppers: Workspace, watched: Watched) -> None:
    assert api.post("/segment/definitions", json={"name": "parisians or oslovians", "expression": {
        "value": 'inSegment("parisians") or homeAddress.city = "Oslo"'}}).status_code == 201  # fmt: skip
    sign_in(watched.page, api.base, "ada")
    for step, url in enumerate(SHOWN.values(), 1):
        check_page(watched, f"{api.base}{url}?sandbox=prod", f"{step}")


def test_a_marketer_builds_an_audience_checked_as_they_type_and_runs_its_job(
    api: Api, shoppers: Workspace, watched: Watched
) -> None:  # fmt: skip
    page = watched.page
    sign_in(page, api.base, "ann")  # a marketer: Manage Segments and View Profiles
    page.get_by_role("link", name="Audiences").click()
    page.wait_for_url(re.compile(r"/ui/audiences\?sandbox=prod$"))
    row = page.locator("tr[data-audience=parisians]")
    assert row.locator("td.size").inner_text() == "13" and row.locator("td.trend .change").inner_text() == "+3"
    assert "10, 13" in (row.locator("svg").get_attribute("aria-label") or "")
    watched.shot("1-list")

    page.get_by_role("link", name="New audience").click()
    page.wait_for_url(re.compile(r"/ui/audiences/new"))
    page.evaluate("() => { window.stillTheSamePage = true; }")  # gone if the page loads again
    watched.shot("2-builder")
    page.get_by_label("Name").fill("oslo regulars")
    page.get_by_label("Description").fill("Shoppers in Oslo, but P1")
    definition = page.get_by_label("Definition (PQL)")
    definition.click()
    definition.press_sequentially('homeAddress.city = "Oslo"')
    definition.press("Enter")
    definition.press_sequentially('  and person.name.frstName != "P1"')
    expect(page.locator("#check-state")).to_contain_text("Not valid: 1 problem")
    problem = page.locator("#problems li").first
    assert problem.locator(".where").inner_text() == "Line 2, column 7"
    assert "person.name.firstName" in problem.inner_text()  # did you mean
    assert problem.locator("pre.caret").inner_text() == '  and person.name.frstName != "P1"\n      ^'
    assert page.evaluate("() => window.stillTheSamePage") is True
    watched.shot("3-typo-placed")

    for _ in range(len('frstName != "P1"')):
        definition.press("ArrowLeft")
    definition.press("ArrowRight")
    definition.press("i")  # frstName -> firstName
    expect(page.locator("#check-state")).to_contain_text("Valid.")
    expect(page.locator("#estimate-count")).to_have_text("19")  # twenty in Oslo, but P1
    sample = page.locator("#sample li")
    assert sample.count() == 10 and sample.first.inner_text().startswith("Email: p")
    assert page.evaluate("() => window.stillTheSamePage") is True
    watched.shot("4-fixed-estimated")

    page.get_by_role("button", name="Save the audience").click()
    page.wait_for_url(re.compile(r"/ui/audiences/[0-9a-f]{24}\?sandbox=prod$"))
    assert page.locator("h1").inner_text() == "Audience oslo regulars"
    assert "not counted yet" in page.locator("#size").inner_text()
    watched.shot("5-saved")

    page.get_by_role("button", name="Run a segment job").click()
    page.wait_for_url(re.compile(r"/ui/operations/"))
    assert page.locator("h1").inner_text() == "Segment job: oslo regulars"
    expect(page.locator("#operation-result")).to_be_visible(timeout=60_000)
    assert "finished" in page.locator("#operation-state").inner_text()
    watched.shot("6-job-done")
    page.locator("#operation-result").click()
    page.wait_for_url(re.compile(r"/ui/audiences/[0-9a-f]{24}\?sandbox=prod$"))
    assert page.locator("#size strong").inner_text() == "19"
    assert page.locator("#jobs tbody tr").count() == 1 and "success" in page.locator("#jobs tbody tr").inner_text()
    assert page.locator("#members li").count() == 10 and "Email: p" in page.locator("#members").inner_text()
    watched.shot("7-size")


def test_an_audience_page_shows_its_compositions_and_its_jobs(api: Api, shoppers: Workspace,
                                                             watched: Watched) -> None:  # fmt: skip
    assert api.post("/segment/definitions", json={"name": "parisians or oslovians", "expression": {
        "value": 'inSegment("parisians") or homeAddress.city = "Oslo"'}}).status_code == 201  # fmt: skip
    page = watched.page
    sign_in(page, api.base, "sam")  # an auditor: sees, changes nothing
    page.goto(f"{api.base}/ui/audiences?sandbox=prod")
    assert page.get_by_role("link", name="New audience").count() == 0
    assert "no job yet" in page.locator("tr[data-audience='parisians or oslovians'] td.size").inner_text()
    page.get_by_role("link", name="parisians", exact=True).click()
    page.wait_for_url(re.compile(r"/ui/audiences/[0-9a-f]{24}"))
    assert page.locator("#referred-by").inner_text() == "parisians or oslovians"
    assert page.get_by_role("button", name="Run a segment job").count() == 0
    assert page.get_by_role("link", name="Edit the audience").count() == 0
    jobs = page.locator("#jobs tbody tr")
    assert jobs.count() == 2 and jobs.first.locator("td").nth(2).inner_text() == "13"
    assert "13" in page.locator("#size").inner_text()
    page.get_by_text("The same figures as a table").click()  # the chart's figures, for those who do not see it
    table = page.locator("details table tbody tr")
    assert [row.locator("td").nth(1).inner_text() for row in table.all()] == ["13", "10"]
    assert page.locator(".chart canvas, .chart .u-wrap").count() >= 1  # uPlot drew it
    watched.shot("1-parisians")
    page.get_by_role("link", name="parisians or oslovians").click()
    assert page.locator("#refers-to").inner_text() == "parisians"
    watched.shot("2-composition")


# -- bad input, through the forms as a browser posts them ------------------------------------------------------


@contextmanager
def signed_in(api: Api, user: str) -> Iterator[httpx.Client]:
    """A browser's session as httpx keeps it: the cookies of the sign-in form."""
    with httpx.Client(base_url=api.base, timeout=60) as client:
        assert client.post("/ui/login", data={"user": user, "password": PASSWORD}).status_code == 303
        yield client


def names(api: Api) -> list[str]:
    return [d["name"] for d in api.get("/segment/definitions").json()]


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_hostile_text_is_shown_escaped_and_never_runs(api: Api, shoppers: Workspace) -> None:
    hostile = '<script>document.title="owned"</script>'
    in_pql = 'homeAddress.city = "<script>alert(1)</script>"'  # valid PQL: a string that is a script
    with signed_in(api, "ann") as client:
        csrf = client.cookies["accord_csrf"]
        refused = client.post("/ui/audiences/new", data={"csrf_token": csrf, "name": hostile, "description": hostile,
                                                         "expression": in_pql})  # fmt: skip
        assert refused.status_code == 200 and hostile not in refused.text and "<script>alert" not in refused.text
        assert 'value="&lt;script&gt;document.title=&#34;owned&#34;&lt;/script&gt;"' in refused.text  # kept, escaped
        assert 'id="e-name"' in refused.text and names(api) == ["parisians"]
        made = client.post("/ui/audiences/new", data={"csrf_token": csrf, "name": "hostile", "description": hostile,
                                                      "expression": in_pql})  # fmt: skip
        assert made.status_code == 303
        for url in ("/ui/audiences", made.headers["location"], made.headers["location"].replace("?", "/edit?")):
            shown = client.get(url)
            assert shown.status_code == 200 and hostile not in shown.text and "<script>alert" not in shown.text, url
            assert "&lt;script&gt;" in shown.text, url
            assert not re.search(r"<script(?![^>]*\bsrc=)", shown.text), url  # no inline script at all
        checked = client.post("/ui/audiences/check", data={"csrf_token": csrf, "expression": hostile})
        assert checked.status_code == 200 and hostile not in checked.text and "&lt;script&gt;" in checked.text
        assert "Line 1, column 1" in checked.text


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_every_action_needs_its_csrf_token(api: Api, shoppers: Workspace) -> None:
    with signed_in(api, "ann") as client:
        fields = {"name": "sneaky", "expression": "true"}
        for url, data in (
            ("/ui/audiences/new", fields),
            ("/ui/audiences/parisians/edit", fields),
            ("/ui/audiences/parisians/jobs", {}),
            ("/ui/audiences/check", {"expression": "true"}),
        ):
            for token in ("", "not-the-token"):
                refused = client.post(url, data={**data, "csrf_token": token})
                assert refused.status_code == 403 and "text/html" in refused.headers["content-type"], url
        assert names(api) == ["parisians"]
        assert client.get("/ui/operations?sandbox=prod").text.count("Segment job") == 0  # none was started
        jobs = client.get("/ui/audiences/parisians?sandbox=prod")
        assert jobs.text.count('class="status-success"') == 2  # the fixture's two, no third


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_an_auditor_sees_no_builder_and_is_refused_it(api: Api, shoppers: Workspace) -> None:
    with signed_in(api, "sam") as client:
        listed = client.get("/ui/audiences")
        assert listed.status_code == 200 and "parisians" in listed.text and "/ui/audiences/new" not in listed.text
        shown = client.get("/ui/audiences/parisians")
        assert shown.status_code == 200 and "Run a segment job" not in shown.text and "/edit" not in shown.text
        assert "Email: p" in shown.text  # an auditor may see profiles
        for url in ("/ui/audiences/new", "/ui/audiences/parisians/edit"):
            refused = client.get(url)
            assert refused.status_code == 403 and "Manage Segments" in refused.text, url
        csrf = client.cookies["accord_csrf"]
        fields = {"csrf_token": csrf, "name": "sneaky", "expression": "true"}
        for url, data in (
            ("/ui/audiences/new", fields),
            ("/ui/audiences/parisians/edit", fields),
            ("/ui/audiences/parisians/jobs", {"csrf_token": csrf}),
        ):
            refused = client.post(url, data=data)
            assert refused.status_code == 403 and "Manage Segments" in refused.text, url
        checked = client.post("/ui/audiences/check", data={"csrf_token": csrf, "expression": "true"})
        assert checked.status_code == 200 and "Valid." in checked.text  # View Segments: the API's validate too
    assert names(api) == ["parisians"]
    assert api.get("/segment/definitions/parisians").json()["expression"]["value"] == 'homeAddress.city = "Paris"'
    with signed_in(api, "dan") as client:  # a data engineer holds Manage Segments
        assert "/ui/audiences/new" in client.get("/ui/audiences").text
        assert client.get("/ui/audiences/new").status_code == 200


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_members_are_named_by_identity_only_for_those_who_may_see_profiles(api: Api, shoppers: Workspace) -> None:
    create_role(shoppers.catalog, "audience reader", ["View Segments"])
    create_user(shoppers.catalog, "rae", email="rae@example.com", password=PASSWORD)
    grant_role(shoppers.catalog, "audience reader", "rae", "prod")
    with signed_in(api, "rae") as client:
        shown = client.get("/ui/audiences/parisians")
        assert shown.status_code == 200 and "Email:" not in shown.text and "example.com" not in shown.text
        assert "their identities need View Profiles" in shown.text
        checked = client.post("/ui/audiences/check", data={"csrf_token": client.cookies["accord_csrf"],
                                                           "expression": 'homeAddress.city = "Paris"'})  # fmt: skip
        assert "13" in checked.text and "example.com" not in checked.text


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_bad_and_oversized_fields_answer_with_the_form_saying_what_is_wrong(api: Api, shoppers: Workspace) -> None:
    with signed_in(api, "ann") as client:
        csrf = client.cookies["accord_csrf"]

        def create(**fields: str) -> httpx.Response:
            return client.post("/ui/audiences/new", data={"csrf_token": csrf, **fields})

        huge = create(name="huge", expression='homeAddress.city = "' + "x" * 100_000 + '"')
        assert huge.status_code == 200 and "at most 20000 characters" in huge.text
        assert "text/html" in huge.headers["content-type"]
        checked = client.post("/ui/audiences/check", data={"csrf_token": csrf, "expression": "y" * 100_000})
        assert checked.status_code == 200 and "at most 20000 characters" in checked.text
        long_name = create(name="n" * 300, expression="true")
        assert long_name.status_code == 200 and 'id="e-name"' in long_name.text
        taken = create(name="parisians", expression="true")
        assert taken.status_code == 200 and "already exists" in taken.text and 'id="e-name"' in taken.text
        empty = create(name="empty", expression="")
        assert empty.status_code == 200 and 'id="form-error"' in empty.text
        typo = create(name="typo", expression='homeAddress.city = "Paris" and\nhomeAddress.cty = "x"')
        assert typo.status_code == 200 and "Line 2, column 1" in typo.text and "homeAddress.cty" in typo.text
        assert "homeAddress.cty = &#34;x&#34;</textarea>" in typo.text  # what was typed is kept, escaped
        streaming = create(name="slow", expression="xEvent.count() > 0", streaming="on")
        assert streaming.status_code == 200 and "cannot stream" in streaming.text
        assert names(api) == ["parisians"]  # nothing half-made
        edited = client.post("/ui/audiences/parisians/edit", data={"csrf_token": csrf, "name": "parisians",
                                                                   "expression": 'inSegment("parisians")'})  # fmt: skip
        assert edited.status_code == 200 and "cannot refer to itself" in edited.text
        assert api.get("/segment/definitions/parisians").json()["expression"]["value"] == 'homeAddress.city = "Paris"'
        for url in ("/ui/audiences/" + "z" * 5000, "/ui/audiences/nobody", "/ui/audiences/nobody/edit"):
            missing = client.get(url)
            assert missing.status_code == 404 and "text/html" in missing.headers["content-type"], url
        assert client.post("/ui/audiences/nobody/jobs", data={"csrf_token": csrf}).status_code == 404
        for page in ("abc", "0", "-1", "9" * 50, "99"):
            listed = client.get("/ui/audiences", params={"page": page})
            assert listed.status_code == 200 and "parisians" in listed.text, page
        assert "There is no page" in client.get("/ui/audiences", params={"page": "abc"}).text
