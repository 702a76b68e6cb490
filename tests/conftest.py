"""Shared fixtures: an initialised workspace on a temporary home, CLI runs and the API over that same
home, and real servers (PostgreSQL, MariaDB, S3, SFTP, Azure Blob Storage, NATS) for the whole session."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.api import create_app
from accord.settings import Settings
from accord.workspace import Workspace, initialise
from tests.databases import MariaDBServer, PostgresServer, start_mariadb, start_postgres
from tests.processes import stop_all
from tests.servers import (
    AzuriteServer,
    MotoServer,
    NatsServer,
    SftpServer,
    refusing_port,
    start_api,
    start_azurite,
    start_moto,
    start_nats,
    start_sftp,
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("ACCORD_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _stop_leftover_processes() -> Iterator[None]:
    """A test that fails midway leaves no `accord` process it started running into the next tests."""
    yield
    stop_all()


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The test's settings; `@pytest.mark.settings(name=value, ...)` changes some for one test."""
    # Schedules are tested on purpose (tests/sources/test_scheduling.py), never in the background of others.
    # Tests put the files of local connections anywhere under their temporary folder, as an operator
    # would allow a folder of their machine; Accord's home inside it stays closed all the same.
    changes = marker.kwargs if (marker := request.node.get_closest_marker("settings")) else {}
    values = {"home": tmp_path / "home", "duckdb_threads": 2, "duckdb_memory_limit": "2GB", "scheduler": False,
              "allowed_roots": [tmp_path]}  # fmt: skip
    return Settings(**(values | changes))


@pytest.fixture
def workspace(settings: Settings) -> Iterator[Workspace]:
    initialise(settings)
    ws = Workspace.open(settings)
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer]:
    server = start_mariadb()
    yield server
    server.stop()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port of 127.0.0.1 that refuses connections for the whole test."""
    with refusing_port() as port:
        yield port


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """A NATS server with JetStream; tests keep apart by the names of their streams."""
    server = start_nats()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def sftp() -> Iterator[SftpServer]:
    server = start_sftp()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[AzuriteServer]:
    server = start_azurite()
    yield server
    server.stop()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str) -> CliResult:
    """Run the real `accord` entry point in-process, as a user's shell would, and capture it."""
    from accord.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["accord", *args]
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main()
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    finally:
        sys.argv = argv
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The CLI on the same home as the `workspace` and `api` fixtures, so that what one does the
    others see (a test that drives several of them checks one against the other)."""
    monkeypatch.setenv("ACCORD_HOME", str(settings.home))
    monkeypatch.setenv("ACCORD_DUCKDB_THREADS", str(settings.duckdb_threads))
    monkeypatch.setenv("ACCORD_ALLOWED_ROOTS", str(tmp_path))
    return run_cli


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    """The API in a real uvicorn server on the test's home, with the admin token. Use it before
    `workspace` or `cli("init")` in a test's arguments: the first to initialise the home gets the token."""
    token = initialise(settings).token
    assert token, "the home was initialised before the api fixture: it cannot have the admin token"
    server = start_api(create_app(settings))
    client = Api(server.base, token)
    yield client
    client.client.close()
    server.stop()


def setup_crm(api: Api) -> None:
    assert (
        api.post(
            "/schemas",
            json={
                "name": "crm",
                "class": "profile",
                "fieldGroups": ["demographic-details", "personal-contact-details"],
            },
        ).status_code
        == 201
    )
    assert api.post("/datasets", json={"name": "crm", "schema": "crm", "profileEnabled": True}).status_code == 201
