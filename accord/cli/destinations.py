"""CLI: the destination catalog, destination accounts, and declared HTTP destinations (`validate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from accord import access, destinations, sources
from accord.cli.documents import read_document
from accord.cli.output import emit, new_table, out, plain
from accord.cli.state import JsonFlag, state
from accord.errors import InvalidInputError

destinations_app = typer.Typer(help="The destination catalog.", no_args_is_help=True)
destination_app = typer.Typer(help="Destination accounts (credentials stored encrypted) and declared destinations.",
                              no_args_is_help=True)  # fmt: skip


def _mapping(document: Any, what: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidInputError(f"{what} must be a mapping of keys to values", code="ACCORD-0003-400")
    return document


@destinations_app.command("list")
def destinations_list(as_json: bool = JsonFlag) -> None:
    """List the destinations that can be used here."""
    specs = [s.to_document() for s in destinations.list_destinations()]

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("id", "name", "category", "export", "delivery", "secrets")
        for s in items:
            table.add_row(s["id"], s["name"], s["category"], s["exportType"], s["delivery"],
                          ", ".join(s["secretFields"]) or "-")  # fmt: skip
        out.print(table)

    emit(specs, as_json, human)


ActionsOption = typer.Option(
    [],
    "--marketing-action",
    "-a",
    help="A marketing action every flow through the account "
    "performs besides its destination's (repeat for several; see `accord action list`).",
)
"""What an account's flows do with data, for data usage policies (a file destination declares none itself)."""


@destinations_app.command("show")
def destinations_show(destination: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """A destination's spec: its configuration as JSON Schema, schedules, file options and limits."""
    emit(destinations.destination_spec(destination).to_document(), True)


@destination_app.command("connect")
def destination_connect(
    name: str = typer.Argument(...),
    destination: str = typer.Option(..., "--destination", help="Destination id (see `accord destinations list`)."),
    config: Path = typer.Option(..., "--config", help="Configuration file (YAML or JSON)."),
    actions: list[str] = ActionsOption,
    as_json: bool = JsonFlag,
) -> None:
    """Create a destination account; secret fields are encrypted and never shown again."""
    document = _mapping(read_document(config), "the configuration")
    workspace = state.workspace()
    access.require_for_account(state.acting(), destination, state.sandbox)
    with workspace.catalog.session() as session:
        roots = access.AllowedRoots.from_settings(workspace.settings)
        record = destinations.create_account(session, sources.SecretBox(workspace.settings.home), state.sandbox,
                                             name, destination, document, roots, actions)  # fmt: skip
        shown = destinations.account_document(record)
    emit(
        shown,
        as_json,
        lambda d: out.print(
            f"destination account [bold]{plain(d['name'])}[/] ({plain(d['destination'])}) created", markup=True
        ),
    )


@destination_app.command("actions")
def destination_actions(
    name: str = typer.Argument(...),
    actions: list[str] = ActionsOption,
    as_json: bool = JsonFlag,
) -> None:
    """Set the marketing actions every flow through an account performs (replacing its others; none: clears
    them); refused, nothing changed, when a flow through it would then break an enabled policy."""
    with state.workspace().catalog.session() as session:
        shown = destinations.set_account_actions(session, state.sandbox, name, actions)
    emit(shown, as_json, lambda d: out.print(f"destination account [bold]{plain(d['name'])}[/]: marketing actions "
                                             f"{plain(', '.join(d['marketingActions']) or 'none of its own')}",
                                             markup=True))  # fmt: skip


@destination_app.command("list")
def destination_list(as_json: bool = JsonFlag) -> None:
    """List destination accounts (never their secrets)."""
    with state.workspace().catalog.session() as session:
        rows = destinations.list_accounts(session, state.sandbox)

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("name", "destination", "config", "secrets", "marketing actions")
        for a in items:
            table.add_row(a["name"], a["destination"], ", ".join(f"{k}={v}" for k, v in a["config"].items()),
                          ", ".join(a["secretFields"]) or "-", ", ".join(a["marketingActions"]) or "-")  # fmt: skip
        out.print(table)

    emit(rows, as_json, human)


@destination_app.command("show")
def destination_show(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Show a destination account (never its secrets)."""
    with state.workspace().catalog.session() as session:
        emit(destinations.get_account(session, state.sandbox, name), True)


@destination_app.command("test")
def destination_test(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Test a destination account step by step; on failure, says which step and what to do."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        result = destinations.test_account(session, sources.SecretBox(workspace.settings.home), state.sandbox, name,
                                           access.AllowedRoots.from_settings(workspace.settings))  # fmt: skip

    def human(r: dict[str, Any]) -> None:
        for step in r["steps"]:
            mark = "[green]ok[/]" if step["ok"] else "[red]failed[/]"
            out.print(f"{mark} {plain(step['step'])}: {plain(step['message'])}", highlight=False, markup=True)
            if step.get("hint"):
                out.print(f"    {step['hint']}", highlight=False)

    emit(result, as_json, human)
    if not result["ok"]:
        raise typer.Exit(1)


@destination_app.command("delete")
def destination_delete(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Delete a destination account that no activation flow uses."""
    with state.workspace().catalog.session() as session:
        destinations.delete_account(session, state.sandbox, name)
    emit({"deleted": name}, as_json, lambda _d: out.print(f"destination account {name} deleted"))


@destination_app.command("validate")
def destination_validate(
    file: Path = typer.Argument(..., help="A declared HTTP destination (YAML or JSON)."),
    rows: Path = typer.Option(None, "--rows", help="Profile rows to render the sample from (JSON or YAML list)."),
    as_json: bool = JsonFlag,
) -> None:
    """Check a declared HTTP destination whole (every problem, with its path) and print a sample request."""
    from accord.destinations.streaming.declared import validate_declared_file

    sample_rows = read_document(rows) if rows is not None else None
    if sample_rows is not None and not isinstance(sample_rows, list):
        raise InvalidInputError(f"{rows} must hold a list of profile rows", code="DEST-0425-400")
    emit(validate_declared_file(file, sample_rows), as_json, _show)


def _show(result: dict[str, Any]) -> None:
    spec = result["destination"]
    out.print(f"{result['file']}: destination {spec['id']!r} ({spec['name']}, {spec['category']}, "
              f"{spec['exportType']}-based) is valid.", highlight=False)  # fmt: skip
    for index, request in enumerate(result["sample"], 1):
        out.print(f"\nSample request {index} of {len(result['sample'])} ({len(request['profiles'])} profiles):",
                  highlight=False)  # fmt: skip
        out.print(f"{request['method']} {request['url']}", highlight=False, markup=False)
        for name, value in request["headers"].items():
            out.print(f"{name}: {value}", highlight=False, markup=False)
        out.print("")
        out.print(request["body"], highlight=False, markup=False)
