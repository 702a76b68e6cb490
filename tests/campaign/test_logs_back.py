"""Logs back to the CDP: the log export writes what happened since the last one, and `connect` sets up the
source that ingests it, so that tracking joins the right profiles and feeds an engagement audience."""

from __future__ import annotations

import csv
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from accord import campaign, destinations, ingest, profile, schema, segment, sources
from accord.campaign.connect import Instance, connect, instance_document
from accord.campaign.logs import LOG_COLUMNS, export_logs
from accord.campaign.models import BroadLogRecord, DeliveryRecord, RecipientRecord, TrackingLogRecord
from accord.workspace import Workspace

PEOPLE = [("C1", "ann@example.com", "Ann"), ("C2", "bob@example.com", "Bob"), ("C3", "cid@example.com", "Cid")]


@pytest.fixture
def engine(workspace: Workspace) -> Any:
    opened = campaign.CampaignEngine.open(workspace.settings)
    yield opened
    opened.close()


def _sent_and_tracked(engine: Any, when: datetime) -> dict[str, int]:
    """Three recipients mailed by one delivery (Cid's message bounced); Ann opened and clicked, Bob opened
    and unsubscribed."""
    with engine.database.session() as session:
        recipients = [RecipientRecord(external_id=e, email=m, first_name=f) for e, m, f in PEOPLE]
        delivery = DeliveryRecord(name="spring", campaign_id="CMP1", campaign_name="Spring sale",
                                  sender="shop@example.com", subject="Hello")  # fmt: skip
        session.add_all([*recipients, delivery])
        session.flush()
        logs = [BroadLogRecord(delivery_id=delivery.id, recipient_id=r.id, email=r.email or "", event_at=when,
                               status="bounced" if r.external_id == "C3" else "sent",
                               reason="550 5.1.1 no such user" if r.external_id == "C3" else "")
                for r in recipients]  # fmt: skip
        session.add_all(logs)
        session.flush()
        ann, bob = logs[0], logs[1]
        session.add_all([
            TrackingLogRecord(broadlog_id=ann.id, delivery_id=delivery.id, recipient_id=ann.recipient_id,
                              type="open", event_at=when),
            TrackingLogRecord(broadlog_id=ann.id, delivery_id=delivery.id, recipient_id=ann.recipient_id,
                              type="click", url="https://shop.example.com/spring?x=1", user_agent="Mail/1.0",
                              event_at=when),
            TrackingLogRecord(broadlog_id=bob.id, delivery_id=delivery.id, recipient_id=bob.recipient_id,
                              type="open", event_at=when),
            TrackingLogRecord(broadlog_id=bob.id, delivery_id=delivery.id, recipient_id=bob.recipient_id,
                              type="unsubscribe", event_at=when),
        ])  # fmt: skip
        return {"delivery": delivery.id}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_export_writes_what_happened_since_the_last_one_once(engine: Any) -> None:
    _sent_and_tracked(engine, datetime.now(UTC) - timedelta(minutes=5))
    first = export_logs(engine, settle_seconds=0)
    assert (first["deliveryLogs"], first["trackingLogs"], first["consents"]) == (3, 4, 1)
    files = {f["name"].split("_")[0]: Path(f["at"]) for f in first["files"]}
    assert set(files) == {"deliverylogs", "trackinglogs", "consents"}
    assert all(path.parent == engine.logs for path in files.values())
    delivered = _rows(files["deliverylogs"])
    assert list(delivered[0]) == list(LOG_COLUMNS)
    assert sorted((r["externalID"], r["eventType"], r["reason"]) for r in delivered) == [
        ("C1", "sent", ""), ("C2", "sent", ""), ("C3", "bounced", "550 5.1.1 no such user")]  # fmt: skip
    assert {r["campaignName"] for r in delivered} == {"Spring sale"}
    tracked = _rows(files["trackinglogs"])
    assert sorted((r["externalID"], r["eventType"]) for r in tracked) == [
        ("C1", "click"), ("C1", "open"), ("C2", "open"), ("C2", "unsubscribe")]  # fmt: skip
    assert [r["url"] for r in tracked if r["eventType"] == "click"] == ["https://shop.example.com/spring?x=1"]
    assert _rows(files["consents"]) == [{"externalID": "C2", "email": "bob@example.com", "emailConsent": "n",
                                         "timestamp": tracked[-1]["timestamp"]}]  # fmt: skip

    again = export_logs(engine, settle_seconds=0)
    assert (again["deliveryLogs"], again["trackingLogs"], again["files"]) == (0, 0, [])


def test_rows_younger_than_the_settling_time_wait_for_the_next_export(engine: Any) -> None:
    _sent_and_tracked(engine, datetime.now(UTC))
    assert export_logs(engine, settle_seconds=600)["deliveryLogs"] == 0
    assert export_logs(engine, settle_seconds=0)["deliveryLogs"] == 3


def test_connect_sets_up_both_directions_and_a_second_run_changes_nothing(workspace: Workspace, engine: Any) -> None:
    instance = Instance(**{k: v for k, v in instance_document(engine).items() if k in ("landing", "logs")},
                        name=engine.name)  # fmt: skip
    made = connect(workspace, "prod", instance)
    logs = ["campaign-default-delivery-logs", "campaign-default-tracking-logs", "campaign-default-consents"]
    assert made["kept"] == [] and sorted(made["created"]) == sorted([
        "destination account campaign-default", "field group campaign-recipient", "connection campaign-default-logs",
        *[f"{what} {name}" for name in logs for what in ("schema", "dataset", "dataflow")]])  # fmt: skip
    again = connect(workspace, "prod", instance)
    assert again["created"] == [] and sorted(again["kept"]) == sorted(made["created"])
    with workspace.catalog.session() as session:
        account = destinations.get_account(session, "prod", "campaign-default")
        flows = {name: sources.list_dataflows(session, "prod") for name in logs}
    assert account["destination"] == "accord-campaign" and account["config"]["root"] == str(engine.landing)
    assert {f["name"] for f in next(iter(flows.values()))} == set(logs)


def test_tracking_joins_the_profiles_and_feeds_the_engagement_audience(workspace: Workspace, engine: Any) -> None:
    crm = workspace.settings.home.parent / "crm.csv"
    crm.write_text("crm,email,first,consent\n" + "".join(f"{e},{m},{f},y\n" for e, m, f in PEOPLE))
    with workspace.catalog.session() as session:
        schema.create_field_group(session, "prod", {"name": "crm-ids", "classes": ["profile"], "fields": {
            "_tenant": {"type": "object", "properties": {"crm": {"type": "string"}}}}})  # fmt: skip
        schema.create_schema(session, "prod", {"name": "crm", "class": "profile", "fieldGroups": [
            "personal-contact-details", "demographic-details", "consents-and-preferences", "crm-ids"], "identities": [
            {"path": "_tenant.crm", "namespace": "CRMID", "primary": True}]})  # fmt: skip
        from accord import lake

        lake.create_dataset(session, "prod", "crm", "crm", profile_enabled=True)
    mapping = ingest.parse_mapping({"mappings": [
        {"source": "crm", "destination": "_tenant.crm"}, {"source": "email", "destination": "personalEmail.address"},
        {"source": "first", "destination": "person.name.firstName"},
        {"source": "consent", "destination": "consents.marketing.email.val"}]})  # fmt: skip
    ingest.ingest_file(workspace, "prod", ingest.IngestRequest("crm", crm, mapping))

    _sent_and_tracked(engine, datetime.now(UTC) - timedelta(minutes=5))
    connect(workspace, "prod", Instance(name=engine.name, landing=str(engine.landing), logs=str(engine.logs)))
    with workspace.catalog.session() as session:  # the tracking fields exist once connect made their schema
        segment.create_segment(session, "prod", {"name": "clicked a campaign e-mail in the last 7 days",
            "expression": {"type": "PQL", "value": 'xEvent[eventType = "message.tracking" and '
                           '_experience.campaign.tracking.urlType = "click" and timestamp occurs <= 7 days '
                           "before now].exists()"}})  # fmt: skip
    export_logs(engine, settle_seconds=0)
    runs = {name: sources.run_dataflow(workspace, "prod", name) for name in (
        "campaign-default-delivery-logs", "campaign-default-tracking-logs", "campaign-default-consents")}  # fmt: skip
    assert {name: (run["status"], run["recordsIngested"], run["recordsFailed"]) for name, run in runs.items()} == {
        "campaign-default-delivery-logs": ("success", 3, 0), "campaign-default-tracking-logs": ("success", 4, 0),
        "campaign-default-consents": ("success", 1, 0)}  # fmt: skip
    profile.rebuild(workspace, "prod")
    job = segment.run_job(workspace, "prod")
    members = segment.members(workspace, "prod", "clicked a campaign e-mail in the last 7 days")
    assert job["counts"]["clicked a campaign e-mail in the last 7 days"]["qualified"] == 1
    ann = profile.get_profile(workspace, "prod", "CRMID", "C1")
    assert [m["graphId"] for m in members["items"]] == [str(ann["graphId"])]  # Ann clicked; Bob only opened
    assert len(ann["events"]["items"]) >= 3  # her sent, open and click, joined by her external id
    bob = profile.get_profile(workspace, "prod", "CRMID", "C2")
    assert bob["attributes"]["consents"]["marketing"]["email"]["val"] == "n"  # the unsubscribe, newer than the CRM's y
    assert ann["attributes"]["consents"]["marketing"]["email"]["val"] == "y"


def test_one_export_at_a_time_and_the_second_says_who_holds_it(engine: Any, workspace: Workspace) -> None:
    from accord.jobs.exceptions import JobRunningError

    impatient = campaign.CampaignEngine.open(workspace.settings.model_copy(update={"job_wait_seconds": 0.2}))
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with engine.hold("log-export", "log export"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(10)
        with pytest.raises(JobRunningError, match="log export"):
            export_logs(impatient, settle_seconds=0)
    finally:
        release.set()
        thread.join()
        impatient.close()
    assert export_logs(engine, settle_seconds=0)["files"] == []  # given back: the next export runs
