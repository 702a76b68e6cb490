"""The web workspace (`/ui`): server-rendered pages over the same service functions as the API and the CLI.

A person signs in with a password (`accord.access.sign_in`: sessions, lock-out, the per-address bound) and
works through a session cookie; every form that changes something carries the session's CSRF token, which
the page reads from the readable CSRF cookie that sign-in set. Pages are Jinja2 templates with autoescape on;
scripts come only from `/ui/static` (htmx and the chart library, vendored: see static/VENDORED.md), and every
answer carries a Content-Security-Policy that allows no inline script or style. What each page and action
needs is declared in `accord.access.PAGES`; a page shows only what its caller may see.

One module per area of the workspace, each with its router: `home` (sign-in, the sandbox at a glance),
`sources`, `data`, `profiles`, `audiences`, `destinations`, `campaign`, `governance`, and `operations` (the
long ones started from a page, which can be left and come back to). `pages` holds what they share."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from accord.web.pages import HERE, SECURITY_HEADERS

__all__ = ["SECURITY_HEADERS", "mount"]


class _Static(StaticFiles):
    """The workspace's scripts and styles, with every page's headers; kept by the browser for ten minutes (each
    page would otherwise ask for them again), then checked again."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        answer = await super().get_response(path, scope)
        answer.headers.update(SECURITY_HEADERS | {"Cache-Control": "max-age=600"})
        return answer


AREAS = ("home", "sources", "data", "profiles", "audiences", "destinations", "campaign", "governance", "operations")


def mount(app: FastAPI) -> None:
    """The workspace's pages, its static files, and the runner of its long operations, on the API's app."""
    import importlib

    from accord.web.operations import Operations
    from accord.web.pages import install_error_pages

    for area in AREAS:
        app.include_router(importlib.import_module(f"accord.web.{area}").router)
    app.mount("/ui/static", _Static(directory=HERE / "static"), name="ui-static")
    app.state.operations = Operations()
    install_error_pages(app)
