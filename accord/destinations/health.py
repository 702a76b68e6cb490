"""The health of a sandbox's activations at a glance: runs by status, and the flows whose latest run failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from accord.catalog import resolve_sandbox, run_health_rows
from accord.catalog.activations import ActivationFlowRecord, ActivationRunRecord
from accord.destinations.runs import run_document
from accord.workspace import Workspace


def run_health(workspace: Workspace, sandbox: str, since: datetime, failing: int = 20) -> dict[str, Any]:
    """The sandbox's activation runs since `since` counted by status, and the flows whose latest run failed (at
    most `failing` of them, the most recent first)."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        counted, rows = run_health_rows(session, ActivationRunRecord, ActivationFlowRecord, "flow_id", sandbox_id,
                                        since, failing)  # fmt: skip
        return {"byStatus": counted, "failing": [run_document(r, name) for r, name in rows]}
