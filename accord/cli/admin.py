"""CLI: sandboxes and API tokens."""

from __future__ import annotations

import typer

from accord import access, catalog
from accord.cli.documents import print_lines
from accord.cli.output import emit, out, plain
from accord.cli.state import JsonFlag, state

sandbox_app = typer.Typer(help="Sandboxes.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


@sandbox_app.command("list")
def sandbox_list(as_json: bool = JsonFlag) -> None:
    """List the sandboxes (with `ACCORD_TOKEN`: those the token may use)."""
    workspace, caller = state.workspace(), state.acting()
    with workspace.catalog.session() as session:
        rows = [catalog.sandbox_document(s) for s in catalog.list_sandboxes(session)
                if caller is None or caller.lists(s.name)]  # fmt: skip
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
    user: str = typer.Option(None, "--user", help="The user or service account it acts for (default: admin)."),
    role: str = typer.Option(
        None, "--role", help="Narrow it to this role's permissions (default: all the user holds)."
    ),
    sandbox: str = typer.Option(None, "--sandbox", help="Narrow it to this one sandbox (default: every one)."),
    expires: str = typer.Option(None, "--expires", help="When it ends: 12h, 30d, 8w or a date (default: never)."),
    as_json: bool = JsonFlag,
) -> None:
    """Create an API token; it is shown once."""
    ends = access.parse_expiry(expires) if expires is not None else None  # "" is no date: said so, not "never"
    record, secret = access.create_token(state.workspace().catalog, name, role, sandbox, user=user, expires=ends)
    data = {"id": record.id, "name": name, "user": user or access.OWNER, "role": role, "sandbox": sandbox,
            "expiresAt": ends.isoformat() if ends else None, "token": secret}  # fmt: skip
    limits = [f"role {role}" if role else "", f"sandbox {sandbox}" if sandbox else "",
              f"until {ends:%Y-%m-%d %H:%M} UTC" if ends else ""]  # fmt: skip
    narrowed = ", ".join(filter(None, limits)) or "all its user holds"
    shown = (
        f"token {plain(record.id)} of {plain(data['user'])} ({plain(narrowed)}): [bold]{plain(secret)}[/] (shown once)"
    )
    emit(data, as_json, lambda _d: out.print(shown, highlight=False, markup=True))


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
                f"{t['id']}  {t['name']}  {t['user']}  {t['role'] or '(all its user holds)'}  "
                f"{t['sandbox'] or '(every sandbox)'}  {_state(t)}"
            )
        ),
    )


@token_app.command("revoke")
def token_revoke(token_id: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Revoke an API token."""
    access.revoke_token(state.workspace().catalog, token_id)
    emit({"revoked": token_id}, as_json, lambda _d: out.print(f"token {token_id} revoked"))


def _state(token: dict) -> str:
    if token["revoked"]:
        return "revoked"
    return f"active until {token['expiresAt'][:16]}" if token["expiresAt"] else "active"
