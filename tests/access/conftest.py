"""Fixtures of the access tests: the home of the API fixture, with a second sandbox (`dev`) beside `prod`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from accord.catalog import create_sandbox
from accord.workspace import Workspace
from tests.conftest import Api


@pytest.fixture
def ws(api: Api, settings: Any) -> Iterator[Workspace]:
    workspace = Workspace.open(settings)
    with workspace.catalog.session() as session:
        create_sandbox(session, "dev")
    yield workspace
    workspace.close()
