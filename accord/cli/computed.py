"""CLI: computed attributes (profile attributes aggregated from events), their status and refreshes.

`accord computed ...`: short to type beside `accord segment`, and what the reference product's users call them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from accord import segment
from accord.cli.documents import read_document
from accord.cli.output import emit, new_table, out
from accord.cli.state import JsonFlag, state

computed_app = typer.Typer(help="Computed attributes: profile attributes aggregated from events within a lookback.",
                           no_args_is_help=True)  # fmt: skip

LOOKBACK_HELP = 'The lookback, a number and a unit: "30 days", "12 hours", "2 weeks", "3 months" (at most 90 days).'


def _duration(text: str) -> dict[str, Any]:
    count, _, unit = text.strip().partition(" ")
    return {"count": count, "unit": unit.strip()}


def _human(d: dict[str, Any]) -> None:
    out.print(f"{d['name']} ({d['status']}): {d['expression']['value']} over {d['duration']['count']} "
              f"{d['duration']['unit'].lower()}; {d['path']}", highlight=False)  # fmt: skip
    if d.get("description"):
        out.print(f"  {d['description']}", highlight=False)


@computed_app.command("create")
def computed_create(
    name: str = typer.Argument(None, help="Letters and digits (or give --file)."),
    pql: str = typer.Option(None, "--pql", help="xEvent[<filter>].<function>(<field>), e.g. xEvent.count()"),
    lookback: str = typer.Option("30 days", "--lookback", help=LOOKBACK_HELP),
    display_name: str = typer.Option("", "--display-name"),
    description: str = typer.Option("", "--description"),
    draft: bool = typer.Option(False, "--draft", help="Save it as a draft: not yet a profile field."),
    file: Path = typer.Option(None, "--file", "-f", help="The whole document, as the API takes it (JSON or YAML)."),
    as_json: bool = JsonFlag,
) -> None:
    """Create a computed attribute."""
    if file is not None:
        document = read_document(file)
    else:
        # a name or an expression not given is missing from the document (told so), not null
        document = {"displayName": display_name, "description": description, "duration": _duration(lookback),
                    "expression": {"type": "PQL", **({"value": pql} if pql is not None else {})},
                    "status": "DRAFT" if draft else "NEW", **({"name": name} if name is not None else {})}  # fmt: skip
    with state.workspace().catalog.session() as session:
        created = segment.create_computed_attribute(session, state.sandbox, document)
    emit(created, as_json, _human)


@computed_app.command("update")
def computed_update(
    name: str = typer.Argument(..., help="The computed attribute (name or id)."),
    pql: str = typer.Option(None, "--pql", help="A new expression."),
    lookback: str = typer.Option(None, "--lookback", help=LOOKBACK_HELP),
    display_name: str = typer.Option(None, "--display-name"),
    description: str = typer.Option(None, "--description"),
    status: str = typer.Option(None, "--status", help="NEW (publish a draft, enable again), DISABLED or DRAFT."),
    as_json: bool = JsonFlag,
) -> None:
    """Change a computed attribute; what is not given is kept."""
    given = (("displayName", display_name), ("description", description), ("status", status))
    change: dict[str, Any] = {key: value for key, value in given if value is not None}
    if pql is not None:
        change["expression"] = {"type": "PQL", "value": pql}
    if lookback is not None:
        change["duration"] = _duration(lookback)
    with state.workspace().catalog.session() as session:
        changed = segment.update_computed_attribute(session, state.sandbox, name, change)
    emit(changed, as_json, _human)


@computed_app.command("list")
def computed_list(as_json: bool = JsonFlag) -> None:
    """The computed attributes of the sandbox."""
    with state.workspace().catalog.session() as session:
        rows = segment.list_computed_attributes(session, state.sandbox)

    def human(found: list[dict[str, Any]]) -> None:
        table = new_table("name", "status", "expression", "lookback", "last evaluated")
        for d in found:
            lookback = f"{d['duration']['count']} {d['duration']['unit'].lower()}"
            table.add_row(d["name"], d["status"], d["expression"]["value"], lookback, d["lastEvaluatedAt"] or "-")
        out.print(table)

    emit(rows, as_json, human)


@computed_app.command("show")
def computed_show(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """One computed attribute: its definition, status and last evaluation."""
    with state.workspace().catalog.session() as session:
        found = segment.computed_attribute_document(segment.find_computed_attribute(session, state.sandbox, name))
    emit(found, as_json, _human)


@computed_app.command("delete")
def computed_delete(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Delete a computed attribute (refused while segments or activation flows read it)."""
    with state.workspace().catalog.session() as session:
        gone = segment.delete_computed_attribute(session, state.sandbox, name)
    emit(gone, as_json, lambda d: out.print(f"computed attribute {d['name']} deleted"))


@computed_app.command("refresh")
def computed_refresh(as_json: bool = JsonFlag) -> None:
    """Evaluate every active computed attribute over every profile now (segment jobs do it first too)."""
    done = segment.refresh_computed_attributes(state.workspace(), state.sandbox)
    emit(done, as_json, lambda d: out.print(f"{len(d['evaluated'])} computed attribute(s) evaluated over "
                                            f"{d['profiles']} profiles"))  # fmt: skip
