"""The web workspace's tests drive Debian's Chromium (`/usr/bin/chromium`, installed by `make test-servers`)
through Playwright, against the API's real server on 127.0.0.1. Each page a test opens is watched: a console
error or a failed request fails the test, and each journey leaves screenshots in test-results/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
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
