"""CLI: identity namespaces."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from accord import identity
from accord.cli.output import emit, out
from accord.cli.state import JsonFlag, state

identity_app = typer.Typer(help="Identity namespaces (the identity graph comes next).", no_args_is_help=True)


@identity_app.command("namespaces")
def namespaces_list(as_json: bool = JsonFlag) -> None:
    """List the standard and custom identity namespaces."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        rows = [n.to_document() for n in identity.list_namespaces(session, state.sandbox)]

    def human(items: list[dict[str, Any]]) -> None:
        table = Table("symbol", "name", "type", "graph", "kind")
        for n in items:
            table.add_row(n["symbol"], n["name"], n["type"], "yes" if n["buildsGraph"] else "no",
                          "standard" if n["standard"] else "custom")  # fmt: skip
        out.print(table)

    emit(rows, as_json, human)


@identity_app.command("create")
def namespace_create(
    symbol: str = typer.Argument(..., help="Symbol, e.g. LoyaltyID; it can never change or be reused."),
    identity_type: str = typer.Option(
        ..., "--type", help="cookie, cross_device, device, email, phone, non_people, partner_id."
    ),
    name: str = typer.Option("", "--name"),
    description: str = typer.Option("", "--description"),
    as_json: bool = JsonFlag,
) -> None:
    """Create a custom identity namespace."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        created = identity.create_namespace(session, state.sandbox, symbol, name, identity_type, description)
    emit(created.to_document(), as_json, lambda d: out.print(f"namespace [bold]{d['symbol']}[/] ({d['type']}) created"))
