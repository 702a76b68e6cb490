"""The health of a sandbox's runs, for dataflows and activation flows alike: its runs since a moment counted by
status, and the flows whose latest run failed. One query shape over either table of runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session


def run_health_rows(session: Session, runs: Any, flows: Any, flow_key: str, sandbox_id: str, since: datetime,
                    failing: int) -> tuple[dict[str, int], list[tuple[Any, str]]]:  # fmt: skip
    """`runs`: a run record class with `sandbox_id`, `status` and `created_at`; `flow_key`: its column naming the
    flow (a record of `flows`, which has `id` and `name`). Answers the counts by status of the runs since `since`,
    and (run, flow name) for the flows whose latest run failed, at most `failing`, the most recent first."""
    key = getattr(runs, flow_key)
    counted = session.execute(select(runs.status, func.count()).where(
        runs.sandbox_id == sandbox_id, runs.created_at >= since).group_by(runs.status))  # fmt: skip
    latest = (select(key.label("flow"), func.max(runs.created_at).label("at")).where(runs.sandbox_id == sandbox_id)
              .group_by(key).subquery())  # fmt: skip
    rows = session.execute(
        select(runs, flows.name)
        .join(latest, and_(key == latest.c.flow, runs.created_at == latest.c.at))
        .join(flows, flows.id == key)
        .where(runs.status == "failed").order_by(runs.created_at.desc()).limit(failing)
    )  # fmt: skip
    return {status: count for status, count in counted}, [(run, name) for run, name in rows]
