"""Databases through SQLAlchemy: PostgreSQL, MySQL/MariaDB and SQLite; a table or a query, with
incremental pickup by a delta column whose high-water mark is kept between runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import URL, MetaData, Table, bindparam, column, create_engine, inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import NoSuchTableError, OperationalError, ProgrammingError, SQLAlchemyError

from accord.errors import InvalidInputError
from accord.sources.exceptions import SourceUnavailableError
from accord.sources.spec import (
    SECRET,
    Capabilities,
    Checkpoint,
    CheckStep,
    ConnectorSpec,
    IngestItem,
    ReadContext,
    Source,
    SourceFile,
)

DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql", "sqlite": "sqlite"}


class DatabaseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dialect: Literal["postgresql", "mysql", "sqlite"]
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    database: str = Field(description="Database name, or the file of a SQLite database.")
    username: str | None = None
    password: str | None = Field(default=None, json_schema_extra=SECRET)
    connect_timeout: int = Field(default=10, ge=1, le=300, alias="connectTimeout")

    def local_paths(self) -> dict[str, str]:
        """A SQLite database is a file of this machine: it must lie inside the allowed roots."""
        return {"database": self.database} if self.dialect == "sqlite" else {}

    def url(self) -> URL:
        if self.dialect == "sqlite":
            return URL.create("sqlite", database=self.database)
        return URL.create(
            DRIVERS[self.dialect],
            username=self.username,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.database,
        )


class DatabaseSelection(BaseModel):
    """What a dataflow reads: a table, or a query, and optionally its delta column."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    table: str | None = None
    query: str | None = Field(default=None, max_length=100_000)
    delta_column: str | None = Field(
        default=None, alias="deltaColumn", description="Pick up only rows whose value here is above the last run's."
    )
    batch_rows: int = Field(default=250_000, ge=1, le=10_000_000, alias="batchRows")

    @model_validator(mode="after")
    def _one_of(self) -> DatabaseSelection:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of `table` or `query`")
        return self


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return {"type": "datetime" if isinstance(value, datetime) else "date", "value": value.isoformat()}
    if isinstance(value, Decimal):
        return {"type": "decimal", "value": str(value)}
    return value


def _restore(value: Any) -> Any:
    if isinstance(value, dict):
        kind, text_value = value.get("type"), str(value.get("value"))
        if kind == "datetime":
            return datetime.fromisoformat(text_value)
        if kind == "date":
            return date.fromisoformat(text_value)
        if kind == "decimal":
            return Decimal(text_value)
    return value


class DatabaseSource(Source[DatabaseConfig]):
    spec = ConnectorSpec(
        id="database",
        name="Database (PostgreSQL, MySQL/MariaDB, SQLite)",
        category="database",
        description="A table or a query of a SQL database, incrementally by a delta column.",
        config=DatabaseConfig,
        source=DatabaseSelection,
        capabilities=Capabilities(tables=True, supports_incremental=True),
    )

    def _engine(self) -> Engine:
        config = self.config
        if config.dialect == "sqlite" and not Path(config.database).exists():
            raise SourceUnavailableError(f"SQLite database {config.database} does not exist")
        arguments = {"connect_timeout": config.connect_timeout} if config.dialect != "sqlite" else {}
        return create_engine(config.url(), connect_args=arguments, pool_pre_ping=True)

    def check(self) -> list[CheckStep]:
        config = self.config
        if config.dialect == "sqlite":
            exists = Path(config.database).is_file()
            if not exists:
                return [CheckStep("database file", False, f"{config.database} not found", "fix `database`")]
        try:
            engine = self._engine()
            with engine.connect() as connection:
                connection.execute(select(1))
                tables = inspect(connection).get_table_names()
        except OperationalError as exc:
            known = _diagnose(str(exc.orig), config)
            return [known or CheckStep("connect", False, _first_line(str(exc.orig)), "check the connection settings")]
        except SQLAlchemyError as exc:
            return [CheckStep("connect", False, str(exc).splitlines()[0], "check the connection settings")]
        finally:
            if "engine" in locals():
                engine.dispose()
        return [
            CheckStep("connect", True, f"{config.dialect} reachable"),
            CheckStep("list tables", True, f"{len(tables)} tables"),
        ]

    def discover(self) -> list[dict[str, Any]]:
        engine = self._engine()
        try:
            with engine.connect() as connection:
                inspector = inspect(connection)
                return [
                    {"table": name, "columns": [c["name"] for c in inspector.get_columns(name)]}
                    for name in inspector.get_table_names()
                ]
        finally:
            engine.dispose()

    def read(self, source: DatabaseSelection, context: ReadContext) -> Iterator[IngestItem | Checkpoint]:
        engine = self._engine()
        try:
            with engine.connect() as connection:
                selectable = self._selectable(connection, source)
                statement = select(selectable)
                delta = None
                if source.delta_column:
                    if source.delta_column not in selectable.c:
                        raise InvalidInputError(
                            f"delta column {source.delta_column!r} is not among the columns: "
                            f"{', '.join(selectable.c.keys())}",
                            code="SOURCE-0402-400",
                        )
                    delta = selectable.c[source.delta_column]
                    watermark = _restore(context.state.get("watermark"))
                    if watermark is not None:
                        statement = statement.where(delta > bindparam("watermark", watermark))
                    statement = statement.order_by(delta)
                result = connection.execution_options(stream_results=True, yield_per=source.batch_rows).execute(
                    statement
                )
                yield from self._chunks(result, source, delta is not None, context.workdir)
        except (OperationalError, ProgrammingError) as exc:
            known = _diagnose(str(exc.orig), self.config) if isinstance(exc, OperationalError) else None
            reason = f"{known.message} ({known.hint})" if known else _first_line(str(exc.orig))
            raise SourceUnavailableError(f"reading the database failed: {reason}") from None
        finally:
            engine.dispose()

    def _selectable(self, connection: Any, source: DatabaseSelection) -> Any:
        if source.table is not None:
            schema, _, name = source.table.rpartition(".")
            try:
                return Table(name, MetaData(), autoload_with=connection, schema=schema or None)
            except NoSuchTableError:
                tables = inspect(connection).get_table_names()
                raise InvalidInputError(
                    f"no table {source.table!r}; the database has: {', '.join(tables[:50])}", code="SOURCE-0403-400"
                ) from None
        # The user's own query runs as written against their database; our filters are bound parameters.
        query = str(source.query)
        probe = connection.execute(text(query))
        keys = list(probe.keys())
        probe.close()
        return text(query).columns(*[column(k) for k in keys]).subquery("q")

    def _chunks(
        self, result: Any, source: DatabaseSelection, incremental: bool, workdir: Path
    ) -> Iterator[IngestItem | Checkpoint]:
        keys = list(result.keys())
        pending: list[Any] = []
        index = 0
        delta_at = keys.index(source.delta_column) if incremental and source.delta_column else -1
        for partition in result.partitions(source.batch_rows):
            pending.extend(partition)
            if len(pending) < source.batch_rows:
                continue
            # Cut only where the delta value changes, so a checkpoint never splits equal values.
            cut = len(pending)
            if delta_at >= 0:
                last = pending[-1][delta_at]
                while cut > 0 and pending[cut - 1][delta_at] == last:
                    cut -= 1
                cut = cut or len(pending)
            chunk, pending = pending[:cut], pending[cut:]
            index += 1
            yield from self._emit(chunk, keys, delta_at, workdir, index)
        if pending:
            index += 1
            yield from self._emit(pending, keys, delta_at, workdir, index)

    def _emit(
        self, rows: list[Any], keys: list[str], delta_at: int, workdir: Path, index: int
    ) -> Iterator[IngestItem | Checkpoint]:
        columns: list[Any] = list(zip(*rows, strict=True)) if rows else [() for _ in keys]
        table = pa.table({k: pa.array(list(v)) for k, v in zip(keys, columns, strict=True)})
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / f"chunk-{index:05d}.parquet"
        pq.write_table(table, path)
        if delta_at >= 0:
            values = [r[delta_at] for r in rows if r[delta_at] is not None]
            low, high = (min(values), max(values)) if values else (None, None)
            # The same rows give the same key, so a chunk committed before a crash is not taken twice.
            key = f"delta:{low}..{high}#{len(rows)}"
        else:
            key = f"full:{uuid.uuid4().hex}:{index}"  # a full read is new data every time
        yield IngestItem((SourceFile(path, key, path.stat().st_size, f"rows {index}"),))
        if delta_at >= 0 and high is not None:
            yield Checkpoint({"watermark": _jsonable(high)})


def _diagnose(message: str, config: DatabaseConfig) -> CheckStep | None:
    """Which step failed and what to do, from the driver's message; None when it is not one we know."""
    lowered = message.lower()
    where = f"{config.host}:{config.port or 'default port'}"
    if "connection refused" in lowered:
        return CheckStep("connect", False, f"connection refused by {where}", "is the server running on that port?")
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return CheckStep("resolve host", False, f"unknown host {config.host}", "fix `host`")
    if "timeout" in lowered or "timed out" in lowered:
        return CheckStep("connect", False, f"no answer from {where}", "check the host, port and firewall")
    # MySQL and MariaDB refuse a database the user may not open without saying whether it exists
    if "access denied" in lowered and "to database" in lowered:
        return CheckStep(
            "open database",
            False,
            f"database {config.database!r} does not exist or user {config.username!r} may not open it",
            "fix `database`, or grant the user access to it",
        )
    if "password authentication failed" in lowered or "access denied" in lowered:
        refused = f"user {config.username!r} or its password was refused"
        return CheckStep("authenticate", False, refused, "check username and password")
    if ("does not exist" in lowered and "database" in lowered) or "unknown database" in lowered:
        return CheckStep("open database", False, f"database {config.database!r} does not exist", "fix `database`")
    return None


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "no reason given"
