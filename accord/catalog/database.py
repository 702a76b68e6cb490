"""Connecting to the catalog database and keeping its schema current with Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DatabaseError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from accord.catalog.exceptions import MigrationError, connection_error
from accord.catalog.reading import MIGRATIONS, head_revision

if TYPE_CHECKING:
    from alembic.config import Config


class Database:
    """A database of Accord's with migrations of its own: an engine, sessions, and migrations to head.

    The catalog is one; the campaign engine's database is another (its own tables and version table, so
    the two may share a PostgreSQL database). A subclass names its migrations folder, its version table
    and the table whose presence says it was initialised."""

    migrations: Path = MIGRATIONS
    version_table = "alembic_version"
    marker_table = "sandboxes"

    def __init__(self, url: str, *, create: bool = False) -> None:
        """Connect lazily to the catalog at `url`; only with `create` may a new SQLite file (and its folder) appear."""
        self.url = url
        self.engine = _create_engine(url, create)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self, revision: str = "head") -> None:
        """Bring the database to the newest schema (or `revision`), keeping every row already stored."""
        try:
            if revision == "head" and self.revision() == head_revision(self.migrations):
                return  # the common case, without importing Alembic: every command opens the catalog
            connection = self.engine.connect()
        except DatabaseError as exc:  # unreachable, refused, or not a database at all
            raise connection_error(self.url, exc.orig) from None
        from alembic import command

        try:
            with connection.begin():
                config = alembic_config(self.url, self.migrations)
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        except SQLAlchemyError as exc:
            raise MigrationError(str(getattr(exc, "orig", exc))) from None
        finally:
            connection.close()

    def revision(self) -> str | None:
        """The migration the database is at, or None before the first."""
        with self.engine.connect() as connection:
            if not inspect(connection).has_table(self.version_table):
                return None
            # the table's name is the class's own constant, never a caller's text
            found = connection.execute(text(f"SELECT version_num FROM {self.version_table}")).scalar()
            return found  # type: ignore[no-any-return]

    def is_initialised(self) -> bool:
        if self.url.startswith("sqlite:///") and not _sqlite_file(self.url).exists():
            return False  # asking SQLite would create an empty file
        try:
            return inspect(self.engine).has_table(self.marker_table)
        except DatabaseError as exc:
            raise connection_error(self.url, exc.orig) from None

    def dispose(self) -> None:
        self.engine.dispose()


class Catalog(Database):
    """The catalog database: operational metadata of every context."""


class SessionReader:
    """A `CatalogReader` (see `accord.catalog.reading`) over a session: any database, and what it has flushed."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def rows(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in self.session.execute(text(statement), params).mappings()]


def alembic_config(url: str, migrations: Path = MIGRATIONS) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _create_engine(url: str, create: bool) -> Engine:
    options: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        if create:
            _sqlite_file(url).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": 30}
    else:
        options["pool_pre_ping"] = True
    engine = create_engine(url, **options)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
