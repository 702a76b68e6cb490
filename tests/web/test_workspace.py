"""The web workspace's first pages: sign-in, the home page, sign-out; what every page's answer carries; and
that every `/ui` route declares what it needs."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from accord.access import PAGES, Open, create_role, create_user, grant_role, permissions_needed
from accord.access.requirements import changes_nothing
from accord.api import create_app
from accord.web import SECURITY_HEADERS
from accord.workspace import Workspace
from tests.api.test_api import served_routes
from tests.conftest import Api
from tests.web.conftest import PASSWORD, Watched, check_page, sign_in


def test_a_person_signs_in_sees_their_sandbox_and_signs_out(api: Api, people: Workspace, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{api.base}/ui")
    assert page.url.endswith("/ui/login")  # not signed in: the sign-in form
    watched.shot("1-sign-in")
    page.get_by_label("User name").fill("ann")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    assert "wrong" in page.locator("#sign-in-error").inner_text()
    assert page.get_by_label("User name").input_value() == "ann"  # kept; the password is not
    watched.shot("2-refused")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{api.base}/ui")
    assert page.locator("#user-name").inner_text() == "ann" and page.locator("#sandbox").inner_text() == "prod"
    assert "parisians" in page.locator("section", has_text="Audiences").inner_text()
    assert "crm" in page.locator("section", has_text="Datasets").inner_text()
    watched.shot("3-home")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{api.base}/ui/login")
    page.goto(f"{api.base}/ui")
    assert page.url.endswith("/ui/login")  # the session ended


def test_a_page_shows_only_what_its_caller_may_see(api: Api, people: Workspace, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{api.base}/ui/login")
    page.get_by_label("User name").fill("sam")  # an auditor: datasets and audiences, no dataflow runs
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{api.base}/ui")
    sections = page.locator("section h2").all_inner_texts()
    assert "Datasets" in sections and "Dataflow runs" in sections and "Profiles" in sections
    page.goto(f"{api.base}/ui?sandbox=dev")
    assert "Refused" in page.locator("h1").inner_text()  # no role in dev
    watched.problems.clear()  # the refusal is answered 403 on purpose


@pytest.mark.settings(
    session_cookie_secure=False
)  # httpx sends Secure cookies over https only (Chromium: to 127.0.0.1)
def test_every_page_carries_its_security_headers_and_escapes_what_it_shows(api: Api, people: Workspace) -> None:
    hostile = '<script>document.title="owned"</script>'
    assert api.post("/segment/definitions", json={"name": "x-script", "description": hostile, "expression": {
        "type": "PQL", "value": "true"}}).status_code == 201  # fmt: skip
    with httpx.Client(base_url=api.base, timeout=30) as client:
        login = client.get("/ui/login")
        assert login.status_code == 200
        signed = client.post("/ui/login", data={"user": "ann", "password": PASSWORD})
        assert signed.status_code == 303 and signed.headers["location"] == "/ui"
        home = client.get("/ui")
        for answer in (login, signed, home):
            for name, value in SECURITY_HEADERS.items():
                assert answer.headers[name] == value, (answer.url, name)
        assert hostile not in home.text and "&lt;script&gt;" in home.text
        assert "script-src 'self'" in home.headers["Content-Security-Policy"]
        assert not re.search(r"<script(?![^>]*\bsrc=)", home.text)  # no inline script at all
        refused = client.post("/ui/logout", data={})  # no CSRF token: refused, still signed in
        assert refused.status_code == 403 and client.get("/ui").status_code == 200
        assert client.post("/ui/logout", data={"csrf_token": client.cookies["accord_csrf"]}).status_code == 303
        assert client.get("/ui").headers.get("location") == "/ui/login"


def test_bad_sign_ins_are_said_on_the_form_and_never_crash(api: Api, people: Workspace) -> None:
    with httpx.Client(base_url=api.base, timeout=30) as client:
        empty = client.post("/ui/login", data={})
        assert empty.status_code == 200 and "Give your user name and password" in empty.text
        too_big = client.post("/ui/login", data={"user": "a" * 20_000, "password": "x"})
        assert too_big.status_code == 413  # past the bound of a sign-in, refused before it is read
        assert too_big.headers["content-type"].startswith("text/html")  # as a page, not the API's JSON
        accented = client.post("/ui/login", data={"user": "ann", "password": "é" * 1024})  # the longest, encoded
        assert accented.status_code == 200 and "wrong" in accented.text  # read, and refused as a wrong password
        long = client.post("/ui/login", data={"user": "a" * 100, "password": "x"})
        assert long.status_code == 200 and "wrong" in long.text and 'name="password"' in long.text
        unknown = client.post("/ui/login", data={"user": "nobody", "password": "whatever it is"})
        assert unknown.status_code == 200 and "wrong" in unknown.text and "accord_session" not in unknown.headers.get(
            "set-cookie", "")  # fmt: skip


def test_every_ui_route_declares_what_it_needs(settings: Any, api: Api) -> None:
    app = create_app(settings)
    served = {(method, route.path) for route in served_routes(app.routes) if route.path.startswith("/ui")
              for method in route.methods - {"HEAD"}}  # fmt: skip
    served |= {("GET", f"{route.path}/{{name}}") for route in app.routes if getattr(route, "path", "") == "/ui/static"}
    assert served == set(PAGES), served ^ set(PAGES)
    app.state.workspace.close()


def test_the_sources_catalog_narrows_as_one_types(api: Api, people: Workspace, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{api.base}/ui/login")
    page.get_by_label("User name").fill("dan")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{api.base}/ui")
    page.get_by_role("link", name="Sources").click()
    page.wait_for_url(re.compile(r"/ui/sources"))
    total = page.locator(".card-item").count()
    assert total >= 5 and page.locator("#card-count").inner_text() == f"{total} of {total} connectors"
    watched.shot("1-catalog")
    page.get_by_label("Search the catalog").fill("blob")  # htmx asks for the cards as one types
    expect(page.locator(".card-item")).to_have_count(1)
    assert page.locator(".card-item").inner_text().startswith("Azure Blob Storage")
    assert page.url.endswith("/ui/sources?sandbox=prod")  # no page load: only the cards changed
    watched.shot("2-searched")
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_label("Search the catalog").fill("zzz-nothing")
    expect(page.locator(".card-item")).to_have_count(0)
    assert "No connector matches" in page.locator("#cards").inner_text()
    watched.shot("3-narrow")


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_a_page_a_person_may_not_see_is_neither_linked_nor_served(api: Api, people: Workspace) -> None:
    with httpx.Client(base_url=api.base, timeout=30) as client:  # ann is a marketer: no View Sources
        assert client.post("/ui/login", data={"user": "ann", "password": PASSWORD}).status_code == 303
        home = client.get("/ui")
        assert home.status_code == 200 and "/ui/sources" not in home.text
        refused = client.get("/ui/sources/cards", params={"q": "s3"})
        assert refused.status_code == 403 and "View Sources" in refused.text and "Amazon S3" not in refused.text


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_a_search_of_any_length_answers_with_a_page(api: Api, people: Workspace) -> None:
    with httpx.Client(base_url=api.base, timeout=30) as client:
        assert client.post("/ui/login", data={"user": "dan", "password": PASSWORD}).status_code == 303
        for q in ("s3", "x" * 5000, "<b>", "%00"):
            answer = client.get("/ui/sources/cards", params={"q": q})
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html"), q
        assert "Amazon S3" in client.get("/ui/sources/cards", params={"q": "s3"}).text
        assert "&lt;b&gt;" in client.get("/ui/sources/cards", params={"q": "<b>"}).text


def test_the_home_page_shows_what_is_failing_and_the_profiles(api: Api, people: Workspace, watched: Watched,
                                                              tmp_path: Any) -> None:  # fmt: skip
    assert api.post("/connections", json={"name": "gone", "connector": "local",
                                          "config": {"root": str(tmp_path / "nope")}}).status_code == 201  # fmt: skip
    assert api.post("/dataflows", json={"name": "crm-files", "connection": "gone", "dataset": "crm", "source": {
        "glob": "*.csv"}, "mapping": {"mappings": [{"source": "id", "destination": "person.name.firstName"}]}}
    ).status_code == 201  # fmt: skip
    assert api.post("/dataflows/crm-files/runs").json()["status"] == "failed"
    (tmp_path / "inbox").mkdir()
    people_csv = "first,email,city\nAnn,ann@example.com,Paris\nBob,bob@example.com,Oslo\n"
    (tmp_path / "inbox" / "people.csv").write_text(people_csv)
    assert api.post("/connections", json={"name": "inbox", "connector": "local",
                                          "config": {"root": str(tmp_path / "inbox")}}).status_code == 201  # fmt: skip
    assert api.post("/schemas", json={"name": "contacts", "class": "profile", "fieldGroups": [
        "demographic-details", "personal-contact-details"], "identities": [
            {"path": "personalEmail.address", "namespace": "Email"}]}).status_code == 201  # fmt: skip
    assert api.post("/datasets", json={"name": "contacts", "schema": "contacts", "profileEnabled": True}
                    ).status_code == 201  # fmt: skip
    assert api.post("/dataflows", json={"name": "people", "connection": "inbox", "dataset": "contacts", "source": {
        "glob": "*.csv"}, "mapping": {"mappings": [{"source": "first", "destination": "person.name.firstName"},
                                                   {"source": "email", "destination": "personalEmail.address"},
                                                   {"source": "city", "destination": "homeAddress.city"}]}}
    ).status_code == 201  # fmt: skip
    assert api.post("/dataflows/people/runs").json()["status"] == "success"
    assert api.post("/identity/graph/build").status_code == 200
    assert api.post("/profiles/rebuild").status_code == 200
    assert api.post("/segment/definitions", json={"name": "oslo", "expression": {
        "type": "PQL", "value": 'homeAddress.city = "Oslo"'}}).status_code == 201  # fmt: skip
    assert api.post("/segment/jobs", json={"segments": ["parisians"]}).status_code == 201  # oslo not evaluated
    sign_in(watched.page, api.base, "dan")  # a data engineer: dataflows, profiles, activations, alerts
    page = watched.page
    failing = page.locator("#failing-dataflows").inner_text()
    assert "crm-files" in failing and "does not exist" in failing
    counts = page.locator("section", has_text="Dataflow runs").locator("ul.steps").inner_text()
    assert "failed: 1" in counts and "success: 1" in counts
    assert page.locator("#profile-count").inner_text() == "2"
    sizes = {row.locator("td").nth(0).inner_text(): row.locator("td").nth(1).inner_text()
             for row in page.locator("#audience-sizes tbody tr").all()}  # fmt: skip
    assert sizes == {"parisians": "1", "oslo": "not evaluated yet"}
    assert "No activation runs in the last 24 hours" in page.locator("section", has_text="Activation runs").inner_text()
    watched.shot("home")


SHOWN = {
    "/ui": "/ui",
    "/ui/sources": "/ui/sources",
    "/ui/operations": "/ui/operations",
}
"""This module's pages, each with a URL that shows it (checked by `test_the_workspace_pages_pass_every_check`)."""
FRAGMENTS = {
    "/ui/sources/cards": "the catalog's cards, swapped into /ui/sources",
    "/ui/operations/{operation_id}": "an operation: checked where a journey starts one",
    "/ui/operations/{operation_id}/state": "an operation's state, swapped into its page every second",
    "/ui/login": "the sign-in form: checked by test_the_sign_in_form_passes_every_check",
    "/ui/static/{name}": "the workspace's scripts and styles",
}
"""GET routes that are not a page of their own, or are checked by a journey, with where."""


def test_every_page_is_walked_by_a_check() -> None:
    """Every GET page in PAGES is either walked by an area's `SHOWN` (every check: no error, axe, 390 pixels)
    or declared as a fragment or checked page with where it is checked."""
    import importlib
    import pkgutil

    import tests.web

    shown: set[str] = set()
    fragments: set[str] = set()
    for module in pkgutil.iter_modules(tests.web.__path__):
        if module.name.startswith("test_"):
            found = importlib.import_module(f"tests.web.{module.name}")
            shown |= set(getattr(found, "SHOWN", {}))
            fragments |= set(getattr(found, "FRAGMENTS", {}))
    pages = {path for method, path in PAGES if method == "GET"}
    assert pages == shown | fragments, {
        "not walked": pages - shown - fragments,
        "not pages": (shown | fragments) - pages,
    }


def test_the_sign_in_form_passes_every_check(api: Api, watched: Watched) -> None:
    check_page(watched, f"{api.base}/ui/login", "sign-in")


def test_the_workspace_pages_pass_every_check(api: Api, people: Workspace, watched: Watched) -> None:
    sign_in(watched.page, api.base, "ada")
    for step, url in enumerate(SHOWN.values(), 1):
        check_page(watched, f"{api.base}{url}", str(step))


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_what_fastapi_refuses_under_ui_is_answered_with_a_page(api: Api, people: Workspace) -> None:
    with httpx.Client(base_url=api.base, timeout=30) as client:
        assert client.post("/ui/login", data={"user": "ada", "password": PASSWORD}).status_code == 303
        unknown = client.get("/ui/no-such-page")
        assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("text/html")
        assert "No such page" in unknown.text and unknown.headers["Content-Security-Policy"]
        long_token = client.post("/ui/logout", data={"csrf_token": "x" * 300})  # Form(max_length=256)
        assert long_token.status_code == 400 and long_token.headers["content-type"].startswith("text/html")
        assert "csrf_token" in long_token.text and "256" in long_token.text
        assert client.get("/ui").status_code == 200  # still signed in: nothing was done
        api_answer = client.get("/no-such-route")
        assert api_answer.status_code == 404 and api_answer.json()["code"] == "ACCORD-0404-404"  # the API's JSON


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_a_form_refused_on_its_page_is_logged_as_failed_with_the_fields_it_set(api: Api, people: Workspace) -> None:
    with httpx.Client(base_url=api.base, timeout=30) as client:
        assert client.post("/ui/login", data={"user": "ada", "password": PASSWORD}).status_code == 303
        form = {"csrf_token": client.cookies["accord_csrf"], "symbol": "bad symbol!", "name": "x", "type": "cookie"}
        refused = client.post("/ui/namespaces", params={"sandbox": "prod"}, data=form)
        assert refused.status_code == 200 and 'role="alert"' in refused.text  # shown again, with why
        made = client.post("/ui/namespaces", params={"sandbox": "prod"}, data=form | {"symbol": "Loyalty_X"})
        assert made.status_code == 303
    entries = api.get("/audit", params={"object": "namespaces"}).json()["items"]
    outcomes = [(e["action"], e["outcome"], e["changes"]) for e in entries if e["user"] == "ada"]
    fields = {"fields": ["name", "symbol", "type"]}  # never the CSRF token, never a value
    assert sorted(outcomes, key=lambda o: o[1]) == [("POST /ui/namespaces", "failed", fields),
                                                    ("POST /ui/namespaces", "success", fields)]  # fmt: skip


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_a_form_sent_with_an_ended_session_or_too_large_is_answered_with_a_page(api: Api, people: Workspace) -> None:
    with httpx.Client(base_url=api.base, timeout=30) as client:
        assert client.post("/ui/login", data={"user": "ada", "password": PASSWORD}).status_code == 303
        csrf = client.cookies["accord_csrf"]
        client.cookies.set("accord_session", "an-ended-or-forged-session")
        ended = client.post("/ui/namespaces", data={"csrf_token": csrf, "symbol": "X1", "name": "x", "type": "cookie"})
        assert ended.status_code == 303 and ended.headers["location"] == "/ui/login"  # the sign-in form, not JSON
        assert client.get("/ui").headers.get("location") == "/ui/login"
    with httpx.Client(base_url=api.base, timeout=30) as client:
        assert client.post("/ui/login", data={"user": "ada", "password": PASSWORD}).status_code == 303
        huge = client.post("/ui/namespaces", data={"csrf_token": client.cookies["accord_csrf"], "symbol": "X2",
                                                   "description": "x" * 11_000_000})  # fmt: skip
        assert huge.status_code == 413 and huge.headers["content-type"].startswith("text/html")
        assert "larger than" in huge.text and huge.headers["Content-Security-Policy"]
    namespaces = {n["symbol"] for n in api.get("/namespaces").json()}
    assert not {"X1", "X2"} & namespaces  # neither was made


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_forms_that_change_nothing_are_not_logged(api: Api, people: Workspace) -> None:
    """The audience builder's check as one types reads; a wizard's Next changes nothing: neither is a change."""
    with httpx.Client(base_url=api.base, timeout=30) as client:
        assert client.post("/ui/login", data={"user": "ada", "password": PASSWORD}).status_code == 303
        csrf = client.cookies["accord_csrf"]
        for text in ('homeAddress.city = "Paris"', "homeAddress.citty = 1"):
            assert client.post("/ui/audiences/check", data={"csrf_token": csrf, "expression": text}).status_code == 200
        step = client.post("/ui/sources/new-dataflow", data={"csrf_token": csrf, "step": "connection", "go": "next"})
        assert step.status_code == 200
        made = client.post(
            "/ui/namespaces", data={"csrf_token": csrf, "symbol": "Seen_1", "name": "x", "type": "cookie"}
        )
        assert made.status_code == 303
    actions = [e["action"] for e in api.get("/audit").json()["items"] if e["user"] == "ada"]
    assert actions == ["POST /ui/namespaces"], actions  # the one change, and only it


FORMS = sorted(path for (method, path), needed in PAGES.items() if method == "POST" and not isinstance(needed, Open))
"""Every form of the workspace that needs a permission (all but signing in and out)."""


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


@pytest.mark.settings(session_cookie_secure=False)  # httpx sends Secure cookies over https only
def test_every_form_is_refused_without_its_csrf_token_and_without_its_permission(api: Api, people: Workspace) -> None:
    create_role(people.catalog, "log reader", ["View User Activity Log"])  # holds nothing any form needs
    create_user(people.catalog, "lou", email="lou@example.com", password=PASSWORD)
    grant_role(people.catalog, "log reader", "lou", None)
    with httpx.Client(base_url=api.base, timeout=30) as ada, httpx.Client(base_url=api.base, timeout=30) as lou:
        for client, user in ((ada, "ada"), (lou, "lou")):
            assert client.post("/ui/login", data={"user": user, "password": PASSWORD}).status_code == 303
        for path in FORMS:
            unsigned = ada.post(_concrete(path), data={"name": "x"})  # an admin, without the CSRF token
            assert unsigned.status_code == 403 and "CSRF" in unsigned.text, (path, unsigned.status_code)
            lacking = lou.post(_concrete(path), data={"csrf_token": lou.cookies["accord_csrf"], "name": "x"})
            needed = permissions_needed(PAGES[("POST", path)])
            assert lacking.status_code == 403, (path, lacking.status_code)
            assert any(p.value in lacking.text for p in needed), (path, lacking.text[:300])
    denied = [e for e in api.get("/audit", params={"user": "lou"}).json()["items"] if e["action"].startswith("POST")]
    changing = [p for p in FORMS if not changes_nothing(PAGES[("POST", p)])]  # a check that reads is not logged
    assert len(denied) == len(changing) and {e["outcome"] for e in denied} == {"denied"}  # each refusal logged


def test_every_shown_url_is_the_page_it_stands_for(settings: Any, api: Api) -> None:
    """An area's `SHOWN` names a page by its route; the URL it walks must be that route's, or the page that
    the walk claims to check was never loaded."""
    import importlib
    import pkgutil

    from starlette.routing import Match

    import tests.web

    app = create_app(settings)
    for module in pkgutil.iter_modules(tests.web.__path__):
        if not module.name.startswith("test_"):
            continue
        for route_path, url in getattr(importlib.import_module(f"tests.web.{module.name}"), "SHOWN", {}).items():
            scope = {"type": "http", "method": "GET", "path": url.split("?")[0].replace("{run}", "x")}
            matched = [r.path for r in served_routes(app.routes) if r.matches(scope)[0] == Match.FULL]
            assert matched[:1] == [route_path], (module.name, url, matched)
    app.state.workspace.close()
    app.state.campaign.close()


def test_the_workspaces_own_files_carry_its_headers_and_an_unknown_one_is_a_page(api: Api) -> None:
    with httpx.Client(base_url=api.base, timeout=30) as client:
        for name in ("htmx.min.js", "uPlot.iife.min.js", "charts.js", "accord.css"):
            answer = client.get(f"/ui/static/{name}")
            assert answer.status_code == 200, name
            assert answer.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            assert answer.headers["Cache-Control"] == "max-age=600"
        unknown = client.get("/ui/static/nope.js")
        assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("text/html")
        assert unknown.headers["X-Content-Type-Options"] == "nosniff"
