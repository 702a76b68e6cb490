"""Fixtures and helpers of the destinations tests: accounts made and opened as the CLI and API will."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from accord import destinations
from accord.access import AllowedRoots
from accord.destinations import Destination, ExportFile
from accord.sources import CheckStep, SecretBox
from accord.workspace import Workspace
from tests.destinations.stores import CASES, Case

FILE_DESTINATIONS = [spec.id for spec in destinations.list_destinations() if spec.files is not None]
"""Every destination of the registry that takes batch files."""


@pytest.fixture(params=FILE_DESTINATIONS)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    """Each file destination in turn, on a store of the test's own at its real server."""
    if request.param not in CASES:
        pytest.fail(f"file destination {request.param!r} has no case in tests/destinations/stores.py: add one")
    return CASES[request.param](request, tmp_path)


def open_account(workspace: Workspace, destination: str, config: dict[str, Any]) -> Any:
    """A new account of `destination` (secrets sealed in the catalog), opened again from what was stored."""
    roots = AllowedRoots.from_settings(workspace.settings)
    box = SecretBox(workspace.settings.home)
    with workspace.catalog.session() as session:
        name = f"{destination}-{secrets.token_hex(4)}"
        record = destinations.create_account(session, box, "prod", name, destination, config, roots)
        opened: Destination[Any] = destinations.open_destination(record, box, roots)
    return opened


def export_file(folder: Path, name: str, content: bytes) -> ExportFile:
    """A finished file of an activation run, on local disk, to be put under `name`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(6)}.out"
    path.write_bytes(content)
    return ExportFile(path=path, name=name, rows=content.count(b"\n"), size=len(content))


def failed_step(steps: list[CheckStep]) -> tuple[str, str]:
    """The step a test stopped at (the last) as (name, message); the test must have failed there."""
    assert steps and not steps[-1].ok and all(s.ok for s in steps[:-1]), steps
    assert steps[-1].hint, steps[-1]  # a failure always says what to do
    return steps[-1].name, steps[-1].message
