"""The `accord` command line: a thin adapter over the service functions."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from accord.errors import AccordError, known_failure

if TYPE_CHECKING:
    from accord.cli.state import CliState


def main() -> None:
    """Entry point: runs the command and maps every error to a message and an exit code."""
    from typer._click import exceptions as click_exceptions  # typer carries its own click

    from accord.cli.app import app
    from accord.cli.output import err, fail, plain
    from accord.cli.state import state

    as_json = "--json" in sys.argv
    try:
        result = app(standalone_mode=False)
        _record(state, result if isinstance(result, int) else 0)
    except AccordError as error:
        code = fail(error, as_json)
        _record(state, code)
        sys.exit(code)
    except click_exceptions.UsageError as error:
        error.show()
        sys.exit(2)
    except click_exceptions.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as error:  # a bug, unless a library's error has a meaning for users
        if (known := known_failure(error)) is not None:
            sys.exit(fail(known, as_json))
        if os.environ.get("ACCORD_DEBUG"):
            raise
        text = f"{type(error).__name__}: {str(error)[:500]}"
        if as_json:  # a script still gets a document it can read
            sys.exit(fail(AccordError(f"internal error: {text}", code="ACCORD-0500-500"), as_json))
        err.print(
            f"[bold red]internal error[/]: {plain(text)}. Set ACCORD_DEBUG=1 for details.", highlight=False, markup=True
        )
        sys.exit(1)
    finally:
        state.close()  # the catalog's connections, whatever happened
    sys.exit(result if isinstance(result, int) else 0)


def _record(state: CliState, exit_code: int) -> None:
    """The command in the activity log; a failure to record is said, and does not hide the command's outcome."""
    from accord.cli.output import err, plain

    try:
        state.record(sys.argv[1:], exit_code)
    except AccordError as error:
        err.print(
            f"[yellow]warning[/]: the activity log could not record this command: {plain(error.message)}", markup=True
        )
