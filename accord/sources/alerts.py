"""Alerts about dataflow runs: start, success, failure, and delay (no success for too long).

Every alert is recorded and listed; when its subscription has a webhook, it is POSTed there as
JSON, with retries and backoff on failures that may pass (network errors, 429, 5xx), in the
background so that runs never wait for a slow receiver."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import func, select

from accord.catalog import AlertRecord, AlertSubscriptionRecord, DataflowRecord, FlowRunRecord, aware, resolve_sandbox
from accord.errors import DocumentError, validation_problems
from accord.retries import RetryableAnswer, RetryPolicy, retrying, worth_retrying
from accord.workspace import Workspace

log = logging.getLogger("accord.alerts")
Event = Literal["run.start", "run.success", "run.failure", "run.delay"]
_delivery = ThreadPoolExecutor(max_workers=2, thread_name_prefix="alerts")


class Subscription(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    event: Event
    dataflow: str | None = Field(default=None, description="One dataflow, or all of the sandbox's when empty.")
    webhook_url: str | None = Field(default=None, alias="webhookUrl", max_length=2048)
    delay_minutes: int | None = Field(default=None, alias="delayMinutes", ge=1, le=60 * 24 * 30)

    @model_validator(mode="after")
    def _consistent(self) -> Subscription:
        if self.event == "run.delay" and self.delay_minutes is None:
            raise ValueError("a run.delay subscription needs delayMinutes")
        if self.event != "run.delay" and self.delay_minutes is not None:
            raise ValueError("delayMinutes only applies to run.delay")
        if self.webhook_url is not None:
            parsed = urlparse(self.webhook_url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ValueError("webhookUrl must be an http(s) URL")
        return self


def subscribe(session: Any, sandbox: str, document: Any) -> dict[str, Any]:
    from accord.sources.dataflows import find_dataflow

    try:
        parsed = Subscription.model_validate(document)
    except ValidationError as exc:
        problems = validation_problems(exc.errors())
        raise DocumentError("the alert subscription", problems, code="SOURCE-0430-400") from None
    sandbox_id = resolve_sandbox(session, sandbox).id
    flow_id = find_dataflow(session, sandbox_id, parsed.dataflow).id if parsed.dataflow else None
    record = AlertSubscriptionRecord(sandbox_id=sandbox_id, event=parsed.event, dataflow_id=flow_id,
                                     webhook_url=parsed.webhook_url, delay_minutes=parsed.delay_minutes)  # fmt: skip
    session.add(record)
    session.flush()
    return subscription_document(session, record)


def subscription_document(session: Any, record: AlertSubscriptionRecord) -> dict[str, Any]:
    flow = session.get(DataflowRecord, record.dataflow_id) if record.dataflow_id else None
    return {"id": record.id, "event": record.event, "dataflow": flow.name if flow else None,
            "webhook": urlparse(record.webhook_url).hostname if record.webhook_url else None,
            "delayMinutes": record.delay_minutes, "enabled": record.enabled,
            "createdAt": record.created_at.isoformat()}  # fmt: skip


def list_subscriptions(session: Any, sandbox: str) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    records = session.scalars(select(AlertSubscriptionRecord).where(AlertSubscriptionRecord.sandbox_id == sandbox_id))
    return [subscription_document(session, r) for r in records]


def alert_document(record: AlertRecord, dataflow: str | None) -> dict[str, Any]:
    return {"id": record.id, "event": record.event, "dataflow": dataflow, "runId": record.run_id,
            "message": record.message, "delivery": record.delivery, "attempts": record.attempts,
            "lastError": record.last_error, "createdAt": record.created_at.isoformat()}  # fmt: skip


def list_alerts(session: Any, sandbox: str, limit: int = 100) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    rows = session.execute(
        select(AlertRecord, DataflowRecord.name)
        .outerjoin(DataflowRecord, DataflowRecord.id == AlertRecord.dataflow_id)
        .where(AlertRecord.sandbox_id == sandbox_id)
        .order_by(AlertRecord.created_at.desc())
        .limit(max(1, min(limit, 1000)))
    )
    return [alert_document(r, name) for r, name in rows]


def raise_alerts(workspace: Workspace, event: str, flow_id: str, message: str, run_id: str | None = None,
                 payload: dict[str, Any] | None = None) -> None:  # fmt: skip
    """Record an alert for every matching subscription and send the webhooks in the background."""
    to_send = []
    with workspace.catalog.session() as session:
        flow = session.get(DataflowRecord, flow_id)
        if flow is None:
            return
        matching = (AlertSubscriptionRecord.dataflow_id == flow_id) | AlertSubscriptionRecord.dataflow_id.is_(None)
        subscriptions = session.scalars(
            select(AlertSubscriptionRecord).where(
                AlertSubscriptionRecord.sandbox_id == flow.sandbox_id,
                AlertSubscriptionRecord.event == event,
                AlertSubscriptionRecord.enabled.is_(True),
                matching,
            )
        )
        for subscription in subscriptions:
            alert = AlertRecord(sandbox_id=flow.sandbox_id, subscription_id=subscription.id, event=event,
                                dataflow_id=flow_id, run_id=run_id, message=message[:2000],
                                delivery="pending" if subscription.webhook_url else "none")  # fmt: skip
            session.add(alert)
            session.flush()
            if subscription.webhook_url:
                body = {"alertId": alert.id, "event": event, "dataflow": flow.name, "runId": run_id,
                        "message": message, "createdAt": alert.created_at.isoformat(), **(payload or {})}  # fmt: skip
                to_send.append((alert.id, subscription.webhook_url, body))
    for alert_id, url, body in to_send:
        _delivery.submit(deliver, workspace, alert_id, url, body)


def deliver(workspace: Workspace, alert_id: str, url: str, body: dict[str, Any]) -> None:
    """POST an alert, retrying with back-off (the policy of `accord.retries`); the outcome is recorded on the alert."""
    import httpx

    settings = workspace.settings
    policy = RetryPolicy(attempts=settings.alert_retries + 1, initial_wait=settings.alert_backoff_seconds,
                         max_wait=max(600.0, settings.alert_backoff_seconds))  # fmt: skip
    attempts, error = 0, None
    try:
        for attempt in retrying(policy):
            with attempt:
                attempts += 1
                response = httpx.post(url, json=body, timeout=10)
                if worth_retrying(response.status_code):
                    raise RetryableAnswer(response)
        # any other answer is final: the receiver refuses it, and trying again will not help
        error = None if response.status_code < 300 else f"HTTP {response.status_code}"
    except RetryableAnswer as exc:
        error = f"HTTP {exc.response.status_code}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    with workspace.catalog.session() as session:
        alert = session.get(AlertRecord, alert_id)
        if alert is not None:
            alert.attempts, alert.last_error = attempts, error
            alert.delivery = "failed" if error else "delivered"
    if error:
        log.warning("alert %s could not be delivered: %s", alert_id, error)


def check_delays(workspace: Workspace, now: datetime | None = None) -> int:
    """Raise `run.delay` once for each dataflow whose last success is older than a subscription's delay."""
    now = now or datetime.now(UTC)
    raised = 0
    with workspace.catalog.session() as session:
        subscriptions = list(session.scalars(select(AlertSubscriptionRecord).where(
            AlertSubscriptionRecord.event == "run.delay", AlertSubscriptionRecord.enabled.is_(True))))  # fmt: skip
        due: list[tuple[str, str]] = []
        for subscription in subscriptions:
            query = select(DataflowRecord).where(
                DataflowRecord.sandbox_id == subscription.sandbox_id, DataflowRecord.enabled.is_(True)
            )
            if subscription.dataflow_id:
                query = query.where(DataflowRecord.id == subscription.dataflow_id)
            flows = session.scalars(query)
            for flow in flows:
                last_success = session.scalar(select(func.max(FlowRunRecord.completed_at)).where(
                    FlowRunRecord.dataflow_id == flow.id, FlowRunRecord.status == "success"))  # fmt: skip
                since = aware(last_success or flow.created_at)
                if now - since < timedelta(minutes=subscription.delay_minutes or 0):
                    continue
                already = session.scalar(select(AlertRecord.id).where(
                    AlertRecord.subscription_id == subscription.id, AlertRecord.dataflow_id == flow.id,
                    AlertRecord.created_at >= since))  # fmt: skip
                if already is None:
                    due.append((flow.id, f"dataflow {flow.name} has had no successful run for "
                                         f"{subscription.delay_minutes} minutes"))  # fmt: skip
    for flow_id, message in due:
        raise_alerts(workspace, "run.delay", flow_id, message)
        raised += 1
    return raised
