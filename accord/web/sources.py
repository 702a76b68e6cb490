"""The sources: the catalog of connectors, connections (set up from a connector's spec, tested step by step),
and, through `accord.web.dataflows`, the dataflow wizard, dataflows and their runs.

Every page and action calls the service the API's route calls (`accord.api.sources_routes`): a connection is made
by `create_connection` (`POST /connections`) with the caller's allowed folders, shown by `get_connection` (its
secrets named, never their values) and tested by `test_connection` (`POST /connections/{name}/test`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from accord.access import AllowedRoots
from accord.access.paths import PathNotAllowedError
from accord.errors import AccordError, DocumentError, NotFoundError, PermissionDeniedError
from accord.web.dataflow_wizard import prefixed
from accord.web.dataflows import router as dataflows_router
from accord.web.forms import MAX_TEXT, form_document, form_fields, problems_by_field
from accord.web.pages import Entered, acted, cards_by_category, entered, redirect, refusal, unknown
from accord.web.posted import Posted, posted_form

router = APIRouter(include_in_schema=False)
router.include_router(dataflows_router)

LONGEST_NAME = 128
"""The longest connection or dataflow name (`accord.sources`): a longer one in a path is nobody's."""


def prefixed_values(posted: dict[str, str], prefix: str) -> dict[str, str]:
    """What a form posted for one schema's inputs, by the schema's own field names."""
    start = f"{prefix}."
    return {key.removeprefix(start): value for key, value in posted.items() if key.startswith(start)}


# -- the catalog -------------------------------------------------------------------------------------------------


@router.get("/ui/sources", response_class=HTMLResponse)
def get_sources(request: Request, q: str = "", sandbox: str | None = None) -> Response:
    """The sources catalog: a card per connector, by category, with a search that narrows them as one types
    (htmx asks `/ui/sources/cards`; without scripts, the form's own GET does the same)."""
    return _catalog(request, "sources/catalog.html", q, sandbox)


@router.get("/ui/sources/cards", response_class=HTMLResponse)
def get_source_cards(request: Request, q: str = "", sandbox: str | None = None) -> Response:
    return _catalog(request, "sources/_cards.html", q, sandbox)


def _catalog(request: Request, template: str, q: str, sandbox: str | None) -> Response:
    from accord import sources

    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    cards = [s.to_document() for s in sources.list_connectors()]
    q, by_category, shown = cards_by_category(cards, q)
    return entry.render(template, "Sources", q=q, by_category=by_category, total=len(cards), shown=shown)


# -- connections -------------------------------------------------------------------------------------------------


@router.get("/ui/sources/connections", response_class=HTMLResponse)
def get_connections(request: Request, sandbox: str | None = None) -> Response:
    from accord import sources

    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    with entry.workspace.catalog.session() as session:
        connections = sources.list_connections(session, entry.sandbox)
    return entry.render("sources/connections.html", "Connections", connections=connections)


@router.get("/ui/sources/new-connection", response_class=HTMLResponse)
def get_new_connection(request: Request, connector: str = "", sandbox: str | None = None) -> Response:
    """The connection wizard: first the connector (the catalog's "Set up a connection" names it), then its
    settings as its spec's JSON Schema draws them (secrets as password inputs)."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _connection_form(entry, connector, {}, {}, None)


@router.post("/ui/connections", response_class=HTMLResponse)
async def post_connection(request: Request, sandbox: str | None = None) -> Response:
    posted = await posted_form(request)
    return await run_in_threadpool(_create_connection, request, sandbox, posted)


def _create_connection(request: Request, sandbox: str | None, posted: Posted) -> Response:
    from accord import sources

    entry = acted(request, sandbox, posted.one("csrf_token"))
    if not isinstance(entry, Entered):
        return entry
    connector = posted.one("connector")[:LONGEST_NAME]
    try:
        spec = sources.connector_spec(connector)
    except AccordError as exc:
        return _connection_form(entry, "", {}, {"connector": exc.message}, exc.message)
    schema = spec.config.model_json_schema()
    secret = {f"config.{name}" for name in spec.secret_fields()}
    given = posted.firsts()
    shown = {k: v[:MAX_TEXT] for k, v in given.items() if k not in secret and k != "csrf_token"}  # never a secret
    try:
        if oversized := posted.oversized():
            raise DocumentError("the form", [{"path": k, "message": f"longer than {MAX_TEXT:,} characters"}
                                             for k in oversized])  # fmt: skip
        config = form_document(schema, prefixed_values(given, "config"))
        ws = entry.workspace
        with ws.catalog.session() as session:
            record = sources.create_connection(session, sources.SecretBox(ws.settings.home), entry.sandbox,
                                               posted.one("name").strip(), spec.id, config,
                                               AllowedRoots.for_caller(ws.settings, entry.caller))  # fmt: skip
            made = record.name
    except PermissionDeniedError as exc:
        if not isinstance(exc, PathNotAllowedError):
            return refusal(exc)
        return _connection_form(entry, spec.id, shown, problems_by_field(exc, str), exc.message)
    except DocumentError as exc:  # the form's own reading names the schema's fields; the service, `config.x`
        errors = {k if k.startswith("config.") or k == "name" else f"config.{k}": v
                  for k, v in problems_by_field(exc, str).items()}  # fmt: skip
        return _connection_form(entry, spec.id, shown, errors, exc.message)
    except AccordError as exc:  # a bad or taken name
        return _connection_form(entry, spec.id, shown, {"name": exc.message}, exc.message)
    return redirect(f"/ui/sources/connections/{quote(made)}", sandbox=entry.sandbox)


def _connection_form(entry: Entered, connector: str, values: dict[str, str], errors: dict[str, str],
                     error: str | None) -> Response:  # fmt: skip
    from accord import sources

    spec = None
    try:
        spec = sources.connector_spec(connector[:LONGEST_NAME]) if connector else None
    except AccordError as exc:
        error, errors = exc.message, {"connector": exc.message}
    if spec is None:
        cards = sorted((s.to_document() for s in sources.list_connectors()), key=lambda c: (c["category"], c["name"]))
        return entry.render("sources/new_connection.html", "Set up a connection", spec=None, cards=cards,
                            error=error, errors=errors, values=values)  # fmt: skip
    fields = prefixed(form_fields(spec.config.model_json_schema()), "config")
    return entry.render("sources/new_connection.html", f"Set up a {spec.name} connection", spec=spec.to_document(),
                        fields=fields, values=values, errors=errors, error=error)  # fmt: skip


@router.get("/ui/sources/connections/{name}", response_class=HTMLResponse)
def get_connection(request: Request, name: str, sandbox: str | None = None) -> Response:
    """A connection: its connector and settings, its secrets said to be kept (never shown), the dataflows that
    read it, and "Test connection" for those who hold Manage Sources."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _connection_page(entry, name, None)


@router.post("/ui/connections/{name}/test", response_class=HTMLResponse)
async def post_connection_test(request: Request, name: str, sandbox: str | None = None) -> Response:
    posted = await posted_form(request)
    return await run_in_threadpool(_test_connection, request, name, sandbox, posted)


def _test_connection(request: Request, name: str, sandbox: str | None, posted: Posted) -> Response:
    """The test's steps and their outcome: only they when htmx asks (swapped into the page), else the page."""
    from accord import sources

    entry = acted(request, sandbox, posted.one("csrf_token"))
    if not isinstance(entry, Entered):
        return entry
    ws = entry.workspace
    try:
        if len(name) > LONGEST_NAME:
            raise unknown("connection", name)
        with ws.catalog.session() as session:
            check = sources.test_connection(session, sources.SecretBox(ws.settings.home), entry.sandbox, name,
                                            AllowedRoots.for_caller(ws.settings, entry.caller))  # fmt: skip
    except PermissionDeniedError as exc:
        if not isinstance(exc, PathNotAllowedError):
            return refusal(exc)
        check = {"connection": name, "ok": False, "steps": [{"step": "folder allowed", "ok": False,
                                                             "message": exc.message}]}  # fmt: skip
    except NotFoundError as exc:
        return refusal(exc)
    except AccordError as exc:  # the connector could not even start: said as the test's one failed step
        check = {"connection": name, "ok": False, "steps": [{"step": "open", "ok": False, "message": exc.message}]}
    if request.headers.get("HX-Request") == "true":
        return entry.render("sources/_connection_test.html", f"Test of {name}", check=check)
    return _connection_page(entry, name, check)


def _connection_page(entry: Entered, name: str, check: dict[str, Any] | None) -> Response:
    from accord import sources

    try:
        if len(name) > LONGEST_NAME:
            raise unknown("connection", name)
        with entry.workspace.catalog.session() as session:
            connection = sources.get_connection(session, entry.sandbox, name)
            flows = [f for f in sources.list_dataflows(session, entry.sandbox) if f["connection"] == name]
    except AccordError as exc:
        return refusal(exc)
    return entry.render("sources/connection.html", f"Connection {name}", connection=connection, check=check,
                        dataflows=flows)  # fmt: skip
