"""CLI: datasets and batches."""

from __future__ import annotations

import json
from typing import Any

import typer

from accord import lake, profile
from accord.cli.output import describe_batch, emit, emit_lines, new_table, out, plain
from accord.cli.state import JsonFlag, state
from accord.errors import InvalidInputError
from accord.lake.contracts import CONTRACT_HELP

dataset_app = typer.Typer(help="Datasets: create, list, preview, statistics.", no_args_is_help=True)
batch_app = typer.Typer(help="Batches: status, row errors, delete.", no_args_is_help=True)


@dataset_app.command("create")
def dataset_create(
    name: str = typer.Argument(...),
    schema_name: str = typer.Option(..., "--schema", help="Schema the dataset follows."),
    profile_enabled: bool = typer.Option(False, "--profile-enabled", help="Feed the profile store."),
    schema_contract: str = typer.Option("discard_row", "--schema-contract", help=CONTRACT_HELP),
    as_json: bool = JsonFlag,
) -> None:
    """Create a dataset bound to a schema."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        record = lake.create_dataset(session, state.sandbox, name, schema_name, profile_enabled, schema_contract)
        doc = lake.get_dataset(session, state.sandbox, record.name)
    emit(
        doc,
        as_json,
        lambda d: out.print(f"dataset [bold]{plain(d['name'])}[/] created (schema {plain(d['schema'])})", markup=True),
    )


@dataset_app.command("list")
def dataset_list(as_json: bool = JsonFlag) -> None:
    """List datasets with their row and batch counts."""
    with state.sandbox_reader() as (reader, sandbox_id):
        rows = lake.read_datasets(reader, sandbox_id)

    def human(items: list[dict[str, Any]]) -> None:
        table = new_table("name", "schema", "profile", "batches", "rows")
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
        out.print(f"[bold]{plain(s['dataset'])}[/]: {s['rowCount']:,} rows", markup=True)
        table = new_table("field", "type", "present", "distinct", "min", "max")
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
        table = new_table("id", "dataset", "status", "in", "out", "failed", "created")
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
    batch_id: str = typer.Argument(None, help="The batch (or give --dataset for its newest batch)."),
    dataset: str = typer.Option(None, "--dataset", "-d", help="Show the newest batch of this dataset."),
    limit: int = typer.Option(None, "--limit"),
    as_json: bool = JsonFlag,
) -> None:
    """The batch's failed rows as JSON lines: line, row, original record, errors."""
    workspace = state.workspace()
    if batch_id is None:
        if dataset is None:
            raise InvalidInputError("name a batch id, or a dataset with --dataset", code="BATCH-0400-400")
        with workspace.catalog.session() as session:
            batch_id = lake.newest_batch(session, state.sandbox, dataset)
    emit_lines(lake.batch_errors(workspace, state.sandbox, batch_id, limit))


@batch_app.command("delete")
def batch_delete(batch_id: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Delete a batch: its rows disappear from the dataset, and from the graphs and profiles they fed."""
    doc = profile.delete_batch(state.workspace(), state.sandbox, batch_id)
    emit(
        doc,
        as_json,
        lambda d: out.print(
            f"batch {d['id']} deleted from {d['dataset']}"
            + ("; identity graphs and profiles rebuilt" if d["profilesRebuilt"] else "")
        ),
    )


@dataset_app.command("delete-records")
def dataset_delete_records(
    name: str = typer.Argument(...),
    ids: list[str] = typer.Option(..., "--id", help="The `_id` of a record to delete (repeat for several)."),
    as_json: bool = JsonFlag,
) -> None:
    """Delete records by `_id`; the identity graphs and profiles they fed follow."""
    doc = profile.delete_records(state.workspace(), state.sandbox, name, ids)
    emit(doc, as_json, lambda d: out.print(f"{d['deletedRecords']:,} records deleted from {d['dataset']}"))


@dataset_app.command("ttl")
def dataset_ttl(
    name: str = typer.Argument(...),
    days: int = typer.Option(None, "--days", help="Events older than this leave profiles and can be purged."),
    off: bool = typer.Option(False, "--off", help="Remove the time-to-live."),
    as_json: bool = JsonFlag,
) -> None:
    """Set the time-to-live of an experience event dataset."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        doc = lake.set_ttl(session, state.sandbox, name, None if off else days)
    emit(doc, as_json, lambda d: out.print(f"dataset {d['name']}: time-to-live {d['ttlDays'] or 'none'} days"))


@dataset_app.command("contract")
def dataset_contract(
    name: str = typer.Argument(...),
    contract: str = typer.Argument(..., help="evolve, freeze, discard_row or discard_value"),
    as_json: bool = JsonFlag,
) -> None:
    """Set what streaming does with a message that does not fit the dataset's schema."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        doc = lake.set_schema_contract(session, state.sandbox, name, contract)
    emit(doc, as_json, lambda d: out.print(f"dataset {d['name']}: schema contract {d['schemaContract']}"))


@dataset_app.command("purge")
def dataset_purge(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Remove the events older than the dataset's time-to-live from the lake."""
    result = lake.purge_expired(state.workspace(), state.sandbox, name)
    emit(
        result,
        as_json,
        lambda r: out.print(f"{r['purgedRecords']:,} expired events removed from {r['batches']} batches"),
    )
