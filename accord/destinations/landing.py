"""How files land at a file destination: names that stay inside its folder, the hidden names of files on
their way in, and the probe a connection test writes to prove that it may write."""

from __future__ import annotations

import re
import secrets

from accord.errors import InvalidInputError
from accord.jobs import Owner, process_runs

PARTIAL = re.compile(r"^\.(?P<name>.+)\.(?P<host>[^.]+)-(?P<pid>\d+)\.accord-partial$")
"""A file on its way in: hidden, named after its writer (host and process), renamed into place when whole."""


def relative_name(name: str) -> str:
    """`name` as a path under the destination's folder (`a.csv`, `2026/a.csv`); a name that would lead
    elsewhere (absolute, `..`, empty parts, a backslash that a Windows server reads as a separator) is refused."""
    parts = name.split("/")
    if name.startswith("/") or ".." in parts:
        raise InvalidInputError(f"file name {name!r} leads outside the destination's folder", code="DEST-0400-400")
    if "\\" in name or "\0" in name or any(part in ("", ".") for part in parts):
        raise InvalidInputError(
            f"file name {name!r} must be folder and file names joined by '/', without empty parts, '.' or '\\'",
            code="DEST-0400-400",
        )
    return name


def _host() -> str:
    return Owner.me().host.replace(".", "_")


def partial_name(name: str) -> str:
    """The hidden name a file has while this process writes it, in the same folder as `name` (a base name)."""
    return f".{name}.{_host()}-{Owner.me().pid}.accord-partial"


def stale_partial(filename: str) -> bool:
    """Whether `filename` (a base name) is a partial file of a writer of this host that no longer runs."""
    match = PARTIAL.match(filename)
    return match is not None and match["host"] == _host() and not process_runs(int(match["pid"]))


def probe_name() -> str:
    """A hidden name of its own for the file a connection test writes, then removes."""
    return f".accord-probe-{secrets.token_hex(6)}"


def key_prefix(prefix: str) -> str:
    """An object store's key prefix as configured (`exports`, `exports/`, `/exports/`), ending in '/' unless empty."""
    cleaned = prefix.strip("/")
    return f"{cleaned}/" if cleaned else ""
