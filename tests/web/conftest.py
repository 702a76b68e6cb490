"""The web workspace's tests drive Debian's Chromium (`/usr/bin/chromium`, installed by `make test-servers`)
through Playwright, against the API's real server on 127.0.0.1. Each page a test opens is watched: a console
error or a failed request fails the test, and each journey leaves screenshots in test-results/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accord.access import create_user, grant_role
from accord.workspace import Workspace
from tests.conftest import Api, setup_crm

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PASSWORD = "correct horse battery"
WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
RESULTS = Path(__file__).parents[2] / "test-results"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
"""This machine's closed network refuses Chromium's own connections: it is told to make none."""


@pytest.fixture
def browser() -> Iterator[Any]:
    """Chromium for one test, stopped at its end: Playwright's synchronous API runs an event loop in the
    test's thread while it lives, which would refuse the `asyncio.run` of the tests that come after."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test-servers` (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield launched
        launched.close()


class Watched:
    """A page and what went wrong on it: console errors, failed requests, answers of 500 or more."""

    def __init__(self, page: Any, name: str) -> None:
        self.page, self.name, self.problems = page, name, []
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        page.on("response", lambda r: self.problems.append(f"{r.status}: {r.url}") if r.status >= 500 else None)

    def shot(self, step: str) -> None:
        RESULTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(RESULTS / f"{self.name}-{step}.png"), full_page=True)


@pytest.fixture
def watched(browser: Any, request: pytest.FixtureRequest) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = Watched(page, request.node.name)
    yield seen
    context.close()
    assert not seen.problems, seen.problems


@pytest.fixture
def people(api: Api, settings: Any) -> Iterator[Workspace]:
    """A home with the crm dataset and one audience, and a person for each built-in role (password
    `PASSWORD`): ada is an admin in every sandbox, dan a data engineer, ann a marketer and sam an auditor, in
    prod."""
    setup_crm(api)
    assert api.post("/segment/definitions", json={"name": "parisians", "expression": {
        "type": "PQL", "value": 'homeAddress.city = "Paris"'}}).status_code == 201  # fmt: skip
    ws = Workspace.open(settings)
    for user, role, sandbox in (("ada", "admin", None), ("dan", "data engineer", "prod"), ("ann", "marketer", "prod"),
                                ("sam", "auditor", "prod")):  # fmt: skip
        create_user(ws.catalog, user, email=f"{user}@example.com", password=PASSWORD)
        grant_role(ws.catalog, role, user, sandbox)
    yield ws
    ws.close()


def sign_in(page: Any, base: str, user: str) -> None:
    """Sign in through the form, as a person does; the home page follows."""
    page.goto(f"{base}/ui/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/ui")


def accessibility_problems(page: Any) -> list[str]:
    """What axe-core (vendored, run in the page) finds serious or critical on the page as it stands."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found = page.evaluate("""async () => {
        const result = await window.axe.run(document, {resultTypes: ["violations"]});
        return result.violations.filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
    }""")
    return [json.dumps(v) for v in found]


def check_page(watched: Watched, url: str, step: str) -> None:
    """A page as every page must be: it loads with no error, axe finds nothing serious or critical, and at 390
    pixels nothing is wider than the screen (a table scrolls inside its own box). Screenshots at both widths."""
    page = watched.page
    page.set_viewport_size(WIDE)
    answer = page.goto(url)
    assert answer is not None and answer.status == 200, (url, answer and answer.status)
    assert not watched.problems, (url, watched.problems)
    problems = accessibility_problems(page)
    assert not problems, (url, problems)
    watched.shot(f"{step}-1280")
    page.set_viewport_size(NARROW)
    page.reload()
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, (url, f"{overflow} pixels wider than a 390-pixel screen")
    problems = accessibility_problems(page)
    assert not problems, (url, "at 390 pixels", problems)
    watched.shot(f"{step}-390")
    page.set_viewport_size(WIDE)
