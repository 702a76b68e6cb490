"""Shared fixtures: an initialised workspace on a temporary home, CLI runs, a PostgreSQL server."""

from __future__ import annotations

import io
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from accord.api import create_app
from accord.settings import Settings
from accord.workspace import Workspace, initialise
from tests.servers import (
    AzuriteServer,
    MotoServer,
    PostgresServer,
    SftpServer,
    free_port,
    start_azurite,
    start_moto,
    start_postgres,
    start_sftp,
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("ACCORD_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Schedules are tested on purpose (tests/sources/test_scheduling.py), never in the background of others.
    # Tests put the files of local connections anywhere under their temporary folder, as an operator
    # would allow a folder of their machine; Accord's home inside it stays closed all the same.
    return Settings(
        home=tmp_path / "home", duckdb_threads=2, duckdb_memory_limit="2GB", scheduler=False, allowed_roots=[tmp_path]
    )


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
def moto() -> Iterator[MotoServer]:
    server = start_moto()
    yield server
    server.stop()


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
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ACCORD_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("ACCORD_DUCKDB_THREADS", "2")
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
    token = initialise(settings).token
    assert token
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    client = Api(f"http://127.0.0.1:{port}", token)
    yield client
    client.client.close()
    server.should_exit = True
    thread.join(10)


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
