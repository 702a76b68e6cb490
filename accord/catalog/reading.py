"""Reading the catalog by plain statements: the list commands' quick path, shared with the API.

Importing SQLAlchemy and mapping the catalog's models takes most of a list command's time (about
0.4 s of its 0.65 s on the reference machine), for a list that is one query. So what the list
commands show is read by one statement per list, through a `CatalogReader`:

- `quick_reader` uses the standard library's sqlite3, when the catalog is a SQLite file that needs
  nothing done to it first (`needs_work`: at the newest revision, no secrets left to seal);
- otherwise, and for the API, `SessionReader` (in `accord.catalog.database`) runs the same
  statement in a session of the workspace: PostgreSQL, a catalog to migrate or seal, and the
  errors a missing sandbox or catalog deserves all take the usual path.

The statements are constants, whole, with bound parameters: no text is ever pasted into them.
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

from accord.home import check_home, protect

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
def quick_reader(settings: Settings) -> Iterator[SqliteReader | None]:
    """A reader of the SQLite catalog, or None when the usual path must open it.

    None when the catalog is not a SQLite file of this home, does not exist yet, cannot be read, or
    needs work first (`needs_work`): opening the workspace then migrates, seals, or says what is
    wrong. The home is checked and protected first, as opening a workspace does."""
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
            ready = not needs_work(reader)
        except sqlite3.Error:  # not a catalog, an older or a damaged one: the usual path migrates or says so
            ready = False
        yield reader if ready else None


REVISION = "SELECT version_num FROM alembic_version"
CLEAR_SECRETS = "SELECT id FROM connections WHERE secret_fields IS NULL LIMIT 1"
SANDBOX = "SELECT id FROM sandboxes WHERE name = :name"


def needs_work(reader: CatalogReader) -> bool:
    """Whether opening the catalog must change it first: migrate it to the newest revision, or seal the secrets
    an older Accord stored in clear. The workspace asks the same (`clear_secrets_pending`; the revision, by
    `Catalog.upgrade`), so that the list commands' quick path never skips what opening a workspace does."""
    revision = [row["version_num"] for row in reader.rows(REVISION)]
    return revision != [head_revision()] or clear_secrets_pending(reader)


def clear_secrets_pending(reader: CatalogReader) -> bool:
    """Whether connections stored before revision 0009 may still hold secrets in clear (`secret_fields` NULL)."""
    return bool(reader.rows(CLEAR_SECRETS))


def sandbox_id_of(reader: CatalogReader, name: str) -> str | None:
    """The id of the sandbox of that name, or None (the usual path then says what exists)."""
    found = reader.rows(SANDBOX, name=name)
    return str(found[0]["id"]) if found else None


def head_revision(migrations: Path = MIGRATIONS) -> str:
    """The newest migration's revision, read from the migration files (no Alembic import)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (migrations / "versions").glob("*.py"):
        source = path.read_text()
        revision = re.search(r'^revision = "([^"]+)"', source, re.MULTILINE)
        parent = re.search(r'^down_revision = "([^"]+)"', source, re.MULTILINE)
        if revision:
            revisions.add(revision.group(1))
        if parent:
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else ""  # several heads: let Alembic say what is wrong


def aware(moment: datetime) -> datetime:
    """A stored time with its UTC offset: SQLite gives back the UTC times it was given without one."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def utc_time(value: datetime | str | None) -> datetime | None:
    """A stored time with its offset, from what the driver gives (SQLite: text without one, stored in UTC)."""
    if value is None:
        return None
    return aware(datetime.fromisoformat(value) if isinstance(value, str) else value)


def json_value(value: Any) -> Any:
    """A JSON column's value (SQLite gives its text; PostgreSQL's driver has parsed it already).

    The catalog's JSON columns hold objects and arrays, never a bare string, so text is always JSON."""
    return json.loads(value) if isinstance(value, str) else value
