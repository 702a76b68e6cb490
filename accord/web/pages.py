"""What every page of the workspace shares: the templates, the headers, who is signed in, the check of what a
page or an action needs (`accord.access.PAGES`), and the answers a page gives instead of itself (the sign-in
form, a refusal, a form shown again with what was wrong).

A page route is `entered(request, sandbox)` then a service call then `Entered.render(...)`; an action route
(a form's POST) is `acted(request, sandbox, csrf_token)` then the service call, then a redirect to the page
that shows the result (post, redirect, get), or the form again with the error where it happened."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.access import PAGES, Permission, Principal, authorize_sandbox, require
from accord.access.sessions import CSRF_COOKIE, SESSION_COOKIE, check_csrf, session_principal
from accord.errors import AccordError, NotFoundError, PermissionDeniedError, known_failure, validation_problems
from accord.workspace import Workspace

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Every page's headers: no inline script or style, nothing from elsewhere, never framed, never cached."""

REFUSAL_VALUES = ("error", "errors", "ttl_error", "row_errors")
"""What a page shows when it shows a form again because the change was refused."""

STATUS_OF = {"forbidden": 403, "not_found": 404, "conflict": 409, "unauthenticated": 401, "too_large": 413, "busy": 429}
"""A refusal page's status by the error's kind (anything else that reaches a page is the caller's mistake)."""

templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
templates.filters["thousands"] = lambda n: "" if n is None else f"{n:,}"


def page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**values), status_code=status, headers=SECURITY_HEADERS)


def redirect(path: str, **query: Any) -> RedirectResponse:
    """A 303 to one of the workspace's own pages (never to a place the request named)."""
    shown = {k: v for k, v in query.items() if v is not None}
    return RedirectResponse(f"{path}?{urlencode(shown)}" if shown else path, status_code=303,
                            headers=SECURITY_HEADERS)  # fmt: skip


CSRF_REFUSED = "ACCESS-0443-403"
"""The code of a change refused for want of its session's CSRF token (the API's words speak of a header)."""


def refusal(exc: AccordError) -> HTMLResponse:
    """The page said instead of the one asked for: why, with the status of the error's kind."""
    if exc.code == CSRF_REFUSED:
        return page("error.html", 403, title="Refused", code=exc.code,
                    message="This form came without its CSRF token, the proof that it was sent from this workspace "
                            "(an old page, or another site): go back, reload the page and try again.")  # fmt: skip
    return page("error.html", STATUS_OF.get(exc.kind, 400), title="Refused" if exc.kind == "forbidden" else "Not done",
                message=exc.message, code=exc.code)  # fmt: skip


def caller_of(request: Request) -> Principal | None:
    """The person signed in (their session checked, its last use kept), or None."""
    if isinstance(found := getattr(request.state, "caller", None), Principal):  # a form: the gate checked it
        return found
    ws: Workspace = request.app.state.workspace
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    try:
        caller = session_principal(ws.catalog, secret, idle_minutes=ws.settings.session_idle_minutes)
    except AccordError:
        return None
    request.state.caller = caller  # the activity log names who acted
    return caller


def to_login() -> RedirectResponse:
    return RedirectResponse("/ui/login", status_code=303, headers=SECURITY_HEADERS)


@dataclass(frozen=True)
class Entered:
    """A person in a sandbox, once a page's or an action's requirement was checked."""

    request: Request
    caller: Principal
    sandbox: str

    @property
    def workspace(self) -> Workspace:
        workspace: Workspace = self.request.app.state.workspace
        return workspace

    @property
    def held(self) -> set[str]:
        """The permissions a page's links and buttons are shown for (the server refuses the rest regardless)."""
        return {p.value for p in self.caller.permissions_in(self.sandbox)}

    def nothing_changed(self) -> None:
        """Say that this POST changed nothing (a wizard's Next, Back or Add a row): the activity log leaves it out,
        as it leaves out reads."""
        self.request.state.unchanged = True

    def holds(self, permission: Permission) -> bool:
        return permission in self.caller.permissions_in(self.sandbox)

    def render(self, template: str, title: str, status: int = 200, **values: Any) -> HTMLResponse:
        """A page with what the header and every form need: who, where, what they hold, the CSRF token.

        A form shown again with its errors (an `error`, `errors`, `ttl_error` or `row_errors` value) after a POST
        is logged as a failed change, though it answers 200 (the browser shows it as the page it is)."""
        if self.request.method == "POST" and any(values.get(k) for k in REFUSAL_VALUES):
            self.request.state.refused = True
        return page(template, status, title=title, caller=self.caller, sandbox=self.sandbox, held=self.held,
                    csrf=self.request.cookies.get(CSRF_COOKIE, ""), **values)  # fmt: skip


def entered(request: Request, sandbox: str | None) -> Entered | Response:
    """The person and the sandbox a page works in, once checked against what `PAGES` declares for its route;
    else the answer to give instead: the sign-in form, or the refusal."""
    caller = caller_of(request)
    if caller is None:
        return to_login()
    ws: Workspace = request.app.state.workspace
    try:
        where = authorize_sandbox(caller, sandbox, ws.settings.sandbox)
        needed = PAGES.get((request.method, request.scope["route"].path_format))
        if needed is None:
            raise PermissionDeniedError("this page declares no permission in accord/access/requirements.py (PAGES): "
                                        "refused to everyone", code="ACCESS-0406-403")  # fmt: skip
        require(caller, needed, where)
    except AccordError as exc:
        return refusal(exc)
    request.state.sandbox = where  # the activity log's sandbox
    return Entered(request, caller, where)


def acted(request: Request, sandbox: str | None, csrf_token: str) -> Entered | Response:
    """`entered` for a form that changes something: it must also carry the session's CSRF token."""
    found = entered(request, sandbox)
    if isinstance(found, Entered):
        try:
            check_csrf(found.caller, csrf_token)
        except AccordError as exc:
            return refusal(exc)
    return found


def install_error_pages(app: FastAPI) -> None:
    """Errors under `/ui` answered as pages, as the API answers its own as JSON: a parameter FastAPI refused
    (too long, wrongly typed), an unknown page, an AccordError a route let through, an internal error (logged,
    never shown). The API's handlers answer every other path as before."""
    for kind in (RequestValidationError, StarletteHTTPException, AccordError, Exception):
        api_handler = app.exception_handlers[kind]

        async def handler(request: Request, exc: Exception, api_handler: Any = api_handler) -> Response:
            if not request.url.path.startswith("/ui"):
                return await api_handler(request, exc)  # type: ignore[no-any-return]
            return error_page(exc)

        app.exception_handlers[kind] = handler


def error_page(exc: Exception) -> HTMLResponse:
    if isinstance(exc, RequestValidationError):
        problems = validation_problems(exc.errors())
        said = "; ".join(f"{p['path'] or 'the request'}: {p['message']}" for p in problems[:5])
        return page("error.html", 400, title="Not done", message=f"What was sent cannot be used: {said}",
                    code="ACCORD-0400-400")  # fmt: skip
    if isinstance(exc, StarletteHTTPException):
        shown = "No such page." if exc.status_code == 404 else str(exc.detail)
        return page("error.html", exc.status_code, title="Not done", message=shown,
                    code=f"ACCORD-{exc.status_code:04d}-{exc.status_code}")  # fmt: skip
    known = known_failure(exc)
    if known is not None and known.kind != "internal":
        return refusal(known)
    log.exception("internal error on a workspace page", exc_info=exc)
    return page("error.html", 500, title="Not done", message="An internal error: the server's log says more.",
                code="ACCORD-0500-500")  # fmt: skip


def cards_by_category(cards: list[dict[str, Any]], q: str) -> tuple[str, dict[str, list[dict[str, Any]]], int]:
    """A catalog's cards (connectors, destinations) that match a search, by category, each sorted by name; with
    the search as kept (a longer one is cut, not refused: a page answers with a page) and how many matched."""
    q = q[:200]
    wanted = q.strip().lower()
    shown = [c for c in cards if not wanted or wanted in f"{c['name']} {c['category']} {c['description']}".lower()]
    by_category: dict[str, list[dict[str, Any]]] = {}
    for card in sorted(shown, key=lambda c: (c["category"], c["name"])):
        by_category.setdefault(card["category"], []).append(card)
    return q, by_category, len(shown)


def unknown(what: str, name: str) -> NotFoundError:
    """The refusal of a name no object has (cut to 80 characters: a name in a URL may be anything)."""
    return NotFoundError(f"no {what} named {name[:80]!r}")


def page_number(text: str) -> tuple[int, str | None]:
    """The page of a list asked for (`?page=`), and what was wrong with it (then the first page is shown)."""
    if text.isascii() and text.isdigit() and len(text) <= 6 and int(text) > 0:
        return int(text), None
    return 1, f"There is no page {text[:20]!r}: pages are numbered with a whole number from 1. Here is the first."


def gate_answer(exc: AccordError) -> Response:
    """What the gate in front of every change answers a person's page with, instead of the API's JSON: the
    sign-in form when their session ended or never was, else the refusal as a page (too large, too many tries)."""
    if exc.kind == "unauthenticated":
        return to_login()
    answer = refusal(exc)
    if "retryAfter" in exc.details:
        answer.headers["Retry-After"] = str(exc.details["retryAfter"])
    return answer
