"""CLI: `accord campaign workflow ...` (documents from files, runs), and `accord campaign import`, `loads`
and `bounces`. The service functions do the checking; these commands say what came of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from accord.cli.output import emit, new_table, out, plain
from accord.cli.state import JsonFlag, state

workflow_app = typer.Typer(help="Workflows: documents of activities, run on a schedule or now, resumed after a "
                           "failure.", no_args_is_help=True)  # fmt: skip

FileOption = typer.Option(..., "--file", "-f", help="The workflow document, YAML or JSON (see docs/campaign.md).")


def _read(path: Path) -> str:
    """The document's text: the workflow's own parser says where a YAML or JSON text is wrong."""
    from accord.errors import InvalidInputError

    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInputError(f"cannot read {path}: {reason}", code="ACCORD-0002-400") from None


def show_run(run: dict[str, Any]) -> None:
    """A run and its activities, for people."""
    ended = f", ended {run['endedAt']}" if run["endedAt"] else ""
    waiting = f", waits until {run['waitUntil']}" if run["waitUntil"] else ""
    out.print(f"run {plain(run['id'])} of workflow [bold]{plain(run['workflow'])}[/]: {plain(run['status'])} "
              f"(started {plain(run['startedAt'])}{plain(ended)}{plain(waiting)})", highlight=False,
              markup=True)  # fmt: skip
    if run["error"]:
        out.print(f"  error: {run['error']}", highlight=False, markup=False)
    table = new_table("activity", "type", "status", "counts", "error")
    for a in run.get("activities") or []:
        counts = ", ".join(f"{k} {v}" for k, v in a["counts"].items() if not isinstance(v, dict | list))
        table.add_row(a["activity"], a["type"], a["status"], counts or "-", a["error"] or "-")
    out.print(table)
    if run["status"] == "failed":
        out.print(f"fix the cause, then `accord campaign workflow resume {run['id']}`", highlight=False)


def _show_workflow(d: dict[str, Any]) -> None:
    chain = " -> ".join(f"{a['name']} ({a['type']})" for a in d["activities"])
    out.print(f"workflow [bold]{plain(d['name'])}[/] ({'enabled' if d['enabled'] else 'disabled'}): {plain(chain)}",
              highlight=False, markup=True)  # fmt: skip


@workflow_app.command("create")
def workflow_create(file: Path = FileOption, as_json: bool = JsonFlag) -> None:
    """Keep a new workflow from a file; the whole document is checked first, every problem said."""
    from accord.campaign import workflows

    emit(workflows.create_workflow(state.campaign(), _read(file)), as_json, _show_workflow)


@workflow_app.command("update")
def workflow_update(
    name: str = typer.Argument(...), file: Path = typer.Option(None, "--file", "-f", help="The new document."),
    enable: bool = typer.Option(None, "--enable/--disable", help="Start (or stop) its schedule."),
    as_json: bool = JsonFlag,
) -> None:  # fmt: skip
    """Replace a workflow's document (its name stays), or only enable or disable it."""
    from accord.campaign import workflows

    engine = state.campaign()
    if file is not None:
        document: Any = _read(file)
    else:
        current = workflows.get_workflow(engine, name)
        document = {k: current[k] for k in ("name", "label", "schedule", "activities") if current.get(k) is not None}
    emit(workflows.update_workflow(engine, name, document, enabled=enable), as_json, _show_workflow)


@workflow_app.command("list")
def workflow_list(as_json: bool = JsonFlag) -> None:
    """The workflows."""
    from accord.campaign import workflows

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("name", "label", "activities", "enabled", "updated")
        for w in items:
            table.add_row(w["name"], w.get("label") or "-", str(len(w["activities"])), "yes" if w["enabled"] else "no",
                          w["updatedAt"])  # fmt: skip
        out.print(table)

    emit(workflows.list_workflows(state.campaign()), as_json, human)


@workflow_app.command("show")
def workflow_show(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """A workflow's document."""
    from accord.campaign import workflows

    emit(workflows.get_workflow(state.campaign(), name), as_json, _show_workflow)


@workflow_app.command("delete")
def workflow_delete(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Delete a workflow and its runs' records."""
    from accord.campaign import workflows

    workflows.delete_workflow(state.campaign(), name)
    emit({"name": name, "deleted": True}, as_json, lambda _d: out.print(f"workflow {name} deleted", highlight=False))


@workflow_app.command("run")
def workflow_run(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Run a workflow now, as far as it goes (its end, a failure, or a wait)."""
    from accord.campaign import workflows

    run = workflows.run_workflow(state.campaign(), name)
    emit(run, as_json, show_run)
    if run["status"] == "failed":  # as `activation run`: a script can tell
        raise typer.Exit(1)


@workflow_app.command("resume")
def workflow_resume(run_id: int = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Take a failed or waiting run on from where it stopped: what succeeded is not run again."""
    from accord.campaign import workflows

    run = workflows.resume_workflow(state.campaign(), run_id)
    emit(run, as_json, show_run)
    if run["status"] == "failed":
        raise typer.Exit(1)


@workflow_app.command("runs")
def workflow_runs(
    name: str = typer.Argument(...), limit: int = typer.Option(20, "--limit", min=1, max=500), as_json: bool = JsonFlag
) -> None:
    """A workflow's runs, newest first."""
    from accord.campaign import workflows

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("id", "status", "trigger", "started", "ended", "error")
        for r in items:
            table.add_row(str(r["id"]), r["status"], r["trigger"], r["startedAt"] or "-", r["endedAt"] or "-",
                          r["error"] or "-")  # fmt: skip
        out.print(table)

    emit(workflows.list_runs(state.campaign(), name, limit=limit), as_json, human)


@workflow_app.command("show-run")
def workflow_show_run(run_id: int = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """A run with its activities' counts and errors."""
    from accord.campaign import workflows

    emit(workflows.get_run(state.campaign(), run_id), as_json, show_run)


def campaign_import(as_json: bool = JsonFlag) -> None:
    """Run the audience import now: the audience files in the landing folder into recipients and lists."""
    from accord.campaign.imports import import_audiences

    emit(import_audiences(state.campaign()), as_json, show_run)


def campaign_loads(
    run: int = typer.Option(None, "--run", help="Only the files of this import run."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000), as_json: bool = JsonFlag,
) -> None:  # fmt: skip
    """The audit of audience files, newest first: loaded, inserted, updated, rejected, removed, or why refused."""
    from accord.campaign.imports import audience_loads

    def human(items: list[dict[str, Any]]) -> None:  # lines, not a table: file names are long and copied whole
        for x in items:
            counts = ", ".join(f"{x[k]:,} {k}" for k in ("loaded", "inserted", "updated", "rejected", "removed"))
            outcome = f"refused: {x['error']}" if x["error"] else f"list {x['list']}: {counts}"
            out.print(f"run {x['run']} {x['file']} ({x['createdAt']}) {outcome}", highlight=False, markup=False)
            for reject in x["rejects"][:5]:
                out.print(f"    rejected {reject}", highlight=False, markup=False)
        if not items:
            out.print("no audience file loaded yet")

    emit(audience_loads(state.campaign(), run_id=run, limit=limit), as_json, human)


def campaign_bounces(as_json: bool = JsonFlag) -> None:
    """Read the new bounce messages of the bounce mailbox now and mark their send-log rows bounced."""
    from accord import campaign

    def human(d: dict[str, Any]) -> None:
        out.print(f"{d['read']:,} read: {d['hard']:,} hard bounces (suppressed), {d['soft']:,} soft, "
                  f"{d['ignored']:,} other reports, {d['unmatched']:,} matching no message, "
                  f"{d['unreadable']:,} unreadable (left in new/)", highlight=False)  # fmt: skip

    emit(campaign.process_bounces(state.campaign()), as_json, human)
