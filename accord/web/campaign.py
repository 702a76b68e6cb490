"""The campaign engine's pages: the instance at a glance with its engagement over time, recipients (searched,
paged, opted out), lists, workflows drawn as graphs with their runs (and run now), and deliveries with a
preview of their message, their check, proofs, sending, and how the sent messages fared.

The campaign instance serves the whole home, so its permissions count only when granted in every sandbox
(`accord.access.HOME_WIDE`); the sandbox in the address is where the person works, not a part of the engine.
A delivery's HTML is its author's: it is shown only in a sandboxed frame of its own, served with a policy
that lets nothing in it run (`PREVIEW_HEADERS`), never inside a workspace page."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from accord import campaign
from accord.campaign import workflows
from accord.campaign.broadlog import delivery_log
from accord.campaign.exceptions import UnknownObjectError
from accord.campaign.summary import RATES
from accord.errors import AccordError
from accord.web.operations import OperationFailed, Told, operations_of
from accord.web.pages import Entered, acted, entered, page_number, redirect, refusal
from accord.web.workflow_graph import workflow_graph

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
SEARCH_CHARS = 200
ADDRESS_CHARS = 254
PERIODS = (7, 30, 90, 365)
"""The periods (days) the engagement of the home page is shown for."""
RUNS_SHOWN = 20
LOG_ROWS_SHOWN = 20
PREVIEW_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""A delivery's HTML, framed by its own page only: a unique origin (the `sandbox` directive), no script, no
request anywhere (its remote images are not fetched: no one's tracking pixel sees a colleague's preview)."""

REFUSED = ("not_found", "forbidden")
"""Errors of an action answered by a refusal page; any other is said on the form, which is shown again."""

Csrf = Annotated[str, Form(max_length=256)]
Choice = Annotated[str, Form(max_length=64)]
Address = Annotated[str, Form(max_length=10_000)]
"""Longer than an address may be, so that the form can say by how much a pasted one is too long."""
Wanted = Annotated[str, Query(max_length=64)]
"""A page's number, a period, a run: a few characters, said wrong on the page when they are."""


def engine_of(entry: Entered) -> campaign.CampaignEngine:
    found: campaign.CampaignEngine = entry.request.app.state.campaign
    return found


def _number(text: str) -> int | None:
    """A whole number of the address (an id, a page), or None when it is not one."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


def _unknown(kind: str, text: str) -> Response:
    return refusal(UnknownObjectError(kind, text[:40]))


# the instance at a glance


@router.get("/ui/campaign", response_class=HTMLResponse)
def get_campaign(request: Request, sandbox: str | None = None, days: Wanted = "30") -> Response:
    """Recipients, lists, workflows and deliveries counted, the latest deliveries, and how the messages of the
    period fared day by day (a chart and the same figures as a table)."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    period = _number(days)
    problem = None
    if period not in PERIODS:
        problem, period = f"days {days[:20]!r}: one of {', '.join(map(str, PERIODS))}; 30 are shown", 30
    eng = engine_of(entry)
    found = campaign.engagement(eng, days=period)
    return entry.render("campaign/home.html", "Campaign", summary=campaign.campaign_summary(eng), engagement=found,
                        chart=rates_chart(found), period=period, periods=PERIODS, problem=problem)  # fmt: skip


def rates_chart(found: dict[str, Any]) -> dict[str, Any]:
    """The rates of each day on which something was sent, in percent, as `static/charts.js` draws them; the
    period's first and last days bound the time axis (without rates: nothing is drawn for them)."""
    first = date.fromisoformat(found["since"][:10])
    bounds = {first.isoformat(): None, (first + timedelta(days=found["days"] - 1)).isoformat(): None}
    by_day: dict[str, dict[str, Any] | None] = bounds | {d["day"]: d["rates"] for d in found["byDay"]}
    days = sorted(by_day)
    x = [int(datetime.combine(date.fromisoformat(day), time(), tzinfo=UTC).timestamp()) for day in days]
    series = [{"label": f"{name} %", "values": [_percent((by_day[day] or {}).get(name)) for day in days]}
              for name in RATES]  # fmt: skip
    return {"x": x, "series": series}


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(100 * rate, 1)


# recipients


@router.get("/ui/campaign/recipients", response_class=HTMLResponse)
def get_recipients(request: Request, sandbox: str | None = None, q: str = "", page: Wanted = "1") -> Response:
    """The recipients, a page at a time; the search finds them by the start of their address or external id."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    q = q[:SEARCH_CHARS].strip()  # a longer search is cut, not refused: a page answers with a page
    number, problem = page_number(page)
    found = campaign.list_recipients(engine_of(entry), limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE,
                                     search=q or None)  # fmt: skip
    pages = max(1, -(-found["total"] // PAGE_SIZE))
    return entry.render("campaign/recipients.html", "Recipients", q=q, page=number, pages=pages, problem=problem,
                        total=found["total"], recipients=found["recipients"])  # fmt: skip


@router.get("/ui/campaign/recipients/{recipient_id}", response_class=HTMLResponse)
def get_recipient(request: Request, recipient_id: str, sandbox: str | None = None) -> Response:
    """A recipient: their fields, opt-outs, subscriptions and the messages they were sent."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _recipient_page(entry, recipient_id)


def _recipient_page(entry: Entered, recipient_id: str, error: str | None = None, values: dict[str, str] | None = None
                    ) -> Response:  # fmt: skip
    number = _number(recipient_id)
    if number is None:
        return _unknown("recipient", recipient_id)
    eng = engine_of(entry)
    try:
        recipient = campaign.get_recipient(eng, number)
    except AccordError as exc:
        return refusal(exc)
    return entry.render("campaign/recipient.html", f"Recipient {recipient['externalId']}", recipient=recipient,
                        lists=campaign.recipient_lists(eng, number), error=error, values=values or {},
                        deliveries=campaign.recipient_deliveries(eng, number, limit=PAGE_SIZE))  # fmt: skip


@router.post("/ui/campaign/recipients/{recipient_id}/opt-out", response_class=HTMLResponse)
def post_opt_out(request: Request, recipient_id: str, sandbox: str | None = None, csrf_token: Csrf = "",
                 channel: Choice = "", action: Choice = "") -> Response:  # fmt: skip
    """Opt a recipient out of a channel (`action` out), or back in (`action` in)."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    number = _number(recipient_id)
    if number is None:
        return _unknown("recipient", recipient_id)
    values = {"channel": channel[:20]}
    if action not in ("out", "in"):
        return _recipient_page(entry, recipient_id, "Choose to opt out or to opt back in.", values)
    try:
        campaign.set_opt_out(engine_of(entry), number, channel, action == "out")
    except AccordError as exc:
        if exc.kind in REFUSED:
            return refusal(exc)
        return _recipient_page(entry, recipient_id, exc.message, values)
    return redirect(f"/ui/campaign/recipients/{number}", sandbox=entry.sandbox)


# lists


@router.get("/ui/campaign/lists", response_class=HTMLResponse)
def get_lists(request: Request, sandbox: str | None = None) -> Response:
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return entry.render("campaign/lists.html", "Lists", lists=campaign.list_lists(engine_of(entry)))


@router.get("/ui/campaign/lists/{list_id}", response_class=HTMLResponse)
def get_list(request: Request, list_id: str, sandbox: str | None = None, page: Wanted = "1") -> Response:
    """A list with its size and its members, a page at a time."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    number = _number(list_id)
    if number is None:
        return _unknown("list", list_id)
    number_asked, problem = page_number(page)
    try:
        found = campaign.get_list(engine_of(entry), number, limit=PAGE_SIZE, offset=(number_asked - 1) * PAGE_SIZE)
    except AccordError as exc:
        return refusal(exc)
    pages = max(1, -(-found["members"] // PAGE_SIZE))
    return entry.render("campaign/list.html", f"List {found['name']}", found=found, page=number_asked, pages=pages,
                        problem=problem)  # fmt: skip


# workflows


@router.get("/ui/campaign/workflows", response_class=HTMLResponse)
def get_workflows(request: Request, sandbox: str | None = None) -> Response:
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    eng = engine_of(entry)
    return entry.render("campaign/workflows.html", "Workflows", workflows=workflows.list_workflows(eng),
                        runs=workflows.list_runs(eng, limit=RUNS_SHOWN))  # fmt: skip


@router.get("/ui/campaign/workflows/{name}", response_class=HTMLResponse)
def get_workflow(request: Request, name: str, sandbox: str | None = None, run: Wanted = "") -> Response:
    """A workflow drawn as a graph of its activities, each with its counts in the run shown (`run`, else the
    latest), the same as a table, and its latest runs."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    eng = engine_of(entry)
    try:
        found = workflows.get_workflow(eng, name)
        runs = workflows.list_runs(eng, name, limit=RUNS_SHOWN)
    except AccordError as exc:
        return refusal(exc)
    problem, shown = None, None
    wanted = _number(run) if run else (runs[0]["id"] if runs else None)
    if run and wanted is None:
        problem = f"run {run[:20]!r}: a run's number"
    elif wanted is not None:
        try:
            shown = workflows.get_run(eng, wanted)
        except AccordError as exc:
            problem = exc.message
        if shown is not None and shown["workflow"] != name:
            problem, shown = f"run {wanted} is a run of another workflow", None
    graph = workflow_graph(found["activities"], shown["activities"] if shown else None)
    return entry.render("campaign/workflow.html", f"Workflow {name}", workflow=found, runs=runs, run=shown,
                        graph=graph, problem=problem)  # fmt: skip


@router.post("/ui/campaign/workflows/{name}/run", response_class=HTMLResponse)
def post_workflow_run(request: Request, name: str, sandbox: str | None = None, csrf_token: Csrf = "") -> Response:
    """Run a workflow now, as an operation the person can leave and come back to."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    eng = engine_of(entry)
    try:
        workflows.get_workflow(eng, name)
    except AccordError as exc:
        return refusal(exc)
    where = entry.sandbox

    def work(told: Told) -> str:
        told(f"running workflow {name}", None)
        ran = workflows.run_workflow(eng, name)
        told(f"run {ran['id']} ended {ran['status']}" + (f": {ran['error']}" if ran["error"] else ""), 1.0)
        shown = f"/ui/campaign/workflows/{quote(name, safe='')}?sandbox={quote(where)}&run={ran['id']}"
        if ran["status"] == "failed":  # it ended, failed: said so, and shown with the activity that failed
            raise OperationFailed(f"the run failed: {ran['error'] or 'see the run'}", shown)
        return shown

    operation = operations_of(entry).start(f"Run of workflow {name}", entry.caller.user, where, work)
    return redirect(f"/ui/operations/{operation.id}", sandbox=where)


# deliveries


@router.get("/ui/campaign/deliveries", response_class=HTMLResponse)
def get_deliveries(request: Request, sandbox: str | None = None, page: Wanted = "1") -> Response:
    """The deliveries, newest first, a page at a time."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    number, problem = page_number(page)
    found = campaign.list_deliveries(engine_of(entry), limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE,
                                     newest_first=True)  # fmt: skip
    return entry.render("campaign/deliveries.html", "Deliveries", deliveries=found[:PAGE_SIZE], page=number,
                        more=len(found) > PAGE_SIZE, problem=problem)  # fmt: skip


@router.get("/ui/campaign/deliveries/{delivery_id}", response_class=HTMLResponse)
def get_delivery(request: Request, delivery_id: str, sandbox: str | None = None,
                 proof: Annotated[str, Query(max_length=8)] = "") -> Response:  # fmt: skip
    """A delivery: its message previewed, its last check, proofs and sending, and its send log's summary
    (`proof=sent`: after a proof, which says so; the address stays out of the URL, as out of the activity log)."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _delivery_page(entry, delivery_id, proofed=proof == "sent")


def _delivery_page(entry: Entered, delivery_id: str, *, check: dict[str, Any] | None = None,
                   error: str | None = None, address: str = "", proofed: bool = False) -> Response:  # fmt: skip
    number = _number(delivery_id)
    if number is None:
        return _unknown("delivery", delivery_id)
    eng = engine_of(entry)
    try:
        found = campaign.get_delivery(eng, number)
    except AccordError as exc:
        return refusal(exc)
    try:
        preview, preview_error = campaign.preview_delivery(eng, number), None
    except AccordError as exc:
        preview, preview_error = None, exc.message
    log = delivery_log(eng, number, limit=LOG_ROWS_SHOWN)
    fared = campaign.engagement(eng, delivery=number, days=None)
    return entry.render("campaign/delivery.html", f"Delivery {found['name']}", delivery=found, preview=preview,
                        preview_error=preview_error, log=log, engagement=fared,
                        check=check or (found["counts"] or {}).get("proof"), checked_now=check is not None,
                        error=error, address=address, proofed=proofed)  # fmt: skip


@router.get("/ui/campaign/deliveries/{delivery_id}/preview", response_class=HTMLResponse)
def get_delivery_preview(request: Request, delivery_id: str, sandbox: str | None = None) -> Response:
    """The delivery's HTML part for a made-up recipient, alone, for the frame of the delivery's page."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    number = _number(delivery_id)
    try:
        if number is None:
            raise UnknownObjectError("delivery", delivery_id[:40])
        html = campaign.preview_delivery(engine_of(entry), number)["html"]
    except AccordError as exc:
        return refusal(exc)
    return HTMLResponse(html, headers=PREVIEW_HEADERS)


@router.post("/ui/campaign/deliveries/{delivery_id}/check", response_class=HTMLResponse)
def post_delivery_check(request: Request, delivery_id: str, sandbox: str | None = None, csrf_token: Csrf = ""
                        ) -> Response:  # fmt: skip
    """Check the delivery against its target's recipients now (it changes nothing): the page with the result."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    number = _number(delivery_id)
    if number is None:
        return _unknown("delivery", delivery_id)
    try:
        report = campaign.check_delivery(engine_of(entry), number)
    except AccordError as exc:
        if exc.kind in REFUSED:
            return refusal(exc)
        return _delivery_page(entry, delivery_id, error=f"The check found problems: {exc.message}")
    return _delivery_page(entry, delivery_id, check=report)


@router.post("/ui/campaign/deliveries/{delivery_id}/proof", response_class=HTMLResponse)
def post_delivery_proof(request: Request, delivery_id: str, sandbox: str | None = None, csrf_token: Csrf = "",
                        address: Address = "") -> Response:  # fmt: skip
    """Send a proof (subject `[PROOF] ...`) to the address typed in."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    number = _number(delivery_id)
    if number is None:
        return _unknown("delivery", delivery_id)
    address = address.strip()
    if not address or len(address) > ADDRESS_CHARS:
        problem = "Give the address to send the proof to." if not address else \
            f"An e-mail address is at most {ADDRESS_CHARS} characters; this one has {len(address):,}."  # fmt: skip
        return _delivery_page(entry, delivery_id, error=problem, address=address[:ADDRESS_CHARS])
    from accord.campaign.mailer import send_proof

    try:
        sent = send_proof(engine_of(entry), number, [address])
    except AccordError as exc:
        if exc.kind in REFUSED:
            return refusal(exc)
        return _delivery_page(entry, delivery_id, error=exc.message, address=address)
    if not sent["sent"]:
        outcome = sent["messages"][0]
        return _delivery_page(entry, delivery_id, address=address,
                              error=f"The proof was not sent ({outcome['status']}): {outcome['reason']}")  # fmt: skip
    return redirect(f"/ui/campaign/deliveries/{number}", sandbox=entry.sandbox, proof="sent")


@router.post("/ui/campaign/deliveries/{delivery_id}/send", response_class=HTMLResponse)
def post_delivery_send(request: Request, delivery_id: str, sandbox: str | None = None, csrf_token: Csrf = ""
                       ) -> Response:  # fmt: skip
    """Send the delivery to its target, as an operation the person can leave and come back to; sending again
    mails only those not yet sent to."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    number = _number(delivery_id)
    eng = engine_of(entry)
    try:
        if number is None:
            raise UnknownObjectError("delivery", delivery_id[:40])
        found = campaign.get_delivery(eng, number)
    except AccordError as exc:
        return refusal(exc)
    where = entry.sandbox

    def work(told: Told) -> str:
        told("finding the recipients of its target", None)

        def progress(done: int, total: int) -> None:
            told(f"{done:,} of {total:,} messages handed to the mail server", done / total if total else None)

        counts = campaign.send_delivery(eng, number, progress=progress)
        told(f"{counts['sent']:,} sent, {counts['bounced']:,} bounced, {counts['failed']:,} failed", 1.0)
        return f"/ui/campaign/deliveries/{number}?sandbox={quote(where)}"

    operation = operations_of(entry).start(f"Sending of delivery {found['name']}", entry.caller.user, where, work)
    return redirect(f"/ui/operations/{operation.id}", sandbox=where)
