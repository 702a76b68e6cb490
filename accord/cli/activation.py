"""CLI: activation flows (audiences out to a destination account) and their runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from accord import access, destinations, sources
from accord.cli.documents import read_document
from accord.cli.output import emit, new_table, out, plain, progress_bar
from accord.cli.state import JsonFlag, state
from accord.errors import InvalidInputError

activation_app = typer.Typer(help="Activation flows: audiences out to a destination, and their runs.",
                             no_args_is_help=True)  # fmt: skip

SCHEDULE_HELP = "once | daily@HH:MM | 3h | 6h | 8h | 12h | after-segment-job (times in UTC)."


def _mapping(document: Any, what: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidInputError(f"{what} must be a mapping of keys to values", code="ACCORD-0003-400")
    return document


def parse_schedule(text: str | None, start: str | None, end: str | None) -> dict[str, Any]:
    """`daily@08:00` -> {frequency: daily, time: 08:00}; the other forms name a frequency alone; none: the flow's
    default."""
    schedule: dict[str, Any] = {}
    frequency, _, clock = (text or "").partition("@")
    if frequency:
        schedule["frequency"] = frequency
    if clock:
        schedule["time"] = clock
    if start:
        schedule["start"] = start
    if end:
        schedule["end"] = end
    return schedule


@activation_app.command("create")
def activation_create(
    flow: str = typer.Argument(..., help="The flow's name."),
    destination: str = typer.Option(..., "--destination", help="The destination account."),
    segment: list[str] = typer.Option(..., "--segment", help="An audience (segment name or id); repeat for more."),
    mapping: Path = typer.Option(
        ..., "--mapping", help="YAML or JSON: mapping, mandatory, dedupKey, syncMode, file, limits."
    ),
    schedule: str | None = typer.Option(
        None, "--schedule", help=SCHEDULE_HELP + " Default: once, or the destination's most frequent schedule."
    ),
    start: str | None = typer.Option(None, "--start", help="First day (YYYY-MM-DD, UTC)."),
    end: str | None = typer.Option(None, "--end", help="Last day (YYYY-MM-DD, UTC)."),
    incremental: bool = typer.Option(False, "--incremental", help="Send only changes after the first (full) run."),
    sync_mode: str | None = typer.Option(
        None,
        "--sync-mode",
        help="insert, update, upsert or mirror: records keyed by the dedup key, each with its "
        "operation (the mapping file's syncMode).",
    ),
    as_json: bool = JsonFlag,
) -> None:
    """Activate audiences to a destination account: a flow, checked whole before it is stored."""
    document = _mapping(read_document(mapping), "the mapping file")
    if "audiences" in document:
        raise InvalidInputError(
            "give the audiences with --segment, not in the mapping file", code="ACTIVATION-0402-400"
        )
    when = parse_schedule(schedule, start, end)
    definition = {**document, "audiences": [{"segment": s, "schedule": when} for s in segment]}
    if incremental:
        definition["exportMode"] = "incremental"
    if sync_mode:
        definition["syncMode"] = sync_mode  # checked with the rest of the flow
    with state.workspace().catalog.session() as session:
        record = destinations.create_flow(session, state.sandbox, flow, destination, definition)
        shown = destinations.get_flow(session, state.sandbox, record.name)
    emit(
        shown,
        as_json,
        lambda d: out.print(
            f"activation flow [bold]{plain(d['name'])}[/] created: {len(d['audiences'])} audience(s) to "
            f"{plain(d['account'])}",
            markup=True,
        ),
    )


@activation_app.command("list")
def activation_list(as_json: bool = JsonFlag) -> None:
    """List activation flows and their state."""
    with state.workspace().catalog.session() as session:
        rows = destinations.list_flows(session, state.sandbox)

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("name", "account", "destination", "audiences", "mode", "state")
        for f in items:
            mode = f"sync {f['syncMode']}" if f.get("syncMode") else f["exportMode"]
            table.add_row(f["name"], f["account"], f["destination"], str(len(f["audiences"])), mode,
                          f["state"] + (f": {f['error']}" if f["error"] else ""))  # fmt: skip
        out.print(table)

    emit(rows, as_json, human)


@activation_app.command("show")
def activation_show(flow: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Show an activation flow."""
    with state.workspace().catalog.session() as session:
        emit(destinations.get_flow(session, state.sandbox, flow), True)


@activation_app.command("run")
def activation_run(
    flow: str = typer.Argument(...),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Count what would go out (added, changed, removed; with a sync mode, inserts, "
        "updates and deletes, and a few keys of each), and send nothing.",
    ),
    as_json: bool = JsonFlag,
) -> None:
    """Run an activation flow now; exit code 0 for success, 1 for failure."""
    workspace = state.workspace()
    with progress_bar(not as_json) as progress:

        def told(what: str, done: int, total: int) -> None:
            progress(what, done / total)

        result = destinations.run_activation(workspace, state.sandbox, flow, dry_run=dry_run, progress=told)
    emit(result, as_json, _describe_run)
    if result["status"] != "success":
        raise typer.Exit(1)


def _describe_run(r: dict[str, Any]) -> None:
    colour = "green" if r["status"] == "success" else "red"
    what = "would send" if r["dryRun"] else "sent" if r["status"] == "success" else "prepared"
    out.print(f"run [bold]{plain(r['id'])}[/] [{colour}]{plain(r['status'])}[/] "
              f"({'full' if r['full'] else 'incremental'}, {plain(r['durationSeconds'])} s): {r['profilesReceived']:,} "
              "profiles received", highlight=False, markup=True)  # fmt: skip
    for audience in r["audiences"]:
        changes = ", ".join(f"{n:,} {kind}" for kind, n in sorted(audience["changes"].items())) or "nothing"
        left_out = ", ".join(f"{n:,} {reason}" for reason, n in sorted(audience["excluded"].items()))
        out.print(f"  {audience['segment']}: {what} {changes}" + (f"; left out {left_out}" if left_out else ""),
                  highlight=False)  # fmt: skip
        for operation, keys in sorted(audience.get("samples", {}).items()):  # a dry run of a sync mode: a few keys
            shown = ", ".join(" ".join(f"{t}={v}" for t, v in key.items()) for key in keys)
            out.print(f"    {operation}: {shown}" + (", ..." if len(keys) < audience["changes"][operation] else ""),
                      highlight=False, markup=False)  # fmt: skip
    for file in r["files"]:
        out.print(f"  {file['sinkPath']} ({file['rows']:,} rows, {file['size']:,} bytes)", highlight=False)
    for error in r["errors"]:
        out.print(f"  [red]{plain(error['code'])}[/]: {plain(error['message'])}", highlight=False, markup=True)


@activation_app.command("runs")
def activation_runs(flow: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """A flow's runs, newest first."""
    rows = destinations.list_runs(state.workspace(), state.sandbox, flow)

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("id", "status", "started", "profiles", "files", "seconds")
        for r in items:
            table.add_row(r["id"], r["status"] + (" (dry run)" if r["dryRun"] else ""), r["startedAt"],
                          f"{r['profilesReceived']:,}", str(len(r["files"])), str(r["durationSeconds"]))  # fmt: skip
        out.print(table)

    emit(rows, as_json, human)


@activation_app.command("enable")
def activation_enable(flow: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Enable a flow (its schedules run again; a flow in error is cleared)."""
    with state.workspace().catalog.session() as session:
        destinations.set_state(session, state.sandbox, flow, "enabled")
    emit({"flow": flow, "state": "enabled"}, as_json, lambda _d: out.print(f"activation flow {flow} enabled"))


@activation_app.command("disable")
def activation_disable(flow: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Disable a flow: its schedules stop until it is enabled again."""
    with state.workspace().catalog.session() as session:
        destinations.set_state(session, state.sandbox, flow, "disabled")
    emit({"flow": flow, "state": "disabled"}, as_json, lambda _d: out.print(f"activation flow {flow} disabled"))


@activation_app.command("delete")
def activation_delete(flow: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Delete a flow and its runs (files already delivered stay where they landed)."""
    destinations.delete_flow(state.workspace(), state.sandbox, flow)
    emit({"deleted": flow}, as_json, lambda _d: out.print(f"activation flow {flow} deleted"))


@activation_app.command("deadletters")
def activation_deadletters(
    flow: str = typer.Argument(...),
    pending: bool = typer.Option(False, "--pending", help="Only those not yet replayed with success."),
    as_json: bool = JsonFlag,
) -> None:
    """Requests a streaming destination never accepted: the request (without credentials) and the last answer."""
    with state.workspace().catalog.session() as session:
        rows = destinations.list_dead_letters(session, state.sandbox, flow, pending=pending)

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("id", "run", "profiles", "answer", "attempts", "replayed", ids=("id", "run"))
        for d in items:
            answer = d["answer"] or {}
            said = str(answer.get("status") or answer.get("error") or answer.get("reason") or "-")
            table.add_row(d["id"], d["runId"] or "-", str(d["profiles"]), said, str(d["attempts"]),
                          d["replayStatus"] or "-")  # fmt: skip
        out.print(table)

    emit(rows, as_json, human)


@activation_app.command("replay")
def activation_replay(
    flow: str = typer.Argument(...),
    letter: str | None = typer.Option(None, "--letter", help="One dead letter (by id); default: all pending."),
    as_json: bool = JsonFlag,
) -> None:
    """Send a flow's dead letters again, oldest first; exit code 1 if any is refused again."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        box, roots = sources.SecretBox(workspace.settings.home), access.AllowedRoots.from_settings(workspace.settings)
        result = destinations.replay_dead_letters(session, box, state.sandbox, flow, letter, roots)
    emit(
        result,
        as_json,
        lambda r: out.print(
            f"{r['replayed']} dead letters sent again: {r['delivered']} delivered, {r['failed']} refused",
            highlight=False,
        ),
    )
    if result["failed"]:
        raise typer.Exit(1)
