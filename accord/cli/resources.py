"""CLI groups over the catalog's resources: schemas, field groups, datasets, batches, sandboxes, tokens."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.table import Table

from accord import lake, schema
from accord.access import create_token, list_tokens, revoke_token
from accord.catalog import create_sandbox, list_sandboxes, sandbox_document
from accord.cli.output import describe_batch, emit, emit_lines, out
from accord.cli.state import JsonFlag, state
from accord.errors import InvalidInputError

schema_app = typer.Typer(help="XDM schemas: create, show, update, export.", no_args_is_help=True)
fieldgroup_app = typer.Typer(help="Field groups: standard and custom (`_tenant`).", no_args_is_help=True)
dataset_app = typer.Typer(help="Datasets: create, list, preview, statistics.", no_args_is_help=True)
batch_app = typer.Typer(help="Batches: status, row errors, delete.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Sandboxes.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


def _print_lines(line: Callable[[dict[str, Any]], str]) -> Callable[[list[dict[str, Any]]], None]:
    def show(items: list[dict[str, Any]]) -> None:
        for item in items:
            out.print(line(item), highlight=False)

    return show


def read_document(path: Path) -> Any:
    """A YAML or JSON document from a file, with a clear error when it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}", code="ACCORD-0002-400") from None


def parse_identity(text: str) -> dict[str, Any]:
    """PATH=NAMESPACE[:primary]"""
    if "=" not in text:
        raise InvalidInputError(
            f"--identity {text!r}: write PATH=NAMESPACE or PATH=NAMESPACE:primary", code="SCHEMA-0401-400"
        )
    path, namespace = text.split("=", 1)
    primary = namespace.endswith(":primary")
    return {"path": path.strip(), "namespace": namespace.removesuffix(":primary").strip(), "primary": primary}


def _schema_summary(doc: dict[str, Any]) -> None:
    out.print(
        f"[bold]{doc['name']}[/] ({doc['class']}, version {doc['version']}) field groups: "
        f"{', '.join(doc['fieldGroups']) or '-'}",
        highlight=False,
    )
    for identity in doc["identities"]:
        out.print(
            f"  identity {identity['path']} -> {identity['namespace']}{' (primary)' if identity['primary'] else ''}"
        )
    table = Table("path", "type", "rules")
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
            f"schema [bold]{d['name']}[/] created "
            f"({len(schema.leaves(schema.parse_fields_document(d['fields'])))} fields)"
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
    emit(updated, as_json, lambda d: out.print(f"schema [bold]{d['name']}[/] is now version {d['version']}"))


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
        table = Table("name", "class", "version", "field groups", "datasets")
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
def schema_union(class_name: str = typer.Argument("profile"), as_json: bool = JsonFlag) -> None:
    """The union schema of a class: every schema behind a profile-enabled dataset."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        union = schema.union_schema(session, state.sandbox, class_name).to_document()
    emit(union, as_json, _schema_summary)


@fieldgroup_app.command("list")
def fieldgroup_list(as_json: bool = JsonFlag) -> None:
    """List standard and custom field groups."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        groups = [g.to_document() for g in schema.list_field_groups(session, state.sandbox)]
    rows = [{k: g[k] for k in ("name", "title", "classes", "standard")} for g in groups]

    def human(items: list[dict[str, Any]]) -> None:
        table = Table("name", "title", "classes", "kind")
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
    emit(group, as_json, lambda g: out.print(f"field group [bold]{g['name']}[/] created"))


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
    emit(group, as_json, lambda g: out.print(f"field group [bold]{g['name']}[/] is now version {g['version']}"))


@dataset_app.command("create")
def dataset_create(
    name: str = typer.Argument(...),
    schema_name: str = typer.Option(..., "--schema", help="Schema the dataset follows."),
    profile_enabled: bool = typer.Option(False, "--profile-enabled", help="Feed the profile store."),
    as_json: bool = JsonFlag,
) -> None:
    """Create a dataset bound to a schema."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        record = lake.create_dataset(session, state.sandbox, name, schema_name, profile_enabled)
        doc = lake.get_dataset(session, state.sandbox, record.name)
    emit(doc, as_json, lambda d: out.print(f"dataset [bold]{d['name']}[/] created (schema {d['schema']})"))


@dataset_app.command("list")
def dataset_list(as_json: bool = JsonFlag) -> None:
    """List datasets with their row and batch counts."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        rows = lake.list_datasets(session, state.sandbox)

    def human(items: list[dict[str, Any]]) -> None:
        table = Table("name", "schema", "profile", "batches", "rows")
        for r in items:
            table.add_row(
                r["name"],
                r["schema"],
                "yes" if r["profileEnabled"] else "no",
                str(r["batchCount"]),
                f"{r['rowCount']:,}",
            )
        out.print(table)

    emit(rows, as_json, human)


@dataset_app.command("show")
def dataset_show(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Show a dataset."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        doc = lake.get_dataset(session, state.sandbox, name)
    emit(doc, True)  # a short record: JSON is its readable form


@dataset_app.command("enable-profile")
def dataset_enable_profile(
    name: str = typer.Argument(...), disable: bool = typer.Option(False, "--disable"), as_json: bool = JsonFlag
) -> None:
    """Turn a dataset's profileEnabled flag on (or off)."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        lake.set_profile_enabled(session, state.sandbox, name, not disable)
        doc = lake.get_dataset(session, state.sandbox, name)
    emit(doc, as_json, lambda d: out.print(f"dataset {d['name']}: profileEnabled={d['profileEnabled']}"))


@dataset_app.command("preview")
def dataset_preview(
    name: str = typer.Argument(...), limit: int = typer.Option(20, "--limit"), as_json: bool = JsonFlag
) -> None:
    """Show the first rows of a dataset."""
    rows = lake.preview(state.workspace(), state.sandbox, name, limit)
    emit(rows, as_json, lambda r: out.print_json(json.dumps(r, default=str)))


@dataset_app.command("stats")
def dataset_stats(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Row count and per-field statistics."""
    stats = lake.statistics(state.workspace(), state.sandbox, name)

    def human(s: dict[str, Any]) -> None:
        out.print(f"[bold]{s['dataset']}[/]: {s['rowCount']:,} rows")
        table = Table("field", "type", "present", "distinct", "min", "max")
        for path, f in s["fields"].items():
            if f["count"]:
                table.add_row(
                    path,
                    f["type"],
                    f"{f['count']:,}",
                    str(f.get("distinct", "")),
                    str(f.get("min", ""))[:30],
                    str(f.get("max", ""))[:30],
                )
        out.print(table)

    emit(stats, as_json, human)


@batch_app.command("show")
def batch_show(batch_id: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Show a batch: status, counts, timings, errors."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        doc = lake.get_batch(session, state.sandbox, batch_id)
    emit(doc, as_json, describe_batch)


@batch_app.command("list")
def batch_list(
    dataset: str = typer.Option(None, "--dataset"), limit: int = typer.Option(50, "--limit"), as_json: bool = JsonFlag
) -> None:
    """List recent batches."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        rows = lake.list_batches(session, state.sandbox, dataset, limit)

    def human(items: list[dict[str, Any]]) -> None:
        table = Table("id", "dataset", "status", "in", "out", "failed", "created")
        for b in items:
            table.add_row(
                b["id"],
                b["dataset"],
                b["status"],
                f"{b['inputRecordCount']:,}",
                f"{b['outputRecordCount']:,}",
                f"{b['failedRecordCount']:,}",
                b["created"][:19],
            )
        out.print(table)

    emit(rows, as_json, human)


@batch_app.command("errors")
def batch_errors(
    batch_id: str = typer.Argument(...), limit: int = typer.Option(None, "--limit"), as_json: bool = JsonFlag
) -> None:
    """The batch's failed rows as JSON lines: line, row, original record, errors."""
    emit_lines(lake.batch_errors(state.workspace(), state.sandbox, batch_id, limit))


@batch_app.command("delete")
def batch_delete(batch_id: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Delete a batch: its rows disappear from the dataset."""
    doc = lake.delete_batch(state.workspace(), state.sandbox, batch_id)
    emit(doc, as_json, lambda d: out.print(f"batch {d['id']} deleted from {d['dataset']}"))


@sandbox_app.command("list")
def sandbox_list(as_json: bool = JsonFlag) -> None:
    """List sandboxes."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        rows = [sandbox_document(s) for s in list_sandboxes(session)]
    emit(rows, as_json, _print_lines(lambda s: f"{s['name']}  {s['title']}"))


@sandbox_app.command("create")
def sandbox_create(
    name: str = typer.Argument(...), title: str = typer.Option("", "--title"), as_json: bool = JsonFlag
) -> None:
    """Create a sandbox."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        doc = sandbox_document(create_sandbox(session, name, title))
    emit(doc, as_json, lambda d: out.print(f"sandbox {d['name']} created"))


@token_app.command("create")
def token_create(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Create an API token; it is shown once."""
    record, plain = create_token(state.workspace().catalog, name)
    emit(
        {"id": record.id, "name": name, "token": plain},
        as_json,
        lambda d: out.print(f"token {d['id']}: [bold]{d['token']}[/] (shown once)", highlight=False),
    )


@token_app.command("list")
def token_list(as_json: bool = JsonFlag) -> None:
    """List API tokens (never their values)."""
    rows = list_tokens(state.workspace().catalog)
    emit(
        rows,
        as_json,
        _print_lines(lambda t: f"{t['id']}  {t['name']}  {'revoked' if t['revoked'] else 'active'}"),
    )


@token_app.command("revoke")
def token_revoke(token_id: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Revoke an API token."""
    revoke_token(state.workspace().catalog, token_id)
    emit({"revoked": token_id}, as_json, lambda _d: out.print(f"token {token_id} revoked"))
