"""The catalog on SQLite and on a real PostgreSQL, for the tests that must hold on both."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.settings import Settings
from tests.databases import PostgresServer

_databases = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield Settings(home=tmp_path / "home")
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"catalog_{next(_databases)}"  # each test starts from an empty database of its own
    url = server.create_database(name)  # its user logs in with a password
    yield Settings(home=tmp_path / "home", database_url=url)
    server.drop_database(name)
