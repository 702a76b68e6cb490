"""The web workspace (`/ui`): server-rendered pages over the same service functions as the API and the CLI.

A person signs in with a password (`accord.access.sign_in`: sessions, lock-out, the per-address bound) and
works through a session cookie; every form that changes something carries the session's CSRF token, which
the page reads from the readable CSRF cookie that sign-in set. Pages are Jinja2 templates with autoescape on;
scripts come only from `/ui/static` (htmx, vendored: see static/VENDORED.md), and every answer carries a
Content-Security-Policy that allows no inline script or style. What each page and action needs is declared
in `accord.access.PAGES`; a page shows only the sections whose View permission its caller holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from accord.access import PAGES, Open, Permission, Principal, authorize_sandbox, require
from accord.access.sessions import CSRF_COOKIE, SESSION_COOKIE, check_csrf, session_principal, sign_out
from accord.api.deps import set_session_cookies, signed_in
from accord.errors import AccordError, PermissionDeniedError
from accord.workspace import Workspace

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Every page's headers: no inline script or style, nothing from elsewhere, never framed, never cached."""

templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    return StaticFiles(directory=HERE / "static")


def _page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**values), status_code=status, headers=SECURITY_HEADERS)


def _caller(request: Request) -> Principal | None:
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


def _to_login() -> RedirectResponse:
    return RedirectResponse("/ui/login", status_code=303, headers=SECURITY_HEADERS)


def _held(caller: Principal, sandbox: str) -> set[str]:
    """The permissions a page's links and buttons are shown for (the server refuses the rest regardless)."""
    return {p.value for p in caller.permissions_in(sandbox)}


def _entered(request: Request, sandbox: str | None) -> tuple[Principal, str] | Response:
    """The person and the sandbox a page works in, once checked against what `PAGES` declares for its route;
    else the answer to give instead: the sign-in form, or the refusal."""
    caller = _caller(request)
    if caller is None:
        return _to_login()
    ws: Workspace = request.app.state.workspace
    try:
        where = authorize_sandbox(caller, sandbox, ws.settings.sandbox)
        needed = PAGES.get((request.method, request.scope["route"].path_format))
        if needed is None:
            raise PermissionDeniedError("this page declares no permission in accord/access/requirements.py (PAGES): "
                                        "refused to everyone", code="ACCESS-0406-403")  # fmt: skip
        require(caller, needed, where)
    except AccordError as exc:
        return _page("error.html", 403 if exc.kind == "forbidden" else 400, title="Refused", message=exc.message)
    return caller, where


@router.get("/ui/login", response_class=HTMLResponse)
def get_login(request: Request) -> Response:
    if _caller(request) is not None:
        return RedirectResponse("/ui", status_code=303, headers=SECURITY_HEADERS)
    return _page("login.html", title="Sign in")


@router.post("/ui/login", response_class=HTMLResponse)
async def post_login(request: Request, user: Annotated[str, Form()] = "",
                     password: Annotated[str, Form()] = "") -> Response:  # fmt: skip
    """Sign in from the form: the session's cookies set, then the home page; a refusal is said on the form (the
    gate bounds the form's size; sign-in reads at most 64 characters of the name and 1,024 of the password)."""
    address = request.client.host if request.client else "?"
    ws: Workspace = request.app.state.workspace
    try:
        request.app.state.limiter.check(address)
        if not user or not password:
            return _page("login.html", title="Sign in", user=user, error="Give your user name and password.")
        signed = await signed_in(request, ws, user, password)
    except AccordError as exc:  # said on the form, which the browser shows again (a page, not an API's answer)
        return _page("login.html", title="Sign in", user=user, error=exc.message)
    answer = RedirectResponse("/ui", status_code=303, headers=SECURITY_HEADERS)
    set_session_cookies(answer, signed, ws.settings)
    return answer


@router.post("/ui/logout")
def post_logout(request: Request, csrf_token: Annotated[str, Form(max_length=256)] = "") -> Response:
    caller = _caller(request)
    if caller is None:
        return _to_login()
    try:
        check_csrf(caller, csrf_token)
    except AccordError as exc:
        return _page("error.html", 403, title="Refused", message=exc.message)
    sign_out(request.app.state.workspace.catalog, request.cookies.get(SESSION_COOKIE, ""))
    answer = _to_login()
    answer.delete_cookie(SESSION_COOKIE)
    answer.delete_cookie(CSRF_COOKIE)
    return answer


@router.get("/ui", response_class=HTMLResponse)
def get_home(request: Request, sandbox: str | None = None) -> Response:
    """The sandbox at a glance: its datasets, audiences and latest dataflow runs, each as far as the caller may
    see them."""
    entered = _entered(request, sandbox)
    if isinstance(entered, Response):
        return entered
    caller, where = entered
    sections = _home_sections(request.app.state.workspace, caller, where)  # a worker thread's: a sync route
    return _page("home.html", title=f"Home: {where}", caller=caller, sandbox=where, held=_held(caller, where),
                 csrf=request.cookies.get(CSRF_COOKIE, ""), **sections)  # fmt: skip


@router.get("/ui/sources", response_class=HTMLResponse)
def get_sources(request: Request, q: str = "",
                sandbox: str | None = None) -> Response:  # fmt: skip
    """The sources catalog: a card per connector, by category, with a search that narrows them as one types
    (htmx asks `/ui/sources/cards`; without scripts, the form's own GET does the same)."""
    return _catalog(request, "sources.html", q, sandbox)


@router.get("/ui/sources/cards", response_class=HTMLResponse)
def get_source_cards(request: Request, q: str = "",
                     sandbox: str | None = None) -> Response:  # fmt: skip
    return _catalog(request, "source_cards.html", q, sandbox)


def _catalog(request: Request, template: str, q: str, sandbox: str | None) -> Response:
    from accord import sources

    entered = _entered(request, sandbox)
    if isinstance(entered, Response):
        return entered
    caller, where = entered
    q = q[:200]  # a longer search is cut, not refused: a page answers with a page
    wanted = q.strip().lower()
    cards = [s.to_document() for s in sources.list_connectors()]
    shown = [c for c in cards if not wanted or wanted in f"{c['name']} {c['category']} {c['description']}".lower()]
    by_category: dict[str, list[dict[str, Any]]] = {}
    for card in sorted(shown, key=lambda c: (c["category"], c["name"])):
        by_category.setdefault(card["category"], []).append(card)
    return _page(template, title="Sources", caller=caller, sandbox=where, csrf=request.cookies.get(CSRF_COOKIE, ""),
                 held=_held(caller, where), q=q, by_category=by_category, total=len(cards),
                 shown=len(shown))  # fmt: skip


def _home_sections(ws: Workspace, caller: Principal, sandbox: str) -> dict[str, Any]:
    from accord import lake, segment, sources

    held = caller.permissions_in(sandbox)
    found: dict[str, Any] = {"datasets": None, "audiences": None, "runs": None}
    with ws.catalog.session() as session:
        if Permission.VIEW_DATASETS in held:
            found["datasets"] = lake.list_datasets(session, sandbox)
        if Permission.VIEW_SEGMENTS in held:
            found["audiences"] = segment.list_segments(session, sandbox)
        if Permission.VIEW_SOURCES in held:
            found["runs"] = sources.list_runs(session, sandbox, limit=10)
    return found
