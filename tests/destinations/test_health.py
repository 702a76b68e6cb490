"""The health of a sandbox's activations at a glance (the workspace's home page shows it)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accord import destinations
from accord.errors import AccordError
from accord.workspace import Workspace
from tests.destinations.conftest import FLOW, create_flow


def test_activation_runs_are_counted_by_status_and_a_failing_flow_is_named(people: Workspace, outbox: Path) -> None:
    create_flow(people, "paris", FLOW)
    create_flow(people, "again", FLOW)
    assert destinations.run_activation(people, "prod", "paris")["status"] == "success"
    assert destinations.run_activation(people, "prod", "again")["status"] == "success"
    shutil.rmtree(outbox)
    outbox.write_text("a file where the folder was")  # the destination refuses every file
    with pytest.raises(AccordError):
        destinations.run_activation(people, "prod", "paris")

    health = destinations.run_health(people, "prod", since=datetime.now(UTC) - timedelta(hours=1))
    assert health["byStatus"] == {"success": 2, "failed": 1}
    assert [r["flow"] for r in health["failing"]] == ["paris"]  # "again" last succeeded
    assert destinations.run_health(people, "prod", since=datetime.now(UTC) + timedelta(minutes=1))["byStatus"] == {}
