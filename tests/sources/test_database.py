"""The `database` connector: one conformance suite on SQLite, and on real PostgreSQL and MariaDB
servers where users log in with a password."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import URL, create_engine, text
from sqlalchemy.engine import Engine

from accord import sources
from accord.access import AllowedRoots
from accord.catalog import resolve_sandbox
from accord.workspace import Workspace
from tests.databases import MariaDBServer, PostgresServer
from tests.sources.conftest import box, check, connect, firsts, flow, run

BACKENDS = ["sqlite", "postgresql", "mariadb"]
SERVERS = ["postgresql", "mariadb"]
"""The backends with a server, a user and a password (SQLite is a file)."""

_numbers = itertools.count()


@dataclass
class Database:
    """A new, empty database on one backend, and how the connector reaches it."""

    backend: str
    config: dict[str, Any]
    """The connection's configuration, as a user would write it."""
    engine: Engine
    """The database as its owner reaches it, to make tables and rows."""

    def execute(self, *statements: str) -> None:
        with self.engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))


@contextlib.contextmanager
def _fresh(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if backend == "sqlite":
        path = tmp_path / "crm.sqlite"
        engine = create_engine(URL.create("sqlite", database=str(path)))
        yield Database(backend, {"dialect": "sqlite", "database": str(path)}, engine)
        engine.dispose()
        return
    name = f"source_{next(_numbers)}"
    server: PostgresServer | MariaDBServer = request.getfixturevalue("postgres" if backend == "postgresql" else backend)
    server.create_database(name)
    dialect = "postgresql" if backend == "postgresql" else "mysql"
    config = {"dialect": dialect, "host": server.host, "port": server.port, "database": name,
              "username": server.user, "password": server.password, "connectTimeout": 5}  # fmt: skip
    driver = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}[dialect]
    engine = create_engine(URL.create(driver, username=server.user, password=server.password, host=server.host,
                                      port=server.port, database=name))  # fmt: skip
    try:
        yield Database(backend, config, engine)
    finally:
        engine.dispose()
        server.drop_database(name)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with _fresh(request.param, request, tmp_path) as made:
        yield made


@pytest.fixture(params=SERVERS)
def server_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with _fresh(request.param, request, tmp_path) as made:
        yield made


CUSTOMERS = "CREATE TABLE customers (id VARCHAR(10), first VARCHAR(50), email VARCHAR(100), updated INTEGER)"


def test_a_table_is_read_incrementally_and_a_query_whole(ws: Workspace, database: Database) -> None:
    database.execute(
        CUSTOMERS,
        "INSERT INTO customers VALUES ('1','Ann','ann@x.io',1), ('2','Bob','bob@x.io',2), ('3','Cy','cy@x.io',2)",
    )
    connect(ws, "db", "database", database.config)
    checked = check(ws, "db")
    assert checked["ok"] and [s["step"] for s in checked["steps"]] == ["connect", "list tables"], checked
    assert checked["steps"][1]["message"] == "1 tables"
    flow(ws, name="db-flow", connection="db", source={"table": "customers", "deltaColumn": "updated", "batchRows": 2})
    first = run(ws, "db-flow")
    assert (first["status"], first["recordsIngested"]) == ("success", 3)
    assert run(ws, "db-flow")["recordsIngested"] == 0  # the watermark holds
    database.execute("INSERT INTO customers VALUES ('4','Dee','dee@x.io',3)")
    assert run(ws, "db-flow")["recordsIngested"] == 1
    assert firsts(ws) == ["Ann", "Bob", "Cy", "Dee"]
    flow(ws, name="q", connection="db", source={"query": "SELECT id, first, email FROM customers WHERE id <> '2'"})
    assert run(ws, "q")["recordsIngested"] == 3
    assert firsts(ws) == ["Ann", "Ann", "Bob", "Cy", "Cy", "Dee", "Dee"]


def test_a_timestamp_delta_column_keeps_its_watermark(ws: Workspace, database: Database) -> None:
    database.execute(
        "CREATE TABLE customers (id VARCHAR(10), first VARCHAR(50), email VARCHAR(100), changed TIMESTAMP)",
        "INSERT INTO customers VALUES ('1','Ann','ann@x.io','2026-01-01 10:00:00'), "
        "('2','Bob','bob@x.io','2026-01-02 10:00:00')",
    )
    connect(ws, "db", "database", database.config)
    flow(ws, name="f", connection="db", source={"table": "customers", "deltaColumn": "changed"})
    assert run(ws, "f")["recordsIngested"] == 2
    assert run(ws, "f")["recordsIngested"] == 0  # the row at the watermark is not taken again
    database.execute("INSERT INTO customers VALUES ('3','Cy','cy@x.io','2026-01-02 10:00:01')")
    assert run(ws, "f")["recordsIngested"] == 1
    assert firsts(ws) == ["Ann", "Bob", "Cy"]


def test_tables_are_discovered_with_their_columns(ws: Workspace, database: Database) -> None:
    database.execute(CUSTOMERS, "CREATE TABLE orders (id INTEGER, customer VARCHAR(10))")
    connect(ws, "db", "database", database.config)
    with ws.catalog.session() as session:
        record = sources.find_connection(session, resolve_sandbox(session, "prod").id, "db")
        found = sources.connections.open_source(record, box(ws), AllowedRoots.from_settings(ws.settings)).discover()
    assert sorted(found, key=lambda t: t["table"]) == [
        {"table": "customers", "columns": ["id", "first", "email", "updated"]},
        {"table": "orders", "columns": ["id", "customer"]},
    ]


def test_a_missing_table_or_delta_column_fails_the_run_clearly(ws: Workspace, database: Database) -> None:
    database.execute(CUSTOMERS)
    connect(ws, "db", "database", database.config)
    flow(ws, name="bad", connection="db", source={"table": "nope"})
    failed = run(ws, "bad")
    assert failed["status"] == "failed"
    assert "no table 'nope'; the database has: customers" in failed["errors"][0]["message"]
    flow(ws, name="delta", connection="db", source={"table": "customers", "deltaColumn": "changed"})
    failed = run(ws, "delta")
    assert failed["status"] == "failed"
    assert (
        "delta column 'changed' is not among the columns: id, first, email, updated" in failed["errors"][0]["message"]
    )


@pytest.mark.integration
def test_a_wrong_password_is_refused_clearly(ws: Workspace, server_database: Database) -> None:
    server_database.execute(CUSTOMERS)
    config = {**server_database.config, "password": "not-the-password"}
    connect(ws, "db", "database", config)
    checked = check(ws, "db")
    [step] = checked["steps"]
    assert (checked["ok"], step["step"], step["ok"]) == (False, "authenticate", False)
    assert step["message"] == f"user {config['username']!r} or its password was refused"
    assert step["hint"] == "check username and password"
    flow(ws, name="f", connection="db", source={"table": "customers"})
    failed = run(ws, "f")
    assert failed["status"] == "failed"
    assert f"user {config['username']!r} or its password was refused" in failed["errors"][0]["message"]
    assert "not-the-password" not in str(checked) + str(failed)


@pytest.mark.integration
def test_a_missing_database_is_named(ws: Workspace, server_database: Database) -> None:
    connect(ws, "db", "database", {**server_database.config, "database": "no_such_db"})
    [step] = check(ws, "db")["steps"]
    assert (step["step"], step["ok"]) == ("open database", False) and "'no_such_db'" in step["message"], step
    assert step["hint"]


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_a_closed_port_is_refused_clearly(ws: Workspace, dialect: str, closed_port: int) -> None:
    config = {"dialect": dialect, "host": "127.0.0.1", "port": closed_port, "database": "shop", "username": "u",
              "password": "s3cret-value", "connectTimeout": 2}  # fmt: skip
    connect(ws, "db", "database", config)
    checked = check(ws, "db")
    [step] = checked["steps"]
    assert (step["step"], step["ok"]) == ("connect", False)
    assert step["message"] == f"connection refused by 127.0.0.1:{closed_port}" and step["hint"]
    assert "s3cret-value" not in str(checked)  # the secret is not echoed


def test_a_missing_sqlite_file_is_named(ws: Workspace, tmp_path: Path) -> None:
    connect(ws, "db", "database", {"dialect": "sqlite", "database": str(tmp_path / "nope.sqlite")})
    [step] = check(ws, "db")["steps"]
    assert (step["step"], step["ok"]) == ("database file", False) and "nope.sqlite not found" in step["message"]
    assert not (tmp_path / "nope.sqlite").exists()  # looking did not create it
