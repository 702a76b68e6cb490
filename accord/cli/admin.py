"""CLI: sandboxes and API tokens."""

from __future__ import annotations

import typer

from accord import access, catalog
from accord.cli.documents import print_lines
from accord.cli.output import emit, out
from accord.cli.state import JsonFlag, state

sandbox_app = typer.Typer(help="Sandboxes.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


@sandbox_app.command("list")
def sandbox_list(as_json: bool = JsonFlag) -> None:
    """List sandboxes."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        rows = [catalog.sandbox_document(s) for s in catalog.list_sandboxes(session)]
    emit(rows, as_json, print_lines(lambda s: f"{s['name']}  {s['title']}"))


@sandbox_app.command("create")
def sandbox_create(
    name: str = typer.Argument(...), title: str = typer.Option("", "--title"), as_json: bool = JsonFlag
) -> None:
    """Create a sandbox."""
    workspace = state.workspace()
    with workspace.catalog.session() as session:
        doc = catalog.sandbox_document(catalog.create_sandbox(session, name, title))
    emit(doc, as_json, lambda d: out.print(f"sandbox {d['name']} created"))


@token_app.command("create")
def token_create(
    name: str = typer.Argument(...),
    sandbox: str = typer.Option(None, "--sandbox", help="The one sandbox the token may use (default: every one)."),
    role: str = typer.Option(
        None, "--role", help="admin (every sandbox; manages sandboxes and tokens) or member (default with --sandbox)."
    ),
    as_json: bool = JsonFlag,
) -> None:
    """Create an API token; it is shown once."""
    record, plain = access.create_token(state.workspace().catalog, name, role, sandbox)
    chosen = record.role
    scope = f"sandbox {sandbox}" if sandbox else "every sandbox"
    emit(
        {"id": record.id, "name": name, "role": chosen, "sandbox": sandbox, "token": plain},
        as_json,
        lambda d: out.print(
            f"token {d['id']} ({chosen}, {scope}): [bold]{d['token']}[/] (shown once)", highlight=False
        ),
    )


@token_app.command("list")
def token_list(as_json: bool = JsonFlag) -> None:
    """List API tokens (never their values)."""
    with state.catalog_reader() as reader:
        rows = access.read_tokens(reader)
    emit(
        rows,
        as_json,
        print_lines(
            lambda t: (
                f"{t['id']}  {t['name']}  {t['role']}  {t['sandbox'] or '(every sandbox)'}  "
                f"{'revoked' if t['revoked'] else 'active'}"
            )
        ),
    )


@token_app.command("revoke")
def token_revoke(token_id: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Revoke an API token."""
    access.revoke_token(state.workspace().catalog, token_id)
    emit({"revoked": token_id}, as_json, lambda _d: out.print(f"token {token_id} revoked"))
