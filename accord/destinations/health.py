"""The health of a sandbox's activations at a glance: runs by status, and the flows whose latest run failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select

from accord.catalog import resolve_sandbox
from accord.catalog.activations import ActivationFlowRecord, ActivationRunRecord
from accord.destinations.runs import run_document
from accord.workspace import Workspace


def run_health(workspace: Workspace, sandbox: str, since: datetime, failing: int = 20) -> dict[str, Any]:
    """The sandbox's activation runs since `since` counted by status, and the flows whose latest run failed (at
    most `failing` of them, the most recent first)."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        runs = ActivationRunRecord
        counted = session.execute(select(runs.status, func.count()).where(
            runs.sandbox_id == sandbox_id, runs.created_at >= since).group_by(runs.status))  # fmt: skip
        latest = (select(runs.flow_id, func.max(runs.created_at).label("at")).where(runs.sandbox_id == sandbox_id)
                  .group_by(runs.flow_id).subquery())  # fmt: skip
        rows = session.execute(
            select(runs, ActivationFlowRecord.name)
            .join(latest, and_(runs.flow_id == latest.c.flow_id, runs.created_at == latest.c.at))
            .join(ActivationFlowRecord, ActivationFlowRecord.id == runs.flow_id)
            .where(runs.status == "failed").order_by(runs.created_at.desc()).limit(failing)
        )  # fmt: skip
        return {"byStatus": {status: count for status, count in counted},
                "failing": [run_document(r, name) for r, name in rows]}  # fmt: skip
