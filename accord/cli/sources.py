"""CLI: the connector catalog, connections, dataflows and their runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from accord import access, sources
from accord.cli.documents import read_document
from accord.cli.output import emit, new_table, out, plain, progress_bar
from accord.cli.state import JsonFlag, state
from accord.errors import InvalidInputError

sources_app = typer.Typer(help="The connector catalog.", no_args_is_help=True)
connection_app = typer.Typer(help="Connections to sources (credentials are stored encrypted).", no_args_is_help=True)
dataflow_app = typer.Typer(help="Dataflows: a connection into a dataset, on a schedule.", no_args_is_help=True)
runs_app = typer.Typer(help="Dataflow runs.", no_args_is_help=True)


def _mapping(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidInputError("the document must be a mapping of keys to values", code="ACCORD-0003-400")
    return document


@sources_app.command("list")
def sources_list(as_json: bool = JsonFlag) -> None:
    """List the connectors that can be used here."""
    specs = [s.to_document() for s in sources.list_connectors()]

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("id", "name", "category", "secrets", "incremental")
        for s in items:
            table.add_row(
                s["id"],
                s["name"],
                s["category"],
                ", ".join(s["secretFields"]) or "-",
                "yes" if s["capabilities"]["supports_incremental"] else "no",
            )
        out.print(table)

    emit(specs, as_json, human)


@sources_app.command("show")
def sources_show(connector: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """A connector's spec: its configuration as JSON Schema, its capabilities."""
    emit(sources.connector_spec(connector).to_document(), True)


@connection_app.command("create")
def connection_create(
    name: str = typer.Argument(...),
    connector: str = typer.Option(..., "--connector", help="Connector id (see `accord sources list`)."),
    config: Path = typer.Option(..., "--config", help="Configuration file (YAML or JSON)."),
    as_json: bool = JsonFlag,
) -> None:
    """Create a connection; secret fields are encrypted and never shown again."""
    document = _mapping(read_document(config))
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        record = sources.create_connection(
            session,
            sources.SecretBox(workspace.settings.home),
            state.sandbox,
            name,
            connector,
            document,
            access.AllowedRoots.from_settings(workspace.settings),
        )
        shown = sources.connection_document(record)
    emit(
        shown,
        as_json,
        lambda d: out.print(f"connection [bold]{plain(d['name'])}[/] ({plain(d['connector'])}) created", markup=True),
    )


@connection_app.command("show")
def connection_show(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """A connection's settings, and which secrets it holds (never their values)."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        shown = sources.get_connection(session, state.sandbox, name)

    def human(d: dict[str, Any]) -> None:
        out.print(f"[bold]{plain(d['name'])}[/] ({plain(d['connector'])})", highlight=False, markup=True)
        for key, value in d["config"].items():
            out.print(f"  {key}: {value}", highlight=False, markup=False)
        for key in d["secretFields"]:
            out.print(f"  {key}: (secret, stored encrypted)", highlight=False, markup=False)

    emit(shown, as_json, human)


@connection_app.command("list")
def connection_list(as_json: bool = JsonFlag) -> None:
    """List connections (never their secrets)."""
    with state.sandbox_reader() as (reader, sandbox_id):
        rows = sources.read_connections(reader, sandbox_id)

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("name", "connector", "config", "secrets")
        for c in items:
            table.add_row(c["name"], c["connector"], ", ".join(f"{k}={v}" for k, v in c["config"].items()),
                          ", ".join(c["secretFields"]) or "-")  # fmt: skip
        out.print(table)

    emit(rows, as_json, human)


@connection_app.command("test")
def connection_test(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Test a connection step by step; on failure, says which step and what to do."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        result = sources.test_connection(
            session,
            sources.SecretBox(workspace.settings.home),
            state.sandbox,
            name,
            access.AllowedRoots.from_settings(workspace.settings),
        )

    def human(r: dict[str, Any]) -> None:
        for step in r["steps"]:
            mark = "[green]ok[/]" if step["ok"] else "[red]failed[/]"
            out.print(f"{mark} {plain(step['step'])}: {plain(step['message'])}", highlight=False, markup=True)
            if step.get("hint"):
                out.print(f"   what to do: {step['hint']}", highlight=False)

    emit(result, as_json, human)
    if not result["ok"]:
        raise typer.Exit(1)


@connection_app.command("delete")
def connection_delete(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Delete a connection that no dataflow uses."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        sources.delete_connection(session, state.sandbox, name)
    emit({"deleted": name}, as_json, lambda _d: out.print(f"connection {name} deleted"))


@dataflow_app.command("create")
def dataflow_create(
    name: str = typer.Argument(...),
    connection: str = typer.Option(..., "--connection"),
    dataset: str = typer.Option(..., "--dataset"),
    file: Path = typer.Option(None, "--file", help="Dataflow document: source, mapping, readOptions, schedule."),
    mapping: Path = typer.Option(None, "--mapping", help="Mapping set (YAML or JSON)."),
    every: str = typer.Option(None, "--every", help="Schedule: N minute|hour|day|week, e.g. '15 minute'."),
    no_backfill: bool = typer.Option(False, "--no-backfill", help="Ignore what is already there."),
    as_json: bool = JsonFlag,
) -> None:
    """Create a dataflow from a connection into a dataset."""
    document: dict[str, Any] = _mapping(read_document(file)) if file else {}
    document |= {"name": name, "connection": connection, "dataset": dataset}
    if mapping is not None:
        document["mapping"] = read_document(mapping)
    if every is not None:
        document["schedule"] = {**document.get("schedule", {}), **_every(every)}
    if no_backfill:
        document["backfill"] = False
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        record = sources.create_dataflow(session, state.sandbox, document)
        shown = sources.dataflow_document(session, record)
    emit(
        shown,
        as_json,
        lambda d: out.print(
            f"dataflow [bold]{plain(d['name'])}[/]: {plain(d['connection'])} -> {plain(d['dataset'])}", markup=True
        ),
    )


@dataflow_app.command("edit")
def dataflow_edit(
    name: str = typer.Argument(...),
    file: Path = typer.Option(None, "--file", help="Changes: source, mapping, readOptions, schedule, backfill..."),
    mapping: Path = typer.Option(None, "--mapping", help="A new mapping set (YAML or JSON)."),
    every: str = typer.Option(None, "--every", help="A new schedule: N minute|hour|day|week."),
    as_json: bool = JsonFlag,
) -> None:
    """Change a dataflow (not its connection or dataset); checked whole as on creation."""
    changes: dict[str, Any] = _mapping(read_document(file)) if file else {}
    if mapping is not None:
        changes["mapping"] = read_document(mapping)
    if every is not None:
        changes["schedule"] = _every(every)
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        shown = sources.update_dataflow(session, state.sandbox, name, changes)
    emit(shown, as_json, lambda d: out.print(f"dataflow [bold]{plain(d['name'])}[/] changed", markup=True))


def _every(text: str) -> dict[str, Any]:
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit():
        raise InvalidInputError("--every takes 'N unit', e.g. '15 minute' or '1 day'", code="SOURCE-0425-400")
    return {"interval": int(parts[0]), "frequency": parts[1].rstrip("s")}


@dataflow_app.command("list")
def dataflow_list(as_json: bool = JsonFlag) -> None:
    """List dataflows."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        rows = sources.list_dataflows(session, state.sandbox)

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("name", "connection", "dataset", "schedule", "enabled")
        for d in items:
            schedule = d["schedule"]
            when = (
                "once" if schedule["frequency"] == "once" else f"every {schedule['interval']} {schedule['frequency']}"
            )
            table.add_row(d["name"], d["connection"], d["dataset"], when, "yes" if d["enabled"] else "no")
        out.print(table)

    emit(rows, as_json, human)


@dataflow_app.command("run")
def dataflow_run(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Run a dataflow now; exit code 0 for success, 1 for partial or failed."""
    workspace = state.workspace()
    with progress_bar(not as_json) as progress:
        result = sources.run_dataflow(workspace, state.sandbox, name, progress=lambda m: progress(m, None))

    def human(r: dict[str, Any]) -> None:
        colour = "green" if r["status"] == "success" else "yellow" if r["status"] == "partial" else "red"
        out.print(
            f"run [bold]{plain(r['id'])}[/] [{colour}]{plain(r['status'])}[/]: {plain(r['files'])} files, "
            f"{r['recordsIngested']:,} records ingested, {r['recordsFailed']:,} failed "
            f"({plain(r['durationSeconds'])} s)",
            highlight=False,
            markup=True,
        )
        for error in r["errors"][:10]:
            out.print(f"  {error.get('item', '')} {error['code']}: {error['message']}", highlight=False)

    emit(result, as_json, human)
    if result["status"] != "success":
        raise typer.Exit(1)


def _toggle(name: str, enabled: bool, as_json: bool) -> None:
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        shown = sources.set_enabled(session, state.sandbox, name, enabled)
    emit(shown, as_json, lambda d: out.print(f"dataflow {d['name']} {'enabled' if enabled else 'disabled'}"))


@dataflow_app.command("enable")
def dataflow_enable(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Enable a dataflow (its schedule runs again)."""
    _toggle(name, True, as_json)


@dataflow_app.command("disable")
def dataflow_disable(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Disable a dataflow (its schedule stops)."""
    _toggle(name, False, as_json)


@dataflow_app.command("delete")
def dataflow_delete(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Delete a dataflow; the data it ingested stays in the dataset."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        sources.delete_dataflow(session, state.sandbox, name)
    emit({"deleted": name}, as_json, lambda _d: out.print(f"dataflow {name} deleted; its data is kept"))


@runs_app.command("list")
def runs_list(
    dataflow: str = typer.Option(None, "--dataflow"), limit: int = typer.Option(50, "--limit"), as_json: bool = JsonFlag
) -> None:
    """Recent runs with their counts and status."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        rows = sources.list_runs(session, state.sandbox, dataflow, limit)

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("id", "dataflow", "status", "files", "received", "ingested", "failed", "seconds", "started")
        for r in items:
            table.add_row(
                r["id"],
                r["dataflow"],
                r["status"],
                str(r["files"]),
                f"{r['recordsReceived']:,}",
                f"{r['recordsIngested']:,}",
                f"{r['recordsFailed']:,}",
                str(r["durationSeconds"]),
                (r["startedAt"] or "")[:19],
            )
        out.print(table)

    emit(rows, as_json, human)


@runs_app.command("show")
def runs_show(run_id: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """One run: status, counts, batches, errors."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        emit(sources.get_run(session, state.sandbox, run_id), True)


alert_app = typer.Typer(help="Alerts on runs of dataflows and activation flows: start, success, failure, delay, "
                        "skip rate.", no_args_is_help=True)  # fmt: skip


@alert_app.command("subscribe")
def alert_subscribe(
    event: str = typer.Option(
        ...,
        "--event",
        help="run.start|success|failure|delay (dataflows), "
        "activation.start|success|failure|delay|skipped (activation flows).",
    ),
    dataflow: str = typer.Option(None, "--dataflow", help="One dataflow (default: all of the sandbox)."),
    activation: str = typer.Option(None, "--activation", help="One activation flow (default: all of the sandbox)."),
    webhook: str = typer.Option(None, "--webhook", help="URL that receives each alert as JSON (POST)."),
    delay_minutes: int = typer.Option(None, "--delay-minutes", help="For *.delay: no success for this long."),
    skip_rate: float = typer.Option(None, "--skip-rate-percent", help="For activation.skipped: above this (1)."),
    as_json: bool = JsonFlag,
) -> None:
    """Subscribe to alerts; they are recorded, and sent to the webhook if one is given."""
    from accord.sources.alerts import subscribe

    document = {"event": event, "dataflow": dataflow, "activation": activation, "webhookUrl": webhook,
                "delayMinutes": delay_minutes, "skipRatePercent": skip_rate}  # fmt: skip
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        created = subscribe(session, state.sandbox, {k: v for k, v in document.items() if v is not None})
    emit(
        created,
        as_json,
        lambda d: out.print(
            f"subscribed to {d['event']} ({d['dataflow'] or d['activation'] or 'every flow of the sandbox'})"
        ),
    )


@alert_app.command("subscriptions")
def alert_subscriptions(as_json: bool = JsonFlag) -> None:
    """List alert subscriptions."""
    from accord.sources.alerts import list_subscriptions

    workspace = state.workspace()
    with workspace.catalog.session() as session:
        rows = list_subscriptions(session, state.sandbox)
    emit(rows, True)  # short documents: JSON is their readable form


@alert_app.command("list")
def alert_list(limit: int = typer.Option(50, "--limit"), as_json: bool = JsonFlag) -> None:
    """Alerts raised, newest first, with how their delivery went."""
    from accord.sources.alerts import list_alerts

    workspace = state.workspace()
    with workspace.catalog.session() as session:
        rows = list_alerts(session, state.sandbox, limit)

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("when", "event", "flow", "delivery", "message")
        for a in items:
            table.add_row(a["createdAt"][:19], a["event"], a["dataflow"] or a["activation"] or "", a["delivery"],
                          a["message"][:80])  # fmt: skip
        out.print(table)

    emit(rows, as_json, human)
