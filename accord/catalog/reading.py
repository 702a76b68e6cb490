"""Reading the catalog by plain statements: the list commands' quick path, shared with the API.

Importing SQLAlchemy and mapping the catalog's models takes most of a list command's time (about
0.4 s of its 0.65 s on the reference machine), for a list that is one query. So what the list
commands show is read by one statement per list, through a `CatalogReader`:

- `quick_reader` uses the standard library's sqlite3, when the catalog is a SQLite file that needs
  nothing done to it first (at the newest revision, no secrets left to seal, the sandbox exists);
- otherwise, and for the API, `SessionReader` (in `accord.catalog.database`) runs the same
  statement in a session of the workspace: PostgreSQL, a catalog to migrate or seal, and the
  errors a missing sandbox or catalog deserves all take the usual path.

The statements are constants with bound parameters: no text a caller gives is pasted into them.
Values come back as the driver gives them (SQLite: times as text, JSON as text, booleans as 0/1;
PostgreSQL: Python objects); `utc_time`, `json_value` and `bool` make both the same.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from accord.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


class CatalogReader(Protocol):
    def rows(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        """The rows `statement` selects, each as a dict of column name to value."""
        ...


@dataclass
class SqliteReader:
    """A `CatalogReader` over a connection of the standard library to a SQLite catalog."""

    connection: sqlite3.Connection

    def rows(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        cursor = self.connection.execute(statement, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@contextmanager
def quick_reader(settings: Settings, sandbox: str | None) -> Iterator[tuple[SqliteReader, str | None] | None]:
    """A reader of the SQLite catalog and the id of `sandbox` (if one is named), or None when the usual path must.

    None when the catalog is not a SQLite file of this home, does not exist yet, is not at the newest
    revision, holds secrets an older Accord stored in clear, or has no such sandbox: opening the
    workspace then migrates, seals, or says what is wrong. The home is checked and protected first,
    as opening a workspace does."""
    from accord.home import check_home, protect

    check_home(settings)
    protect(settings)
    url = settings.catalog_url
    path = Path(url.removeprefix("sqlite:///"))
    if not url.startswith("sqlite:///") or not path.is_file():
        yield None
        return
    with closing(sqlite3.connect(path, timeout=30)) as connection:
        reader = SqliteReader(connection)
        try:
            ready = _ready(reader, sandbox)
        except sqlite3.Error:  # not a catalog, or an older one: the usual path says so or migrates it
            ready = None
        yield (reader, ready.sandbox_id) if ready else None


@dataclass(frozen=True)
class _Ready:
    sandbox_id: str | None


def _ready(reader: SqliteReader, sandbox: str | None) -> _Ready | None:
    """The sandbox's id if the catalog can be read as it is, else None."""
    revision = reader.rows("SELECT version_num FROM alembic_version")
    if [row["version_num"] for row in revision] != [head_revision()]:
        return None
    if reader.rows("SELECT id FROM connections WHERE secret_fields IS NULL LIMIT 1"):
        return None  # stored in clear by an older Accord: opening the workspace seals them
    if sandbox is None:
        return _Ready(None)
    found = reader.rows("SELECT id FROM sandboxes WHERE name = :name", name=sandbox)
    return _Ready(str(found[0]["id"])) if found else None


def head_revision() -> str:
    """The newest migration's revision, read from the migration files (no Alembic import)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text()
        revision = re.search(r'^revision = "([^"]+)"', source, re.MULTILINE)
        parent = re.search(r'^down_revision = "([^"]+)"', source, re.MULTILINE)
        if revision:
            revisions.add(revision.group(1))
        if parent:
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else ""  # several heads: let Alembic say what is wrong


def utc_time(value: datetime | str | None) -> datetime | None:
    """A stored time with its offset (SQLite gives text without one: it was stored in UTC)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def json_value(value: Any) -> Any:
    """A JSON column's value (SQLite gives its text; PostgreSQL's driver has parsed it already).

    The catalog's JSON columns hold objects and arrays, never a bare string, so text is always JSON."""
    return json.loads(value) if isinstance(value, str) else value
