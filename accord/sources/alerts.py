"""Alerts about runs of dataflows and activation flows: start, success, failure, delay (no success for
too long), and for activations a skip rate above a threshold (profiles left out of what was received).

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
from accord.catalog.activations import ActivationFlowRecord, ActivationRunRecord
from accord.errors import DocumentError, NotFoundError, did_you_mean, validation_problems
from accord.retries import RetryableAnswer, RetryPolicy, retrying, worth_retrying
from accord.workspace import Workspace

log = logging.getLogger("accord.alerts")
Event = Literal[
    "run.start",
    "run.success",
    "run.failure",
    "run.delay",
    "activation.start",
    "activation.success",
    "activation.failure",
    "activation.delay",
    "activation.skipped",
]
DELAYS = ("run.delay", "activation.delay")
SKIP_RATE_PERCENT = 1.0
"""`activation.skipped`: raised when more than this share of the profiles received was left out (the reference
product's default), unless the subscription says another."""
_delivery = ThreadPoolExecutor(max_workers=2, thread_name_prefix="alerts")


class Subscription(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    event: Event
    dataflow: str | None = Field(default=None, description="One dataflow (run.*), or all of the sandbox's when empty.")
    activation: str | None = Field(default=None, description="One activation flow (activation.*), or all of them.")
    webhook_url: str | None = Field(default=None, alias="webhookUrl", max_length=2048)
    delay_minutes: int | None = Field(default=None, alias="delayMinutes", ge=1, le=60 * 24 * 30)
    skip_rate_percent: float | None = Field(default=None, alias="skipRatePercent", ge=0, le=100)

    @model_validator(mode="after")
    def _consistent(self) -> Subscription:
        if self.event in DELAYS and self.delay_minutes is None:
            raise ValueError(f"a {self.event} subscription needs delayMinutes")
        if self.event not in DELAYS and self.delay_minutes is not None:
            raise ValueError("delayMinutes only applies to run.delay and activation.delay")
        if self.event != "activation.skipped" and self.skip_rate_percent is not None:
            raise ValueError("skipRatePercent only applies to activation.skipped")
        if self.event.startswith("run.") and self.activation is not None:
            raise ValueError("an activation flow is named with activation.* events; run.* are dataflows'")
        if self.event.startswith("activation.") and self.dataflow is not None:
            raise ValueError("a dataflow is named with run.* events; activation.* are activation flows'")
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
    activation_id = _activation_flow(session, sandbox_id, parsed.activation).id if parsed.activation else None
    skip_rate = parsed.skip_rate_percent
    if parsed.event == "activation.skipped" and skip_rate is None:
        skip_rate = SKIP_RATE_PERCENT
    record = AlertSubscriptionRecord(sandbox_id=sandbox_id, event=parsed.event, dataflow_id=flow_id,
                                     activation_id=activation_id, webhook_url=parsed.webhook_url,
                                     delay_minutes=parsed.delay_minutes, skip_rate_percent=skip_rate)  # fmt: skip
    session.add(record)
    session.flush()
    return subscription_document(session, record)


def _activation_flow(session: Any, sandbox_id: str, name: str) -> ActivationFlowRecord:
    """An activation flow by name, read from the catalog (the destinations context builds on this one)."""
    record = session.scalar(select(ActivationFlowRecord).where(ActivationFlowRecord.sandbox_id == sandbox_id,
                                                               ActivationFlowRecord.name == name))  # fmt: skip
    if record is None:
        names = list(session.scalars(select(ActivationFlowRecord.name).where(
            ActivationFlowRecord.sandbox_id == sandbox_id)))  # fmt: skip
        raise NotFoundError(f"no activation flow named {name!r}{did_you_mean(name, names)}",
                            code="ACTIVATION-0404-404", flow=name, available=names)  # fmt: skip
    return record


def subscription_document(session: Any, record: AlertSubscriptionRecord) -> dict[str, Any]:
    flow = session.get(DataflowRecord, record.dataflow_id) if record.dataflow_id else None
    activation = session.get(ActivationFlowRecord, record.activation_id) if record.activation_id else None
    return {"id": record.id, "event": record.event, "dataflow": flow.name if flow else None,
            "activation": activation.name if activation else None,
            "webhook": urlparse(record.webhook_url).hostname if record.webhook_url else None,
            "delayMinutes": record.delay_minutes, "skipRatePercent": record.skip_rate_percent,
            "enabled": record.enabled, "createdAt": record.created_at.isoformat()}  # fmt: skip


def list_subscriptions(session: Any, sandbox: str) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    records = session.scalars(select(AlertSubscriptionRecord).where(AlertSubscriptionRecord.sandbox_id == sandbox_id))
    return [subscription_document(session, r) for r in records]


def alert_document(record: AlertRecord, dataflow: str | None, activation: str | None = None) -> dict[str, Any]:
    return {"id": record.id, "event": record.event, "dataflow": dataflow, "activation": activation,
            "runId": record.run_id,
            "message": record.message, "delivery": record.delivery, "attempts": record.attempts,
            "lastError": record.last_error, "createdAt": record.created_at.isoformat()}  # fmt: skip


def list_alerts(session: Any, sandbox: str, limit: int = 100) -> list[dict[str, Any]]:
    sandbox_id = resolve_sandbox(session, sandbox).id
    rows = session.execute(
        select(AlertRecord, DataflowRecord.name, ActivationFlowRecord.name)
        .outerjoin(DataflowRecord, DataflowRecord.id == AlertRecord.dataflow_id)
        .outerjoin(ActivationFlowRecord, ActivationFlowRecord.id == AlertRecord.activation_id)
        .where(AlertRecord.sandbox_id == sandbox_id)
        .order_by(AlertRecord.created_at.desc())
        .limit(max(1, min(limit, 1000)))
    )
    return [alert_document(r, dataflow, activation) for r, dataflow, activation in rows]


def raise_alerts(workspace: Workspace, event: str, flow_id: str, message: str, run_id: str | None = None,
                 payload: dict[str, Any] | None = None) -> None:  # fmt: skip
    """Record an alert for every matching subscription and send the webhooks in the background.

    `flow_id` is a dataflow's for `run.*` events, an activation flow's for `activation.*` ones. An
    `activation.skipped` alert goes to the subscriptions whose threshold the run's `skipRate` passes."""
    activation = event.startswith("activation.")
    to_send = []
    with workspace.catalog.session() as session:
        flow: ActivationFlowRecord | DataflowRecord | None = (
            session.get(ActivationFlowRecord, flow_id) if activation else session.get(DataflowRecord, flow_id)
        )
        if flow is None:
            return
        column = AlertSubscriptionRecord.activation_id if activation else AlertSubscriptionRecord.dataflow_id
        subscriptions = session.scalars(
            select(AlertSubscriptionRecord).where(
                AlertSubscriptionRecord.sandbox_id == flow.sandbox_id,
                AlertSubscriptionRecord.event == event,
                AlertSubscriptionRecord.enabled.is_(True),
                (column == flow_id) | column.is_(None),
            )
        )
        for subscription in subscriptions:
            rate = (payload or {}).get("skipRate")
            if event == "activation.skipped" and (rate is None or rate <= (subscription.skip_rate_percent or 0)):
                continue
            alert = AlertRecord(sandbox_id=flow.sandbox_id, subscription_id=subscription.id, event=event,
                                dataflow_id=None if activation else flow_id,
                                activation_id=flow_id if activation else None, run_id=run_id, message=message[:2000],
                                delivery="pending" if subscription.webhook_url else "none")  # fmt: skip
            session.add(alert)
            session.flush()
            if subscription.webhook_url:
                body = {"alertId": alert.id, "event": event, "activation" if activation else "dataflow": flow.name,
                        "runId": run_id, "message": message, "createdAt": alert.created_at.isoformat(),
                        **(payload or {})}  # fmt: skip
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
    """Raise `run.delay` (dataflows) and `activation.delay` (activation flows) once for each flow whose last
    success is older than a subscription's delay."""
    now = now or datetime.now(UTC)
    due: list[tuple[str, str, str]] = []
    with workspace.catalog.session() as session:
        subscriptions = list(session.scalars(select(AlertSubscriptionRecord).where(
            AlertSubscriptionRecord.event.in_(DELAYS), AlertSubscriptionRecord.enabled.is_(True))))  # fmt: skip
        for subscription in subscriptions:
            activation = subscription.event == "activation.delay"
            for flow_id, name, since in _last_successes(session, subscription, activation):
                if now - since < timedelta(minutes=subscription.delay_minutes or 0):
                    continue
                raised = AlertRecord.activation_id if activation else AlertRecord.dataflow_id
                already = session.scalar(select(AlertRecord.id).where(
                    AlertRecord.subscription_id == subscription.id, raised == flow_id,
                    AlertRecord.created_at >= since))  # fmt: skip
                if already is None:
                    kind = "activation flow" if activation else "dataflow"
                    due.append((subscription.event, flow_id, f"{kind} {name} has had no successful run for "
                                                             f"{subscription.delay_minutes} minutes"))  # fmt: skip
    for event, flow_id, message in due:
        raise_alerts(workspace, event, flow_id, message)
    return len(due)


def _last_successes(
    session: Any, subscription: AlertSubscriptionRecord, activation: bool
) -> list[tuple[str, str, datetime]]:
    """(flow id, name, last success or creation) of the enabled flows a delay subscription watches."""
    if activation:
        flows = select(ActivationFlowRecord).where(ActivationFlowRecord.sandbox_id == subscription.sandbox_id,
                                                   ActivationFlowRecord.state != "disabled")  # fmt: skip
        if subscription.activation_id:
            flows = flows.where(ActivationFlowRecord.id == subscription.activation_id)
        found = []
        for flow in session.scalars(flows):
            last = session.scalar(select(func.max(ActivationRunRecord.completed_at)).where(
                ActivationRunRecord.flow_id == flow.id, ActivationRunRecord.status == "success",
                ActivationRunRecord.dry_run.is_(False)))  # fmt: skip
            found.append((flow.id, flow.name, aware(last or flow.created_at)))
        return found
    query = select(DataflowRecord).where(DataflowRecord.sandbox_id == subscription.sandbox_id,
                                         DataflowRecord.enabled.is_(True))  # fmt: skip
    if subscription.dataflow_id:
        query = query.where(DataflowRecord.id == subscription.dataflow_id)
    found = []
    for dataflow in session.scalars(query):
        last = session.scalar(select(func.max(FlowRunRecord.completed_at)).where(
            FlowRunRecord.dataflow_id == dataflow.id, FlowRunRecord.status == "success"))  # fmt: skip
        found.append((dataflow.id, dataflow.name, aware(last or dataflow.created_at)))
    return found
