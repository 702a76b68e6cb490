"""The `accord` command: init, serve, ingest, demo, and the resource groups."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.core import TyperOption

from accord import __version__
from accord.cli.activation import activation_app, activation_create
from accord.cli.admin import sandbox_app, token_app
from accord.cli.campaign import campaign_app
from accord.cli.computed import computed_app
from accord.cli.datasets import batch_app, dataset_app
from accord.cli.destinations import destination_app, destinations_app
from accord.cli.governance import action_app, label_app, policy_app
from accord.cli.identity import identity_app
from accord.cli.output import describe_batch, emit, new_table, out, plain, progress_bar
from accord.cli.privacy import privacy_app
from accord.cli.profile import mergepolicy_app, profile_app
from accord.cli.schemas import fieldgroup_app, schema_app
from accord.cli.segment import segment_app
from accord.cli.serving import serve_api
from accord.cli.sources import alert_app, connection_app, dataflow_app, runs_app, sources_app
from accord.cli.state import JsonFlag, state
from accord.cli.streaming import streaming_app, worker
from accord.cli.users import audit_app, role_app, user_app
from accord.errors import InvalidInputError, problem_message


def _flag_type(option: TyperOption, ctx: typer.Context) -> str | None:
    """Help shows no value type for flags: `--json` takes none (typer 0.29.2, as pinned, prints `<bool>`).

    A patch of typer's internals: tests/cli/test_cli_docs.py fails if an upgrade shows `<bool>` again."""
    return None if option.is_flag else _option_type(option, ctx)


_option_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign,assignment]

app = typer.Typer(
    name="accord",
    help="Accord: an open-source real-time customer data platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(schema_app, name="schema")
app.add_typer(fieldgroup_app, name="fieldgroup")
app.add_typer(dataset_app, name="dataset")
app.add_typer(batch_app, name="batch")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.add_typer(role_app, name="role")
app.add_typer(audit_app, name="audit")
app.add_typer(label_app, name="label")
app.add_typer(policy_app, name="policy")
app.add_typer(action_app, name="action")
app.add_typer(sources_app, name="sources")
app.add_typer(connection_app, name="connection")
app.add_typer(dataflow_app, name="dataflow")
app.add_typer(runs_app, name="runs")
app.add_typer(alert_app, name="alert")
app.add_typer(identity_app, name="identity")
app.add_typer(profile_app, name="profile")
app.add_typer(segment_app, name="segment")
app.add_typer(computed_app, name="computed")
app.add_typer(mergepolicy_app, name="mergepolicy")
app.add_typer(destinations_app, name="destinations")
app.add_typer(destination_app, name="destination")
app.add_typer(activation_app, name="activation")
app.add_typer(campaign_app, name="campaign")
app.add_typer(streaming_app, name="streaming")
app.add_typer(privacy_app, name="privacy")
app.command("worker", help="Run the streaming processor alone (no API), until stopped.")(worker)
app.command("activate", help="Activate audiences to a destination account (the same as `activation create`).")(
    activation_create
)


def _print_version(asked: bool) -> None:
    if asked:
        out.print(f"accord {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    home: Path = typer.Option(
        None, "--home", envvar="ACCORD_HOME", help="Accord's home folder (default: .accord in the current folder)."
    ),
    sandbox: str = typer.Option(None, "--sandbox", envvar="ACCORD_SANDBOX", help="Sandbox to work in (default prod)."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print Accord's version and exit."
    ),
) -> None:
    state.reset(home, sandbox)


@app.command()
def init(
    new_token: bool = typer.Option(False, "--new-token", help="Also create a new admin token."),
    as_json: bool = JsonFlag,
) -> None:
    """Create (or upgrade) the catalog, the `prod` sandbox and a first admin API token."""
    from accord.workspace import initialise

    result = initialise(state.settings, new_token=new_token)
    data = {"home": result.home, "database": result.database, "created": result.created, "token": result.token}

    def human(_data: object) -> None:
        out.print(f"Accord is ready in {result.home} (catalog: {result.database}).")
        if result.token:
            out.print("Admin API token (shown once, keep it safe):")
            out.print(f"  [bold]{plain(result.token)}[/]", highlight=False, markup=True)

    emit(data, as_json, human)


@app.command()
def ingest(
    file: Path = typer.Argument(..., help="File to ingest: CSV/TSV/any delimiter, JSON, Parquet; gz/bz2/zip/tar."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Target dataset."),
    mapping: Path = typer.Option(None, "--mapping", "-m", help="Mapping set (YAML or JSON)."),
    error_threshold: float = typer.Option(None, "--error-threshold", help="Percent of rows that may fail (default 5)."),
    file_format: str = typer.Option(None, "--format", help="csv, json or parquet (default: detected)."),
    delimiter: str = typer.Option(None, "--delimiter", help="Field delimiter of delimited text (default: detected)."),
    encoding: str = typer.Option(None, "--encoding", help="utf-8, latin-1 or utf-16 (default: detected)."),
    no_header: bool = typer.Option(False, "--no-header", help="Delimited text has no header row."),
    skip_duplicate_files: bool = typer.Option(
        False, "--skip-duplicate-files", help="Ingest nothing when the dataset already holds this file's content."
    ),
    as_json: bool = JsonFlag,
) -> None:
    """Ingest a file into a dataset as one batch; exit code 0 when the batch succeeded (or was skipped).

    A file whose content a committed batch of the dataset already ingested is ingested again with a
    warning (INGEST-1007-200), or skipped with --skip-duplicate-files."""
    from pydantic import ValidationError

    from accord.ingest import IngestRequest, ReadOptions, ingest_file, load_mapping

    try:
        read = ReadOptions(format=file_format, delimiter=delimiter, encoding=encoding, header=not no_header)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [{"path": "--" + str(e["loc"][0]), "message": problem_message(e)} for e in exc.errors()]
        raise InvalidInputError("invalid read options", code="INGEST-1005-400", problems=problems) from None
    request = IngestRequest(
        dataset=dataset,
        path=file,
        mapping=load_mapping(mapping) if mapping else None,
        error_threshold=error_threshold,
        read=read,
        skip_duplicate_files=skip_duplicate_files,
    )
    workspace = state.workspace()
    try:
        with progress_bar(not as_json) as progress:
            batch = ingest_file(workspace, state.sandbox, request, progress)
    finally:
        workspace.close()

    emit(batch, as_json, describe_batch)
    if batch["status"] != "success":
        raise typer.Exit(1)


@app.command()
def whoami(as_json: bool = JsonFlag) -> None:
    """Who the CLI acts as, and what it may do in the sandbox it works in."""
    from accord.access import Permission

    caller = state.acting()
    if caller is None:
        data = {"user": None, "token": None, "sandbox": state.sandbox, "owner": True,
                "permissions": [p.value for p in Permission]}  # fmt: skip
    else:
        data = {"user": caller.user, "token": caller.name, "sandbox": state.sandbox, "owner": False,
                "permissions": [p.value for p in Permission if p in caller.permissions_in(state.sandbox)]}  # fmt: skip

    def human(d: dict) -> None:
        who = "the home's owner (ACCORD_TOKEN is not set)" if d["owner"] else f"{d['user']} (token {d['token']})"
        out.print(f"{who} in sandbox {d['sandbox']}: {', '.join(d['permissions']) or 'nothing'}", highlight=False)

    emit(data, as_json, human)


@app.command()
def serve(
    host: str = typer.Option(None, "--host", help="Interface to listen on (default 127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=0, max=65535, help="Port (default 8000; 0: any free port)."),
) -> None:
    """Serve the REST API (OpenAPI at /docs and /openapi.json), the campaign engine and the schedules."""
    serve_api(host, port)


@app.command()
def functions(as_json: bool = JsonFlag) -> None:
    """List the functions of the mapping language."""
    from accord.ingest import FUNCTIONS

    data = [
        {"name": f.name, "params": [p.value for p in f.params], "returns": f.returns.value, "doc": f.doc}
        for f in FUNCTIONS.values()
    ]

    def human(rows: list[dict]) -> None:
        table = new_table("function", "returns", "what it does")
        for r in rows:
            table.add_row(f"{r['name']}({', '.join(r['params'])})", r["returns"], r["doc"])
        out.print(table)

    emit(data, as_json, human)


@app.command()
def demo(
    rows: int = typer.Option(2000, "--rows", help="CRM records to generate."),
    as_json: bool = JsonFlag,
) -> None:
    """Run Accord's main job end to end on embedded defaults, and print a summary."""
    from accord.demo import run_demo

    summary = run_demo(state.settings, rows=rows, report=None if as_json else out)
    if as_json:
        out.print_json(json.dumps(summary, default=str))
