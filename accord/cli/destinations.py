"""CLI: destinations; `accord destination validate FILE` checks a declared HTTP destination, shows a sample request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from accord.cli.documents import read_document
from accord.cli.output import emit, out
from accord.cli.state import JsonFlag
from accord.errors import InvalidInputError

destination_app = typer.Typer(help="Destination accounts and declared destinations.", no_args_is_help=True)


@destination_app.command("validate")
def destination_validate(
    file: Path = typer.Argument(..., help="A declared HTTP destination (YAML or JSON)."),
    rows: Path = typer.Option(None, "--rows", help="Profile rows to render the sample from (JSON or YAML list)."),
    as_json: bool = JsonFlag,
) -> None:
    """Check a declared HTTP destination whole (every problem, with its path) and print a sample request."""
    from accord.destinations.streaming.declared import validate_declared_file

    sample_rows = read_document(rows) if rows is not None else None
    if sample_rows is not None and not isinstance(sample_rows, list):
        raise InvalidInputError(f"{rows} must hold a list of profile rows", code="DEST-0425-400")
    emit(validate_declared_file(file, sample_rows), as_json, _show)


def _show(result: dict[str, Any]) -> None:
    spec = result["destination"]
    out.print(f"{result['file']}: destination {spec['id']!r} ({spec['name']}, {spec['category']}, "
              f"{spec['exportType']}-based) is valid.", highlight=False)  # fmt: skip
    for index, request in enumerate(result["sample"], 1):
        out.print(f"\nSample request {index} of {len(result['sample'])} ({len(request['profiles'])} profiles):",
                  highlight=False)  # fmt: skip
        out.print(f"{request['method']} {request['url']}", highlight=False, markup=False)
        for name, value in request["headers"].items():
            out.print(f"{name}: {value}", highlight=False, markup=False)
        out.print("")
        out.print(request["body"], highlight=False, markup=False)
