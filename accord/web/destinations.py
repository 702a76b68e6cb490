"""The destinations: the catalog, accounts (configured from a destination's spec, tested), the activation wizard,
and the activation flows with their runs and dead letters.

Every page and action calls the service the API's route calls (`accord.api.destinations_routes`): an account is
made by `create_account` (`POST /destinations/accounts`), tested by `test_account`, a flow saved by `create_flow`
(`POST /activations`), run by `run_activation` (as a long operation), its dead letters replayed by
`replay_dead_letters`. The wizard's review asks `evaluate_draft`, which checks an unsaved flow as saving it would
and says what the data usage policies make of it. The wizard itself is `accord.web.activation_wizard`."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from accord.access import DESTINATION_NEEDS, AllowedRoots, Permission, require_for_account
from accord.access.paths import PathNotAllowedError
from accord.errors import AccordError, NotFoundError, PermissionDeniedError
from accord.web.activation_wizard import router as wizard_router
from accord.web.forms import MAX_TEXT, SECRET_KINDS, form_document, form_fields, problems_by_field
from accord.web.operations import Told, operations_of
from accord.web.pages import Entered, acted, cards_by_category, entered, redirect, refusal, unknown
from accord.web.posted import Posted, posted_form

router = APIRouter(include_in_schema=False)

LONGEST_NAME = 200
"""A name in a path longer than this is no account's, flow's or run's: refused as unknown without a lookup."""
RUNS_SHOWN = 20
DEAD_LETTERS_SHOWN = 20


# -- the catalog -------------------------------------------------------------------------------------------------


@router.get("/ui/destinations", response_class=HTMLResponse)
def get_destinations(request: Request, q: str = "", sandbox: str | None = None) -> Response:
    """The destinations catalog: a card per destination, by category, each with "Configure" for those who may
    make an account of it; a search narrows the cards as one types (htmx asks `/ui/destinations/cards`)."""
    return _catalog(request, "destinations/catalog.html", q, sandbox)


@router.get("/ui/destinations/cards", response_class=HTMLResponse)
def get_destination_cards(request: Request, q: str = "", sandbox: str | None = None) -> Response:
    return _catalog(request, "destinations/_cards.html", q, sandbox)


def _catalog(request: Request, template: str, q: str, sandbox: str | None) -> Response:
    from accord import destinations

    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    cards = [
        spec.to_document() | {"configurable": _may_configure(entry, spec.id)}
        for spec in destinations.list_destinations()
    ]
    q, by_category, shown = cards_by_category(cards, q)
    return entry.render(template, "Destinations", q=q, by_category=by_category, total=len(cards), shown=shown)


def _may_configure(entry: Entered, destination: str) -> bool:
    """Whether the caller may make an account of this destination (what `require_for_account` asks, besides
    Manage Destinations), for showing the button: the server checks again when the form comes."""
    needed = DESTINATION_NEEDS.get(destination)
    return entry.holds(Permission.MANAGE_DESTINATIONS) and (needed is None or entry.holds(needed))


# -- accounts ----------------------------------------------------------------------------------------------------


@router.get("/ui/destinations/configure/{destination}", response_class=HTMLResponse)
def get_configure(request: Request, destination: str, sandbox: str | None = None) -> Response:
    """The configure-destination form: the account's name, the destination's settings (its spec's JSON Schema,
    secrets as password inputs), and the marketing actions its flows perform."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _configure_page(entry, destination, {}, {}, None, [])


@router.post("/ui/destinations/configure/{destination}", response_class=HTMLResponse)
async def post_configure(request: Request, destination: str, sandbox: str | None = None) -> Response:
    posted = await posted_form(request)
    return await run_in_threadpool(_configure, request, destination, sandbox, posted)


def _configure(request: Request, destination: str, sandbox: str | None, posted: Posted) -> Response:
    from accord import destinations
    from accord.sources import SecretBox

    entry = acted(request, sandbox, posted.one("csrf_token"))
    if not isinstance(entry, Entered):
        return entry
    try:
        spec = destinations.destination_spec(destination[:LONGEST_NAME])
        require_for_account(entry.caller, spec.id, entry.sandbox)
    except AccordError as exc:
        return refusal(exc)
    fields = form_fields(spec.config.model_json_schema())
    secret = {f.name for f in fields if f.kind in SECRET_KINDS}
    kept = {k: vs[0][:MAX_TEXT] for k, vs in posted.values.items() if k not in secret and k != "csrf_token"}
    actions = posted.many("marketing_action")
    try:
        config = form_document(spec.config.model_json_schema(), posted.firsts())
        name = posted.one("name").strip()
        ws = entry.workspace
        with ws.catalog.session() as session:
            record = destinations.create_account(session, SecretBox(ws.settings.home), entry.sandbox, name, spec.id,
                                                 config, AllowedRoots.for_caller(ws.settings, entry.caller),
                                                 actions)  # fmt: skip
            made = record.name
    except PermissionDeniedError as exc:
        if not isinstance(exc, PathNotAllowedError):  # a folder outside the allowed ones is the form's mistake
            return refusal(exc)
        return _configure_page(entry, destination, kept, problems_by_field(exc, _config_input), exc.message, actions)
    except AccordError as exc:
        return _configure_page(entry, destination, kept, problems_by_field(exc, _config_input), exc.message, actions)
    return redirect(f"/ui/destinations/accounts/{quote(made)}", sandbox=entry.sandbox, made="1")


def _configure_page(entry: Entered, destination: str, values: dict[str, str], errors: dict[str, str],
                    error: str | None, actions: list[str]) -> Response:  # fmt: skip
    from accord import destinations, governance

    try:
        spec = destinations.destination_spec(destination[:LONGEST_NAME])
    except AccordError as exc:
        return refusal(exc)
    with entry.workspace.catalog.session() as session:
        known = governance.list_actions(session, entry.sandbox)
    return entry.render("destinations/configure.html", f"Configure {spec.name}", spec=spec.to_document(),
                        fields=form_fields(spec.config.model_json_schema()), values=values, errors=errors,
                        error=error, known_actions=known, chosen=set(actions),
                        may=_may_configure(entry, spec.id))  # fmt: skip


def _config_input(path: str) -> str:
    """A problem's path as the configure form names its input (`config.root` -> `root`, `name` -> `name`)."""
    return path.removeprefix("config.").split(".")[0].split("[")[0]


@router.get("/ui/destinations/accounts", response_class=HTMLResponse)
def get_accounts(request: Request, sandbox: str | None = None) -> Response:
    from accord import destinations

    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    with entry.workspace.catalog.session() as session:
        accounts = destinations.list_accounts(session, entry.sandbox)
    return entry.render("destinations/accounts.html", "Destination accounts", accounts=accounts)


@router.get("/ui/destinations/accounts/{name}", response_class=HTMLResponse)
def get_account(request: Request, name: str, sandbox: str | None = None, made: str = "") -> Response:
    """An account: its destination, its settings (secrets named, never shown), its marketing actions and flows;
    "Test" tries it step by step."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _account_page(entry, name, None, made == "1")


@router.post("/ui/destinations/accounts/{name}/test", response_class=HTMLResponse)
async def post_account_test(request: Request, name: str, sandbox: str | None = None) -> Response:
    posted = await posted_form(request)
    return await run_in_threadpool(_test_account, request, name, sandbox, posted)


def _test_account(request: Request, name: str, sandbox: str | None, posted: Posted) -> Response:
    from accord import destinations
    from accord.sources import SecretBox

    entry = acted(request, sandbox, posted.one("csrf_token"))
    if not isinstance(entry, Entered):
        return entry
    ws = entry.workspace
    try:
        if len(name) > LONGEST_NAME:
            raise unknown("destination account", name)
        with ws.catalog.session() as session:
            checked = destinations.test_account(session, SecretBox(ws.settings.home), entry.sandbox, name,
                                                AllowedRoots.for_caller(ws.settings, entry.caller))  # fmt: skip
    except NotFoundError as exc:
        return refusal(exc)
    except AccordError as exc:  # the account's settings no longer hold (a folder outside the roots now): said
        checked = {"account": name, "ok": False, "steps": [{"step": "settings", "ok": False, "message": exc.message}]}
    return _account_page(entry, name, checked, False)


def _account_page(entry: Entered, name: str, checked: dict[str, Any] | None, made: bool) -> Response:
    from accord import destinations

    try:
        if len(name) > LONGEST_NAME:
            raise unknown("destination account", name)
        with entry.workspace.catalog.session() as session:
            account = destinations.get_account(session, entry.sandbox, name)
            flows = [f for f in destinations.list_flows(session, entry.sandbox) if f["account"] == account["name"]]
        spec = destinations.destination_spec(account["destination"])
    except AccordError as exc:
        return refusal(exc)
    return entry.render("destinations/account.html", f"Account {account['name']}", account=account,
                        spec=spec.to_document(), flows=flows, checked=checked, made=made)  # fmt: skip


# -- activation flows --------------------------------------------------------------------------------------------


@router.get("/ui/destinations/activations", response_class=HTMLResponse)
def get_flows(request: Request, sandbox: str | None = None) -> Response:
    from accord import destinations

    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    with entry.workspace.catalog.session() as session:
        flows = destinations.list_flows(session, entry.sandbox)
        accounts = destinations.list_accounts(session, entry.sandbox)
    return entry.render("destinations/flows.html", "Activations", flows=flows, accounts=accounts)


@router.get("/ui/destinations/activations/{name}", response_class=HTMLResponse)
def get_flow(request: Request, name: str, sandbox: str | None = None, replayed: str = "", delivered: str = "",
             failed: str = "") -> Response:  # fmt: skip
    """A flow: what it sends where and when, its state, the policies' word on it, its latest runs (a chart and the
    same figures as a table) and its dead letters; enable, disable, run now, replay."""
    from accord import destinations

    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    ws = entry.workspace
    try:
        if len(name) > LONGEST_NAME:
            raise unknown("activation flow", name)
        with ws.catalog.session() as session:
            flow = destinations.get_flow(session, entry.sandbox, name)
            policies = (destinations.evaluate_flow(session, entry.sandbox, name)
                        if entry.holds(Permission.VIEW_DATA_USAGE_POLICIES) else None)  # fmt: skip
            letters = destinations.list_dead_letters(session, entry.sandbox, name, pending=True,
                                                     limit=DEAD_LETTERS_SHOWN)  # fmt: skip
            counted = destinations.count_dead_letters(session, entry.sandbox, name)
        runs = destinations.list_runs(ws, entry.sandbox, name, RUNS_SHOWN)
        spec = destinations.destination_spec(flow["destination"])
    except AccordError as exc:
        return refusal(exc)
    counts = {"replayed": replayed, "delivered": delivered, "failed": failed}  # what a replay redirected with
    replay = counts if all(v.isdigit() and len(v) <= 9 for v in counts.values()) else None
    return entry.render("destinations/flow.html", f"Activation {flow['name']}", flow=flow, policies=policies,
                        runs=runs, chart=runs_chart(runs), letters=letters, counted=counted,
                        streaming=spec.delivery == "streaming", replay=replay)  # fmt: skip


def runs_chart(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The chart of a flow's runs, oldest first: profiles received, rows sent, profiles left out."""
    ordered = [r for r in reversed(runs) if r["startedAt"]]
    return {
        "x": [int(datetime.fromisoformat(r["startedAt"]).timestamp()) for r in ordered],
        "series": [
            {"label": "profiles received", "values": [r["profilesReceived"] for r in ordered]},
            {"label": "rows sent", "values": [sum(a.get("rows") or 0 for a in r["audiences"]) for r in ordered]},
            {"label": "left out", "values": [sum(r["excluded"].values()) + r["profilesFailed"] for r in ordered]},
        ],
    }


@router.get("/ui/destinations/activations/{name}/runs/{run_id}", response_class=HTMLResponse)
def get_run(request: Request, name: str, run_id: str, sandbox: str | None = None) -> Response:
    """A run: its status, the profiles it activated and those it left out by reason, per audience, and the files
    it wrote (or the requests it made)."""
    from accord import destinations

    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    try:
        if len(run_id) > LONGEST_NAME:
            raise unknown("activation run", run_id)
        run = destinations.get_run(entry.workspace, entry.sandbox, run_id)
        if run["flow"] != name:  # a run is shown under its own flow only
            raise unknown("activation run", run_id)
    except AccordError as exc:
        return refusal(exc)
    return entry.render("destinations/run.html", f"Run of {run['flow']}", run=run)


@router.post("/ui/destinations/activations/{name}/enable", response_class=HTMLResponse)
async def post_enable(request: Request, name: str, sandbox: str | None = None) -> Response:
    posted = await posted_form(request)
    return await run_in_threadpool(_set_state, request, name, sandbox, posted, "enabled")


@router.post("/ui/destinations/activations/{name}/disable", response_class=HTMLResponse)
async def post_disable(request: Request, name: str, sandbox: str | None = None) -> Response:
    posted = await posted_form(request)
    return await run_in_threadpool(_set_state, request, name, sandbox, posted, "disabled")


def _set_state(request: Request, name: str, sandbox: str | None, posted: Posted, state: str) -> Response:
    from accord import destinations

    entry = acted(request, sandbox, posted.one("csrf_token"))
    if not isinstance(entry, Entered):
        return entry
    try:
        if len(name) > LONGEST_NAME:
            raise unknown("activation flow", name)
        with entry.workspace.catalog.session() as session:
            record = destinations.set_state(session, entry.sandbox, name, state)  # type: ignore[arg-type]
            shown = record.name
    except AccordError as exc:
        return refusal(exc)
    return redirect(f"/ui/destinations/activations/{quote(shown)}", sandbox=entry.sandbox)


@router.post("/ui/destinations/activations/{name}/runs", response_class=HTMLResponse)
async def post_run(request: Request, name: str, sandbox: str | None = None) -> Response:
    posted = await posted_form(request)
    return await run_in_threadpool(_run_now, request, name, sandbox, posted)


def _run_now(request: Request, name: str, sandbox: str | None, posted: Posted) -> Response:
    """Run a flow now as a long operation: its page shows how far the run got, then links to the run."""
    from accord import destinations

    entry = acted(request, sandbox, posted.one("csrf_token"))
    if not isinstance(entry, Entered):
        return entry
    ws, where = entry.workspace, entry.sandbox
    try:
        if len(name) > LONGEST_NAME:
            raise unknown("activation flow", name)
        with ws.catalog.session() as session:
            flow = destinations.get_flow(session, where, name)["name"]
    except AccordError as exc:
        return refusal(exc)

    def work(told: Told) -> str:
        def progress(what: str, done: int, total: int) -> None:
            told(f"{what}: {done:,} of {total:,}", done / total if total else None)

        told("waiting for the flow's previous run, if any, then reading the audiences", None)
        run = destinations.run_activation(ws, where, flow, progress=progress)
        sent = sum(a.get("rows") or 0 for a in run["audiences"])
        told(f"{run['status']}: {sent:,} rows sent, {sum(run['excluded'].values()):,} profiles left out", 1.0)
        return f"/ui/destinations/activations/{quote(flow)}/runs/{run['id']}?sandbox={quote(where)}"

    operation = operations_of(entry).start(f"Activation run: {flow}", entry.caller.user, where, work)
    return redirect(f"/ui/operations/{operation.id}", sandbox=where)


@router.post("/ui/destinations/activations/{name}/deadletters/replay", response_class=HTMLResponse)
async def post_replay(request: Request, name: str, sandbox: str | None = None) -> Response:
    posted = await posted_form(request)
    return await run_in_threadpool(_replay, request, name, sandbox, posted)


def _replay(request: Request, name: str, sandbox: str | None, posted: Posted) -> Response:
    """Send a flow's dead letters again (one, or every pending one), as `POST .../deadletters/replay` does."""
    from accord import destinations
    from accord.sources import SecretBox

    entry = acted(request, sandbox, posted.one("csrf_token"))
    if not isinstance(entry, Entered):
        return entry
    ws = entry.workspace
    letter = posted.one("letter") or None
    try:
        if len(name) > LONGEST_NAME or (letter is not None and len(letter) > LONGEST_NAME):
            raise unknown("activation flow or dead letter", name)
        with ws.catalog.session() as session:
            done = destinations.replay_dead_letters(session, SecretBox(ws.settings.home), entry.sandbox, name, letter,
                                                    AllowedRoots.for_caller(ws.settings, entry.caller))  # fmt: skip
    except AccordError as exc:
        return refusal(exc)
    return redirect(f"/ui/destinations/activations/{quote(done['flow'])}", sandbox=entry.sandbox,
                    replayed=done["replayed"], delivered=done["delivered"], failed=done["failed"])  # fmt: skip


router.include_router(wizard_router)
