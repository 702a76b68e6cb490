"""CLI: users and service accounts, roles and their grants, and the activity log."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import typer

from accord import access
from accord.cli.documents import print_lines
from accord.cli.output import emit, out
from accord.cli.state import JsonFlag, state
from accord.errors import InvalidInputError

user_app = typer.Typer(help="Users and service accounts.", no_args_is_help=True)
role_app = typer.Typer(help="Roles: sets of permissions, granted to users per sandbox.", no_args_is_help=True)

PasswordStdin = typer.Option(False, "--password-stdin", help="Read the password from standard input (for scripts).")
EVERY = "every sandbox"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _user_line(user: dict) -> str:
    roles = ", ".join(f"{g['role']} ({EVERY if g['sandbox'] == '*' else g['sandbox']})" for g in user["roles"])
    state_ = "disabled" if user["disabled"] else "active"
    return f"{user['name']}  {user['kind']}  {user['email'] or '-'}  {state_}  {roles or 'no role'}"


@user_app.command("create")
def user_create(
    name: str = typer.Argument(...),
    email: str = typer.Option(None, "--email", help="The person's e-mail address."),
    service: bool = typer.Option(False, "--service", help="A service account: holds API tokens, never signs in."),
    with_password: bool = typer.Option(False, "--password", help="Ask for a password (people sign in with it)."),
    password_stdin: bool = PasswordStdin,
    as_json: bool = JsonFlag,
) -> None:
    """Create a user (or, with --service, a service account); it holds nothing until a role is granted."""
    password = _password(password_stdin) if with_password or password_stdin else None
    made = access.create_user(state.workspace().catalog, name, email=email, service=service, password=password)
    hint = f"accord role grant ROLE --user {name} --sandbox SANDBOX"
    emit(made, as_json, lambda d: out.print(f"{d['kind']} {d['name']} created; grant it a role: {hint}"))


@user_app.command("list")
def user_list(as_json: bool = JsonFlag) -> None:
    """List users with the roles they hold and where."""
    emit(access.list_users(state.workspace().catalog), as_json, print_lines(_user_line))


@user_app.command("show")
def user_show(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """One user, with the roles they hold and where."""
    emit(access.show_user(state.workspace().catalog, name), as_json, lambda d: out.print(_user_line(d)))


@user_app.command("disable")
def user_disable(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Disable a user: their API tokens and sessions are refused from the next request."""
    made = access.set_disabled(state.workspace().catalog, name, True)
    emit(made, as_json, lambda d: out.print(f"user {d['name']} disabled"))


@user_app.command("enable")
def user_enable(name: str = typer.Argument(...), as_json: bool = JsonFlag) -> None:
    """Enable a disabled user again."""
    made = access.set_disabled(state.workspace().catalog, name, False)
    emit(made, as_json, lambda d: out.print(f"user {d['name']} enabled"))


@user_app.command("password")
def user_password(
    name: str = typer.Argument(...), password_stdin: bool = PasswordStdin, as_json: bool = JsonFlag
) -> None:
    """Set a person's password (asked twice, or read from standard input)."""
    access.set_password(state.workspace().catalog, name, _password(password_stdin))
    emit({"user": name, "passwordSet": True}, as_json, lambda _d: out.print(f"password of {name} set"))


@role_app.command("list")
def role_list(as_json: bool = JsonFlag) -> None:
    """List the built-in and custom roles with their permissions."""
    emit(access.list_roles(state.workspace().catalog), as_json, print_lines(
        lambda r: f"{r['name']}{' (built-in)' if r['builtIn'] else ''}: {', '.join(r['permissions'])}"))  # fmt: skip


@role_app.command("create")
def role_create(
    name: str = typer.Argument(...),
    permissions: list[str] = typer.Option(..., "--permission", "-p", help='A permission ("View Segments"); repeat.'),
    description: str = typer.Option("", "--description"),
    as_json: bool = JsonFlag,
) -> None:
    """Create a custom role from permissions (`accord role list` shows their names)."""
    made = access.create_role(state.workspace().catalog, name, permissions, description)
    emit(made, as_json, lambda d: out.print(f"role {d['name']} created: {', '.join(d['permissions'])}"))


@role_app.command("grant")
def role_grant(
    role: str = typer.Argument(...),
    user: str = typer.Option(..., "--user", help="The user or service account."),
    sandbox: str = typer.Option(None, "--sandbox", help="The sandbox (default: every sandbox)."),
    as_json: bool = JsonFlag,
) -> None:
    """Grant a role to a user in one sandbox, or in every sandbox."""
    made = access.grant_role(state.workspace().catalog, role, user, sandbox)
    emit(made, as_json, lambda d: out.print(f"{d['user']} holds {d['role']} in {sandbox or EVERY}"))


@role_app.command("revoke")
def role_revoke(
    role: str = typer.Argument(...),
    user: str = typer.Option(..., "--user", help="The user or service account."),
    sandbox: str = typer.Option(None, "--sandbox", help="The sandbox (default: every sandbox)."),
    as_json: bool = JsonFlag,
) -> None:
    """Take a role away from a user, in one sandbox or (without --sandbox) the grant in every sandbox."""
    made = access.revoke_role(state.workspace().catalog, role, user, sandbox)
    emit(made, as_json, lambda d: out.print(f"{d['user']} no longer holds {d['role']} in {sandbox or EVERY}"))


audit_app = typer.Typer(help="The activity log: every change, who made it, when and from where.", no_args_is_help=True)


def _query(since: str | None, until: str | None, user: str | None, what: str | None, before: int | None,
           limit: int) -> access.ActivityQuery:  # fmt: skip
    return access.ActivityQuery(
        state.sandbox,
        access.parse_since(since) if since else None,
        access.parse_since(until, "--until") if until else None,
        user,
        what,
        before,
        limit,
    )


Since = typer.Option(None, "--since", help="From: a span back (24h, 7d) or a date (2026-11-30).")
Until = typer.Option(None, "--until", help="Until: a span back (1h) or a date.")
User = typer.Option(None, "--user", help="Made by this user (the CLI's owner shows as cli:<login>).")
Object = typer.Option(None, "--object", help="On this object type (datasets) or object (datasets/crm).")


@audit_app.command("list")
def audit_list(
    since: str = Since,
    until: str = Until,
    user: str = User,
    what: str = Object,
    before: int = typer.Option(None, "--before", help="Older than this entry's id (to page)."),
    limit: int = typer.Option(100, "--limit", help="At most this many entries (1 to 10,000)."),
    as_json: bool = JsonFlag,
) -> None:
    """List the activity log of the sandbox (and the home's own changes), newest first."""
    query = _query(since, until, user, what, before, limit)
    found = access.list_activity(state.workspace().catalog, state.acting(), query)
    emit(found, as_json, print_lines(lambda e: (
        f"{e['id']}  {e['at'][:19]}  {e['user']}  {e['action']}  {e['object']['type']}/{e['object']['id'] or '-'}"
        f"  {e['outcome']} ({e['status']})")))  # fmt: skip


@audit_app.command("export")
def audit_export(
    output: Path = typer.Option(..., "--output", "-o", help="The file to write (JSON lines; .csv: CSV)."),
    since: str = Since,
    until: str = Until,
    user: str = User,
    what: str = Object,
    as_json: bool = JsonFlag,
) -> None:
    """Export the entries the filters select, newest first, as JSON lines or CSV (by the file's suffix)."""
    entries = access.export_activity(state.workspace().catalog, state.acting(), _query(since, until, user, what,
                                                                                        None, 1000))  # fmt: skip
    written = write_entries(entries, output)
    emit({"file": str(output), "entries": written}, as_json, lambda d: out.print(
        f"{d['entries']:,} entries written to {d['file']}"))  # fmt: skip


def write_entries(entries: Iterator[dict], output: Path) -> int:
    """Write to a file beside `output`, then put it in place: a failed export leaves no half-written file."""
    import csv
    import json
    import os

    partial, count = output.with_name(f".{output.name}.partial"), 0
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            if output.suffix.lower() == ".csv":
                columns = ["id", "at", "via", "user", "token", "sandbox", "action", "object", "outcome", "status",
                           "changes", "origin"]  # fmt: skip
                writer = csv.DictWriter(handle, columns)
                writer.writeheader()
                for entry in entries:
                    writer.writerow({**entry, "object": f"{entry['object']['type']}/{entry['object']['id'] or ''}",
                                     "changes": json.dumps(entry["changes"])})  # fmt: skip
                    count += 1
            else:
                for entry in entries:
                    handle.write(json.dumps(entry) + "\n")
                    count += 1
        os.replace(partial, output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InvalidInputError(f"cannot write {output}: {exc.strerror or exc}", code="ACCESS-0432-400") from None
    return count
