"""Privacy jobs: the sandbox's jobs, a job's report per store (and an access job's bundle), and the form that
starts one. The request is checked whole on the form; a delete is confirmed first; the job then runs as a long
operation (`accord.web.operations`) whose page shows how far it got and links to the job."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException

from accord import access, governance
from accord.errors import AccordError, InvalidInputError
from accord.web.governance.fields import checked_name
from accord.web.operations import Told, operations_of
from accord.web.pages import SECURITY_HEADERS, Entered, acted, entered, redirect, refusal

router = APIRouter(include_in_schema=False)
LISTED = 50
"""Jobs the page lists, newest first."""
ROWS, MORE = 3, 5
"""Identity rows the form starts with, and how many "More rows" adds (up to what a request may hold)."""
VALUE = 1024
"""The longest identity value a row may carry."""


@router.get("/ui/governance/privacy", response_class=HTMLResponse)
def get_privacy(request: Request, sandbox: str | None = None) -> Response:
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _privacy_page(entry, "access", [("Email", "")] * ROWS)


@router.post("/ui/privacy/jobs", response_class=HTMLResponse)
async def post_privacy_job(request: Request, sandbox: str | None = None) -> Response:
    """Check the request (every problem beside its row), ask for a delete's confirmation, then start the job in
    the background and show its operation. The form is read here, for it may hold a row per identity a request
    may (two fields each, past the thousand fields a form is otherwise read with)."""
    try:
        form = await request.form(max_fields=2 * governance.MAX_IDENTITIES + 10)
    except HTTPException as exc:
        return refusal(InvalidInputError(f"the form cannot be read: {exc.detail}"))
    text = {name: str(form.get(name) or "") for name in ("kind", "step", "csrf_token")}
    rows = list(zip(map(str, form.getlist("namespace")), map(str, form.getlist("value")), strict=False))
    return await run_in_threadpool(_asked, request, sandbox, text["kind"], rows, text["step"], text["csrf_token"])


def _asked(request: Request, sandbox: str | None, kind: str, given: list[tuple[str, str]], step: str,
           csrf_token: str) -> Response:  # fmt: skip
    """`step`: `more` adds rows, `edit` shows the form again, `confirm` runs a delete that was confirmed; else the
    request is checked, and an access job started or a delete's confirmation asked for."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    kind = kind[:16] or "access"  # the service names a kind it does not know: a long one is cut first
    rows = given[: governance.MAX_IDENTITIES]  # shown again; more are refused by the service, not cut here
    if step == "more":
        return _privacy_page(entry, kind, rows + [("Email", "")] * min(MORE, governance.MAX_IDENTITIES - len(rows)))
    if step == "edit":
        return _privacy_page(entry, kind, rows)
    asked = [(number, ns.strip(), value.strip()) for number, (ns, value) in enumerate(given, 1) if value.strip()]
    long = [number for number, ns, value in asked if len(value) > VALUE or len(ns) > 64]
    if long:
        return _privacy_page(entry, kind, rows, {n: f"at most {VALUE:,} characters" for n in long},
                             "The job was not started: see the rows marked.")  # fmt: skip
    if not asked:
        return _privacy_page(entry, kind, rows, error="Give at least one identity: a namespace and a value.")
    try:
        checked = governance.check_privacy_request(entry.workspace, entry.sandbox, kind,
                                                   [{"namespace": ns, "value": value} for _n, ns, value in asked],
                                                   [f"row {number}" for number, _ns, _value in asked])  # fmt: skip
    except AccordError as exc:
        return _privacy_page(entry, kind, rows, _by_row(exc), exc.message)
    identities = [i.to_document() for i in checked]
    if kind == "delete" and step != "confirm":
        return entry.render("governance/privacy_confirm.html", "Confirm the delete", identities=identities,
                            rows=rows)  # fmt: skip
    return _started(entry, kind, identities)


def _by_row(exc: AccordError) -> dict[int, str]:
    found: dict[int, list[str]] = {}
    for problem in exc.details.get("problems") or []:
        number = re.match(r"row (\d+)", str(problem.get("path", "")))
        if number:
            found.setdefault(int(number[1]), []).append(str(problem.get("message", "")))
    return {row: "; ".join(messages) for row, messages in found.items()}


def _started(entry: Entered, kind: str, identities: list[dict[str, str]]) -> Response:
    """The job, run by the operations' worker: its progress told as the service tells it, its page the result."""
    ws, sandbox, caller = entry.workspace, entry.sandbox, entry.caller
    withheld = access.campaign_withheld(caller, changes=kind == "delete")

    def work(told: Told) -> str:
        job = governance.run_privacy_job(ws, sandbox, kind, identities, requested_by=caller.described,
                                         progress=told, campaign_withheld=withheld)  # fmt: skip
        return f"/ui/governance/privacy/{job['id']}?sandbox={sandbox}"

    people = f"{len(identities)} identit{'y' if len(identities) == 1 else 'ies'}"
    operation = operations_of(entry).start(f"Privacy {kind} job ({people})", caller.user, sandbox, work)
    return redirect(f"/ui/operations/{operation.id}", sandbox=sandbox)


def _privacy_page(entry: Entered, kind: str, rows: list[tuple[str, str]], row_errors: dict[int, str] | None = None,
                  error: str | None = None) -> Response:  # fmt: skip
    from accord.identity import list_namespaces

    try:
        jobs = governance.list_privacy_jobs(entry.workspace, entry.sandbox, LISTED)
        with entry.workspace.catalog.session() as session:
            known = [n.symbol for n in list_namespaces(session, entry.sandbox)]
    except AccordError as exc:
        return refusal(exc)
    return entry.render("governance/privacy.html", "Privacy jobs", jobs=jobs, namespaces=known, kind=kind,
                        rows=rows or [("Email", "")], row_errors=row_errors or {}, error=error,
                        most=governance.MAX_IDENTITIES)  # fmt: skip


@router.get("/ui/governance/privacy/{job_id}", response_class=HTMLResponse)
def get_privacy_job(request: Request, job_id: str, sandbox: str | None = None) -> Response:
    """A job: its status, what it found (and removed) in each store, and why a store was not reached."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    try:
        checked_name(job_id, "privacy job")
        job = governance.get_privacy_job(entry.workspace, entry.sandbox, job_id)
    except AccordError as exc:
        return refusal(exc)
    return entry.render("governance/privacy_job.html", f"Privacy {job['kind']} job", job=job)


@router.get("/ui/governance/privacy/{job_id}/bundle")
def get_privacy_bundle(request: Request, job_id: str, sandbox: str | None = None) -> Response:
    """An access job's bundle, to download."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    try:
        checked_name(job_id, "privacy job")
        path = governance.privacy_bundle(entry.workspace, entry.sandbox, job_id)
    except AccordError as exc:
        return refusal(exc)
    return FileResponse(path, media_type="application/json", filename=f"privacy-{job_id}.json",
                        headers=SECURITY_HEADERS)  # fmt: skip
