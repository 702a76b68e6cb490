"""CLI: schemas and field groups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from accord import schema
from accord.cli.documents import parse_identity, read_document
from accord.cli.output import emit, new_table, out, plain
from accord.cli.state import JsonFlag, state
from accord.errors import InvalidInputError

schema_app = typer.Typer(help="XDM schemas: create, show, update, export.", no_args_is_help=True)
fieldgroup_app = typer.Typer(help="Field groups: standard and custom (`_tenant`).", no_args_is_help=True)


def _schema_summary(doc: dict[str, Any]) -> None:
    out.print(
        f"[bold]{plain(doc['name'])}[/] ({plain(doc['class'])}, version {plain(doc['version'])}) field groups: "
        f"{plain(', '.join(doc['fieldGroups']) or '-')}",
        highlight=False,
        markup=True,
    )
    for identity in doc["identities"]:
        out.print(
            f"  identity {identity['path']} -> {identity['namespace']}{' (primary)' if identity['primary'] else ''}"
        )
    table = new_table("path", "type", "rules")
    resolved_fields = schema.parse_fields_document(doc["fields"])
    for path, spec in schema.walk(resolved_fields):
        if spec.type.value != "object":
            rules = [
                r
                for r in (
                    "required" if spec.required else "",
                    spec.format or "",
                    f"enum {spec.enum}" if spec.enum else "",
                    f"pattern {spec.pattern}" if spec.pattern else "",
                    f"maxLength {spec.max_length}" if spec.max_length else "",
                )
                if r
            ]
            table.add_row(path, spec.type.value, ", ".join(rules))
    out.print(table)


@schema_app.command("create")
def schema_create(
    name: str = typer.Argument(..., help="Schema name."),
    class_name: str = typer.Option(..., "--class", help="profile or experienceevent."),
    field_groups: list[str] = typer.Option([], "--field-group", "-g", help="Field group (repeat)."),
    identities: list[str] = typer.Option([], "--identity", help="PATH=NAMESPACE[:primary] (repeat)."),
    title: str = typer.Option("", "--title"),
    as_json: bool = JsonFlag,
) -> None:
    """Create a schema from a class and field groups."""
    document = {
        "name": name,
        "title": title,
        "class": class_name,
        "fieldGroups": field_groups,
        "identities": [parse_identity(i) for i in identities],
    }
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        created = schema.create_schema(session, state.sandbox, document).to_document()
    emit(
        created,
        as_json,
        lambda d: out.print(
            f"schema [bold]{plain(d['name'])}[/] created "
            f"({len(schema.leaves(schema.parse_fields_document(d['fields'])))} fields)",
            markup=True,
        ),
    )


@schema_app.command("update")
def schema_update(
    name: str = typer.Argument(...),
    add_field_groups: list[str] = typer.Option([], "--add-field-group", "-g", help="Field group to add (repeat)."),
    add_identities: list[str] = typer.Option([], "--add-identity", help="PATH=NAMESPACE[:primary] to add."),
    file: Path = typer.Option(None, "--file", help="Replace with this whole schema document (YAML/JSON)."),
    as_json: bool = JsonFlag,
) -> None:
    """Change a schema. Once a dataset uses it, only additive changes are accepted."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        if file is not None:
            document = read_document(file)
        else:
            current = schema.get_schema(session, state.sandbox, name).to_document()
            document = {
                "name": name,
                "title": current["title"],
                "class": current["class"],
                "fieldGroups": current["fieldGroups"]
                + [g for g in add_field_groups if g not in current["fieldGroups"]],
                "identities": current["identities"] + [parse_identity(i) for i in add_identities],
            }
        if not isinstance(document, dict):
            raise InvalidInputError("the schema document must be a mapping", code="SCHEMA-0402-400")
        updated = schema.update_schema(session, state.sandbox, name, document).to_document()
    emit(
        updated,
        as_json,
        lambda d: out.print(f"schema [bold]{plain(d['name'])}[/] is now version {plain(d['version'])}", markup=True),
    )


@schema_app.command("show")
def schema_show(
    name: str = typer.Argument(...),
    json_schema: bool = typer.Option(False, "--json-schema", help="Export as JSON Schema."),
    as_json: bool = JsonFlag,
) -> None:
    """Show a schema with all its fields (or export it as JSON Schema)."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        resolved = schema.get_schema(session, state.sandbox, name)
    if json_schema:
        emit(schema.to_json_schema(resolved), True)
        return
    emit(resolved.to_document(), as_json, _schema_summary)


@schema_app.command("list")
def schema_list(as_json: bool = JsonFlag) -> None:
    """List the schemas of the sandbox."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        docs = [s.to_document() for s in schema.list_schemas(session, state.sandbox)]
    rows = [{k: d[k] for k in ("name", "class", "version", "fieldGroups", "datasets")} for d in docs]

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("name", "class", "version", "field groups", "datasets")
        for r in items:
            table.add_row(
                r["name"], r["class"], str(r["version"]), ", ".join(r["fieldGroups"]), ", ".join(r["datasets"])
            )
        out.print(table)

    emit(rows, as_json, human)


@schema_app.command("delete")
def schema_delete(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Delete a schema that no dataset uses."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        schema.delete_schema(session, state.sandbox, name)
    emit({"deleted": name}, as_json, lambda _d: out.print(f"schema {name} deleted"))


@schema_app.command("union")
def schema_union(
    class_name: str = typer.Argument("profile"),
    json_schema: bool = typer.Option(False, "--json-schema", help="Export as JSON Schema."),
    as_json: bool = JsonFlag,
) -> None:
    """The union schema of a class: every schema behind a profile-enabled dataset."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        union = schema.union_schema(session, state.sandbox, class_name)
    if json_schema:
        emit(schema.to_json_schema(union), True)
        return
    emit(union.to_document(), as_json, _schema_summary)


@fieldgroup_app.command("list")
def fieldgroup_list(as_json: bool = JsonFlag) -> None:
    """List standard and custom field groups."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        groups = [g.to_document() for g in schema.list_field_groups(session, state.sandbox)]
    rows = [{k: g[k] for k in ("name", "title", "classes", "standard")} for g in groups]

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("name", "title", "classes", "kind")
        for r in items:
            table.add_row(r["name"], r["title"], ", ".join(r["classes"]), "standard" if r["standard"] else "custom")
        out.print(table)

    emit(rows, as_json, human)


@fieldgroup_app.command("show")
def fieldgroup_show(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Show a field group's fields."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        group = schema.get_field_group(session, state.sandbox, name).to_document()
    emit(group, True)  # a field group is a document: JSON is its readable form


@fieldgroup_app.command("create")
def fieldgroup_create(
    file: Path = typer.Argument(..., help="Field group document (YAML/JSON)."), as_json: bool = JsonFlag
) -> None:
    """Create a custom field group; its fields sit under `_tenant`."""
    document = read_document(file)
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        group = schema.create_field_group(session, state.sandbox, document).to_document()
    emit(group, as_json, lambda g: out.print(f"field group [bold]{plain(g['name'])}[/] created", markup=True))


@fieldgroup_app.command("update")
def fieldgroup_update(
    name: str = typer.Argument(...), file: Path = typer.Argument(...), as_json: bool = JsonFlag
) -> None:
    """Replace a custom field group; schemas in use may only grow."""
    document = read_document(file)
    if not isinstance(document, dict):
        raise InvalidInputError("the field group document must be a mapping", code="SCHEMA-0402-400")
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        group = schema.update_field_group(session, state.sandbox, name, document).to_document()
    emit(
        group,
        as_json,
        lambda g: out.print(
            f"field group [bold]{plain(g['name'])}[/] is now version {plain(g['version'])}", markup=True
        ),
    )
