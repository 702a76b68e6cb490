"""Dataflows and their runs: the list, a dataflow's page (its latest runs with their counts, rate and duration, a
chart of them, and the failed rows of its latest run by file and line), "Run now" as a long operation, and a run's
page. The wizard that makes a dataflow is `accord.web.dataflow_wizard`.

The same services as the API's routes: `list_dataflows`, `dataflow_document`, `list_runs` (limited to the latest
`RUNS_SHOWN`: a page never reads the whole history), `run_dataflow` (`POST /dataflows/{name}/runs`), `get_run`,
and `run_row_errors` (the batches' row diagnostics, read only as far as shown)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from accord.errors import AccordError
from accord.web.dataflow_wizard import router as wizard_router
from accord.web.operations import OperationFailed, Told, operations_of
from accord.web.pages import Entered, acted, entered, redirect, refusal, unknown
from accord.web.posted import Posted, posted_form

router = APIRouter(include_in_schema=False)
router.include_router(wizard_router)

LONGEST_NAME = 128
RUNS_SHOWN = 50
"""Runs on a dataflow's page and in its chart: the latest ones."""
LATEST_RUNS = 20
"""Runs of every dataflow on the list's page."""
ROW_ERRORS_SHOWN = 10
"""Failed rows of the latest run on a dataflow's page (its run's page shows `RUN_ROW_ERRORS`)."""
RUN_ROW_ERRORS = 200


@router.get("/ui/sources/dataflows", response_class=HTMLResponse)
def get_dataflows(request: Request, sandbox: str | None = None) -> Response:
    """The sandbox's dataflows (from the catalog, never the lake) and the latest runs of them all."""
    from accord import sources

    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    with entry.workspace.catalog.session() as session:
        flows = sources.list_dataflows(session, entry.sandbox)
        runs = sources.list_runs(session, entry.sandbox, limit=LATEST_RUNS)
    return entry.render("sources/dataflows.html", "Dataflows", dataflows=flows, runs=runs)


@router.get("/ui/sources/dataflows/{name}", response_class=HTMLResponse)
def get_dataflow(request: Request, name: str, sandbox: str | None = None) -> Response:
    from accord import sources
    from accord.catalog import resolve_sandbox

    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    try:
        if len(name) > LONGEST_NAME:
            raise unknown("dataflow", name)
        with entry.workspace.catalog.session() as session:
            sandbox_id = resolve_sandbox(session, entry.sandbox).id
            flow = sources.dataflow_document(session, sources.find_dataflow(session, sandbox_id, name))
            runs = sources.list_runs(session, entry.sandbox, name, RUNS_SHOWN)
        latest = next((r for r in runs if r["status"] != "running"), None)
        row_errors = sources.run_row_errors(entry.workspace, entry.sandbox, latest["id"], ROW_ERRORS_SHOWN) \
            if latest and latest["recordsFailed"] else []  # fmt: skip
    except AccordError as exc:
        return refusal(exc)
    return entry.render("sources/dataflow.html", f"Dataflow {name}", flow=flow, runs=runs, latest=latest,
                        row_errors=row_errors, chart=_chart(runs), shown=RUNS_SHOWN)  # fmt: skip


def _chart(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs' records over time, oldest first, for `static/charts.js` (the page gives the same as a table)."""
    timed = sorted((r for r in runs if r["startedAt"]), key=lambda r: r["startedAt"])
    return {"x": [int(datetime.fromisoformat(r["startedAt"]).timestamp()) for r in timed],
            "series": [{"label": "records ingested", "values": [r["recordsIngested"] for r in timed]},
                       {"label": "records failed", "values": [r["recordsFailed"] for r in timed]}]}  # fmt: skip


@router.post("/ui/dataflows/{name}/runs", response_class=HTMLResponse)
async def post_run(request: Request, name: str, sandbox: str | None = None) -> Response:
    posted = await posted_form(request)
    return await run_in_threadpool(_run_now, request, name, sandbox, posted)


def _run_now(request: Request, name: str, sandbox: str | None, posted: Posted) -> Response:
    """Start a run of the dataflow in the background; its operation's page shows how far it got, then links to
    the run."""
    from accord import sources
    from accord.catalog import resolve_sandbox

    entry = acted(request, sandbox, posted.one("csrf_token"))
    if not isinstance(entry, Entered):
        return entry
    ws, where = entry.workspace, entry.sandbox
    try:
        if len(name) > LONGEST_NAME:
            raise unknown("dataflow", name)
        with ws.catalog.session() as session:  # an unknown dataflow is said now, not by a failed operation
            sources.find_dataflow(session, resolve_sandbox(session, where).id, name)
    except AccordError as exc:
        return refusal(exc)

    def work(told: Told) -> str:
        told("starting the run", None)
        run = sources.run_dataflow(ws, where, name, progress=lambda step: told(step, None))
        shown = f"/ui/sources/runs/{quote(run['id'])}?sandbox={quote(where)}"
        if run["status"] == "failed":  # the run ended, failed: said so, with its first error, and shown
            said = run["errors"][0]["message"] if run["errors"] else "see the run"
            raise OperationFailed(f"the run failed: {said}", shown)
        return shown

    operation = operations_of(entry).start(f"Run of dataflow {name}", entry.caller.user, where, work)
    return redirect(f"/ui/operations/{operation.id}", sandbox=where)


@router.get("/ui/sources/runs/{run_id}", response_class=HTMLResponse)
def get_run(request: Request, run_id: str, sandbox: str | None = None) -> Response:
    """A run: its status, counts, rate and duration, what failed as a whole (a file that could not be read), and
    its failed rows by file and line."""
    from accord import sources

    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    try:
        if len(run_id) > LONGEST_NAME:
            raise unknown("run", run_id)
        with entry.workspace.catalog.session() as session:
            run = sources.get_run(session, entry.sandbox, run_id)
        row_errors = sources.run_row_errors(entry.workspace, entry.sandbox, run_id, RUN_ROW_ERRORS) \
            if run["recordsFailed"] else []  # fmt: skip
    except AccordError as exc:
        return refusal(exc)
    return entry.render("sources/run.html", f"Run of {run['dataflow']}", run=run, row_errors=row_errors,
                        most=RUN_ROW_ERRORS)  # fmt: skip
