"""How the CLI speaks: JSON for scripts, tables and text for people, errors in one shape."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from accord.errors import AccordError
from accord.lake import jsonable

if TYPE_CHECKING:
    from rich.table import Table

# Markup is off: what is printed (names, expressions like `xEvent[eventType = "x"]`, messages, table cells) is
# shown as it is. A line styled by us says `markup=True` and passes every value of a user through `plain`.
out = Console(soft_wrap=True, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)

EXIT_CODES = {
    "invalid": 2,
    "not_found": 3,
    "conflict": 4,
    "too_large": 2,
    "unauthenticated": 5,
    "forbidden": 6,
    "transient": 75,
    "internal": 1,
}


def plain(value: object) -> str:
    """A value of a user (a name, an expression, a message) inside a line styled with markup: shown as it is."""
    return escape(str(value))


def new_table(*headers: str, ids: tuple[str, ...] = ("id",)) -> Table:
    """A table for people (rich's, imported when a command prints one: start-up stays short).

    No cell is cut: a word longer than its column folds onto the next line (rich's default would end it with
    an ellipsis). The columns named in `ids` hold what people copy into the next command (a job's id): they
    are never wrapped, the other columns give up their width first (an 80-column terminal holds them)."""
    from rich.table import Column, Table

    return Table(*(Column(h, no_wrap=True) if h in ids else Column(h, overflow="fold") for h in headers))


def emit(data: Any, as_json: bool, human: Callable[[Any], None] | None = None) -> None:
    if as_json or human is None:
        sys.stdout.write(json.dumps(jsonable(data), indent=2, default=str) + "\n")
    else:
        human(data)


def emit_lines(rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    for row in rows:
        sys.stdout.write(json.dumps(jsonable(row), default=str) + "\n")
        count += 1
    return count


def fail(error: AccordError, as_json: bool) -> int:
    """Print an error for the user (never a stack trace) and return the exit code."""
    if as_json:
        sys.stdout.write(json.dumps({"error": error.to_dict()}, indent=2, default=str) + "\n")
    else:
        err.print(
            f"[bold red]error[/] [dim]{plain(error.code)}[/]: {plain(error.message)}", highlight=False, markup=True
        )
        # problems are {path, message, ...}; some errors (a template check) list them as plain sentences
        problems = [p if isinstance(p, dict) else {"message": str(p)} for p in error.details.get("problems", [])]
        if len(problems) == 1 and str(problems[0].get("message")) in error.message and not problems[0].get("caret"):
            problems = []  # the one problem is the headline already
        for problem in problems[:50]:
            where = problem.get("path") or ""
            position = f" (line {problem['line']}, column {problem['column']})" if "line" in problem else ""
            label = f"{where}{position}".strip()
            err.print(f"  - {label + ': ' if label else ''}{problem['message']}", highlight=False, markup=False)
            if "caret" in problem:
                err.print("      " + problem["caret"].replace("\n", "\n      "), highlight=False, markup=False)
        if "batchId" in error.details:
            err.print(f"  batch {error.details['batchId']} was recorded as failed", highlight=False)
    return EXIT_CODES.get(error.kind, 1)


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, float | None], None]]:
    """A progress bar on stderr for long work; silent when output is for scripts."""
    if not enabled or not err.is_terminal:

        def silent(_stage: str, _fraction: float | None = None) -> None:
            return None

        yield silent
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("starting", total=1.0)

        def update(stage: str, fraction: float | None = None) -> None:
            bar.update(task, description=stage, completed=fraction if fraction is not None else 0)

        yield update


def describe_batch(batch: dict[str, Any]) -> None:
    """A batch record for people: status, counts, errors, warnings, and where to look next."""
    if batch.get("skipped"):  # nothing was ingested: the answer is the earlier batch
        for warning in batch.get("warnings", []):
            out.print(warning["message"], style="yellow", highlight=False)
        return
    colour = "green" if batch["status"] == "success" else "red"
    out.print(
        f"batch [bold]{plain(batch['id'])}[/] [{colour}]{plain(batch['status'])}[/]: {batch['outputRecordCount']:,} "
        f"of {batch['inputRecordCount']:,} rows ingested, {batch['failedRecordCount']:,} failed "
        f"({plain(batch['durationSeconds'])} s)",
        highlight=False,
        markup=True,
    )
    for error in batch["errors"]:
        out.print(f"  {error['code']}: {error['message']}", highlight=False)
    for warning in batch.get("warnings", []):
        out.print(
            f"  [yellow]warning[/] {plain(warning['code'])}: {plain(warning['message'])}", highlight=False, markup=True
        )
    if batch["failedRecordCount"]:
        out.print(f"  see the failed rows with: accord batch errors {batch['id']}", highlight=False)
