"""docs/cli.md lists every command the CLI has: walked from the command tree, not from a hand list."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from accord.cli.app import app

DOC = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()


def commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in getattr(group, "commands", {}).items():
        if getattr(command, "commands", None):
            found.extend(commands(command, (*prefix, name)))
        else:
            found.append((*prefix, name))
    return found


def documented(path: tuple[str, ...]) -> bool:
    """A row of the table names the command: `accord GROUP NAME ...`, or `NAME ...` in its group's row."""
    if len(path) == 1:
        return f"`accord {path[0]}" in DOC
    group, name = path[0], path[-1]
    rows = [line for line in DOC.splitlines() if line.startswith("|") and f"`accord {group} " in line]
    return any(re.search(rf"`(accord )?({group} )?{re.escape(name)}\b", row) for row in rows)


def test_every_command_is_in_the_cli_page() -> None:
    tree = typer.main.get_command(app)
    every = commands(tree)
    assert len(every) > 50
    missing = [" ".join(p) for p in every if not documented(p)]
    assert missing == []


def test_no_command_help_shows_a_value_type_for_a_flag() -> None:
    """`--json` takes no value: help shows no `<bool>` beside it (a patch of typer's internals in accord.cli.app)."""
    from typer.testing import CliRunner

    tree, runner = typer.main.get_command(app), CliRunner()
    for path in commands(tree):
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert shown.exit_code == 0, (path, shown.output)
        assert "--json" not in shown.output or "<bool>" not in shown.output.replace(" ", ""), path
