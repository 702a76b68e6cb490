"""Signing in and out, and the home page: the sandbox at a glance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from accord.access import Permission, Principal
from accord.access.sessions import CSRF_COOKIE, SESSION_COOKIE, check_csrf, sign_out
from accord.api.deps import set_session_cookies, signed_in
from accord.errors import AccordError
from accord.web.pages import SECURITY_HEADERS, Entered, caller_of, entered, page, refusal, to_login
from accord.workspace import Workspace

router = APIRouter(include_in_schema=False)
AUDIENCES_SHOWN = 50
"""Audiences listed with their sizes on the home page (the audiences page lists them all)."""


@router.get("/ui/login", response_class=HTMLResponse)
def get_login(request: Request) -> Response:
    if caller_of(request) is not None:
        return RedirectResponse("/ui", status_code=303, headers=SECURITY_HEADERS)
    return page("login.html", title="Sign in")


@router.post("/ui/login", response_class=HTMLResponse)
async def post_login(request: Request, user: Annotated[str, Form()] = "",
                     password: Annotated[str, Form()] = "") -> Response:  # fmt: skip
    """Sign in from the form: the session's cookies set, then the home page; a refusal is said on the form (the
    gate bounds the form's size; sign-in reads at most 64 characters of the name and 1,024 of the password)."""
    ws: Workspace = request.app.state.workspace
    try:
        request.app.state.limiter.check(request.client.host if request.client else "?")
        if not user or not password:
            return page("login.html", title="Sign in", user=user, error="Give your user name and password.")
        signed = await signed_in(request, ws, user, password)
    except AccordError as exc:  # said on the form, which the browser shows again (a page, not an API's answer)
        return page("login.html", title="Sign in", user=user, error=exc.message)
    answer = RedirectResponse("/ui", status_code=303, headers=SECURITY_HEADERS)
    set_session_cookies(answer, signed, ws.settings)
    return answer


@router.post("/ui/logout")
def post_logout(request: Request, csrf_token: Annotated[str, Form(max_length=256)] = "") -> Response:
    caller = caller_of(request)
    if caller is None:
        return to_login()
    try:
        check_csrf(caller, csrf_token)
    except AccordError as exc:
        return refusal(exc)
    sign_out(request.app.state.workspace.catalog, request.cookies.get(SESSION_COOKIE, ""))
    answer = to_login()
    answer.delete_cookie(SESSION_COOKIE)
    answer.delete_cookie(CSRF_COOKIE)
    return answer


@router.get("/ui", response_class=HTMLResponse)
def get_home(request: Request, sandbox: str | None = None) -> Response:
    """The sandbox at a glance: its datasets, audiences and latest dataflow runs, each as far as the caller may
    see them."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    sections = _home_sections(entry.workspace, entry.caller, entry.sandbox)  # a worker thread's: a sync route
    return entry.render("home.html", f"Home: {entry.sandbox}", **sections)


def _home_sections(ws: Workspace, caller: Principal, sandbox: str) -> dict[str, Any]:
    """Each section the caller may see: datasets, audiences, profiles, dataflow and activation runs of the last
    day with those failing now, and the latest alerts; None for a section they may not see."""
    from accord import destinations, lake, profile, segment, sources

    held = caller.permissions_in(sandbox)
    day = datetime.now(UTC) - timedelta(hours=24)
    found: dict[str, Any] = dict.fromkeys(("datasets", "audiences", "runs", "health", "alerts", "profiles",
                                           "activations"))  # fmt: skip
    with ws.catalog.session() as session:
        if Permission.VIEW_DATASETS in held:
            found["datasets"] = lake.list_datasets(session, sandbox)
        if Permission.VIEW_SEGMENTS in held:
            audiences = segment.list_segments(session, sandbox)[:AUDIENCES_SHOWN]
            sizes = segment.recent_sizes(session, sandbox, [a["id"] for a in audiences], per_segment=1)
            found["audiences"] = [a | {"size": sizes[a["id"]][0].qualified if sizes[a["id"]] else None}
                                  for a in audiences]  # fmt: skip
        if Permission.VIEW_SOURCES in held:
            found["runs"] = sources.list_runs(session, sandbox, limit=10)
            found["health"] = sources.run_health(session, sandbox, since=day)
            found["alerts"] = sources.list_alerts(session, sandbox, limit=10)
    if Permission.VIEW_PROFILES in held:
        found["profiles"] = {"summary": profile.store_summary(ws, sandbox)}
    if Permission.VIEW_DESTINATIONS in held:
        found["activations"] = destinations.run_health(ws, sandbox, since=day)
    return found
