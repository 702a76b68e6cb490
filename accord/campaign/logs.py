"""The log export: delivery logs (the send log) and tracking logs as CSV files, for the CDP's source to ingest.

Each export writes what happened since the last one: send-log rows whose status became final (sent,
failed, bounced) and tracking-log rows (opens, clicks, unsubscribes), plus, for unsubscribes, a consent
file the CDP reads into profiles. It keeps a cursor per log, moved in the same transaction that follows
the files' landing, so a failed export is written again in whole by the next (files are named by the
export's time range: writing one again replaces it, never adds a copy).

Rows are taken up to a moment `settle_seconds` in the past: a transaction still open when the export
reads may commit a row stamped a little earlier than the read, and the margin lets it land first.
"""

from __future__ import annotations

import csv
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from accord.campaign.engine import CampaignEngine
from accord.campaign.exceptions import CampaignInputError
from accord.campaign.models import (
    BroadLogRecord,
    DeliveryRecord,
    LogExportCursorRecord,
    RecipientRecord,
    TrackingLogRecord,
)
from accord.jobs import scratch_name

LOG_COLUMNS = (
    *("externalID", "campaignID", "campaignName", "deliveryID", "deliveryName", "broadlogID", "trackinglogID"),
    *("channel", "status", "reason", "eventType", "url", "userAgent", "timestamp"),
)
"""The columns of both log files, the reference's names; `eventType` says what happened: sent, failed,
bounced (delivery logs), open, click, unsubscribe (tracking logs)."""

CONSENT_COLUMNS = ("externalID", "email", "emailConsent", "timestamp")
"""The consent file: one row per unsubscribe, `emailConsent` the reference's `n`."""

FINAL = ("sent", "failed", "bounced")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def export_logs(engine: CampaignEngine, *, settle_seconds: float | None = None) -> dict[str, Any]:
    """Write the logs since the last export to the instance's log location; what was written, with counts.

    One export at a time per instance (a lock): two would write the same rows twice."""
    with engine.hold("log-export", "log export"):
        return _export(engine, settle_seconds)


def _export(engine: CampaignEngine, settle_seconds: float | None) -> dict[str, Any]:
    settle = engine.settings.campaign_log_settle_seconds if settle_seconds is None else settle_seconds
    until = datetime.now(UTC) - timedelta(seconds=settle)
    destination = log_destination(engine)
    with engine.database.session() as session:
        cursors = {c.kind: c for c in session.scalars(select(LogExportCursorRecord))}
        since = {kind: _since(cursors.get(kind)) for kind in ("delivery", "tracking")}
        deliveries = _delivery_rows(session, since["delivery"], until)
        tracking = _tracking_rows(session, since["tracking"], until)
    consents = [{"externalID": r["externalID"], "email": r["_email"], "emailConsent": "n", "timestamp": r["timestamp"]}
                for r in tracking if r["eventType"] == "unsubscribe"]  # fmt: skip
    stamp = until.strftime("%Y%m%d%H%M%S")
    name = engine.name
    files = []
    engine.settings.spill_root.mkdir(parents=True, exist_ok=True)
    # a folder named for this process, so that one killed here is swept by the next job (accord.jobs.scratch)
    with tempfile.TemporaryDirectory(prefix=scratch_name("logs"), dir=engine.settings.spill_root) as scratch:
        for kind, rows, columns in (("deliverylogs", deliveries, LOG_COLUMNS), ("trackinglogs", tracking, LOG_COLUMNS),
                                    ("consents", consents, CONSENT_COLUMNS)):  # fmt: skip
            if not rows:
                continue
            path = Path(scratch) / f"{kind}.csv"
            _write_csv(path, rows, columns)
            file = _export_file(path, f"{kind}_{name}_{stamp}.csv", len(rows))
            files.append({"name": file.name, "rows": file.rows, "size": file.size, "at": destination.write(file)})
    with engine.database.session() as session:
        for kind in ("delivery", "tracking"):
            record = session.get(LogExportCursorRecord, kind) or LogExportCursorRecord(kind=kind)
            record.exported_until = until
            session.add(record)
    return {"instance": name, "until": until.isoformat(), "deliveryLogs": len(deliveries),
            "trackingLogs": len(tracking), "consents": len(consents), "files": files}  # fmt: skip


def log_destination(engine: CampaignEngine) -> Any:
    """Where logs go: the setting `campaign_logs_destination` (any file destination: s3, azure-blob, sftp,
    local) or, by default, the instance's local logs folder."""
    from accord.access import AllowedRoots
    from accord.destinations import destination_class, destination_spec
    from accord.sources import validate_spec_config

    chosen = engine.settings.campaign_logs_destination
    if chosen is None:  # the instance's own folder, which the operator's settings name
        engine.logs.mkdir(parents=True, exist_ok=True)
        kind, config, roots = "local", {"root": str(engine.logs)}, AllowedRoots((engine.logs,))
    else:
        kind, config = str(chosen.get("destination", "")), dict(chosen.get("config") or {})
        roots = AllowedRoots.from_settings(engine.settings)
    try:
        spec = destination_spec(kind)
    except Exception as exc:  # an unknown destination id: its error names those that exist
        raise CampaignInputError(f"campaign_logs_destination: {exc}", field="campaign_logs_destination") from None
    if spec.delivery != "batch":
        raise CampaignInputError(f"campaign_logs_destination: {kind!r} does not take files",
                                 field="campaign_logs_destination")  # fmt: skip
    return destination_class(kind)(validate_spec_config(spec, config, roots, "CAMPAIGN-0400-400"), roots)


def _since(cursor: LogExportCursorRecord | None) -> datetime:
    return cursor.exported_until if cursor is not None and cursor.exported_until is not None else EPOCH


def _delivery_rows(session: Any, since: datetime, until: datetime) -> list[dict[str, Any]]:
    query = (
        select(BroadLogRecord, DeliveryRecord, RecipientRecord.external_id)
        .join(DeliveryRecord, DeliveryRecord.id == BroadLogRecord.delivery_id)
        .join(RecipientRecord, RecipientRecord.id == BroadLogRecord.recipient_id)
        .where(BroadLogRecord.status.in_(FINAL), BroadLogRecord.event_at > since, BroadLogRecord.event_at <= until)
        .order_by(BroadLogRecord.event_at, BroadLogRecord.id)
    )
    return [
        {"externalID": external_id, "campaignID": delivery.campaign_id, "campaignName": delivery.campaign_name,
         "deliveryID": str(delivery.id), "deliveryName": delivery.name, "broadlogID": str(log.id), "trackinglogID": "",
         "channel": "email", "status": log.status, "reason": log.reason, "eventType": log.status, "url": "",
         "userAgent": "", "timestamp": _time(log.event_at)}
        for log, delivery, external_id in session.execute(query)
    ]  # fmt: skip


def _tracking_rows(session: Any, since: datetime, until: datetime) -> list[dict[str, Any]]:
    query = (
        select(TrackingLogRecord, DeliveryRecord, RecipientRecord.external_id, RecipientRecord.email)
        .join(DeliveryRecord, DeliveryRecord.id == TrackingLogRecord.delivery_id)
        .join(RecipientRecord, RecipientRecord.id == TrackingLogRecord.recipient_id)
        .where(TrackingLogRecord.event_at > since, TrackingLogRecord.event_at <= until)
        .order_by(TrackingLogRecord.event_at, TrackingLogRecord.id)
    )
    return [
        {"externalID": external_id, "campaignID": delivery.campaign_id, "campaignName": delivery.campaign_name,
         "deliveryID": str(delivery.id), "deliveryName": delivery.name, "broadlogID": str(log.broadlog_id),
         "trackinglogID": str(log.id), "channel": "email", "status": "", "reason": "", "eventType": log.type,
         "url": log.url, "userAgent": log.user_agent, "timestamp": _time(log.event_at), "_email": email or ""}
        for log, delivery, external_id, email in session.execute(query)
    ]  # fmt: skip


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _export_file(path: Path, name: str, rows: int) -> Any:
    from accord.destinations import ExportFile

    return ExportFile(path=path, name=name, rows=rows, size=path.stat().st_size)


LOG_EXPORT_WORKFLOW = "log-export"


def log_export_document(every_minutes: int = 15) -> dict[str, Any]:
    """The instance's built-in export workflow: the logs every `every_minutes` minutes."""
    return {
        "name": LOG_EXPORT_WORKFLOW,
        "label": "Delivery and tracking logs to the CDP",
        "activities": [
            {"name": "start", "type": "scheduler", "options": {"frequency": "minutes", "every": every_minutes},
             "next": ["export"]},
            {"name": "export", "type": "log-export", "options": {}},
        ],
    }  # fmt: skip


def ensure_log_export_workflow(engine: CampaignEngine) -> bool:
    """Make the export workflow if the instance has none (`campaign_log_export_minutes` apart); whether it did."""
    from accord.campaign.models import WorkflowRecord
    from accord.campaign.workflows.definitions import create_workflow

    with engine.database.session() as session:
        if session.scalar(select(WorkflowRecord.id).where(WorkflowRecord.name == LOG_EXPORT_WORKFLOW)) is not None:
            return False
    create_workflow(engine, log_export_document(max(1, round(engine.settings.campaign_log_export_minutes))))
    return True
