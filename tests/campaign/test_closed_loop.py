"""The closed loop, end to end, on real servers: a CDP audience is activated to the campaign instance, the
import workflow loads it, a delivery goes out through an SMTP server (aiosmtpd, in a process of its own), the
test opens and clicks some messages over real HTTP and unsubscribes one recipient, the logs go back through the
CDP's source dataflows, the profiles are rebuilt, and the engagement audience holds exactly those who clicked.
Then the one who unsubscribed is left out of the next activation by consent, and the hard-bounced address is
not mailed again."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord import campaign, destinations, ingest, lake, profile, schema, segment, sources
from accord.api import create_app
from accord.campaign.connect import Instance, connect
from accord.campaign.imports import audience_loads, import_audiences
from accord.campaign.logs import export_logs
from accord.destinations.exceptions import DestinationRefusedError
from accord.settings import Settings
from accord.workspace import Workspace, initialise
from tests.campaign.conftest import SmtpServers
from tests.servers import start_api

PEOPLE = [  # crm id, e-mail, first name, city
    ("C1", "ann@example.com", "Ann", "Paris"),
    ("C2", "bob@example.com", "Bob", "Paris"),
    ("C3", "cid@example.com", "Cid", "Paris"),
    ("C4", "dee@example.com", "Dee", "Paris"),
    ("C5", "bad.eve@example.com", "Eve", "Paris"),  # the SMTP server refuses it: 550, a hard bounce
    ("C6", "fay@example.com", "Fay", "Oslo"),  # not in the audience
]
ENGAGED = "clicked a campaign e-mail in the last 7 days"
FLOW = {
    "audiences": [{"segment": "parisians"}],
    "mapping": [
        {"source": "identityMap.CRMID", "target": "externalId"},
        {"source": "identityMap.Email", "target": "email"},
        {"source": "person.name.firstName", "target": "firstName"},
    ],
    "mandatory": ["externalId", "email"],
}


@pytest.fixture
def cdp(settings: Settings, tmp_path: Path) -> Any:
    """A CDP with six CRM profiles (all consenting to e-mail), the audience `parisians`, connected to its own
    campaign instance (both directions)."""
    initialise(settings)
    ws = Workspace.open(settings)
    crm = tmp_path / "crm.csv"
    crm.write_text("crm,email,first,city,consent\n" + "".join(f"{c},{e},{f},{t},y\n" for c, e, f, t in PEOPLE))
    with ws.catalog.session() as session:
        schema.create_field_group(session, "prod", {"name": "crm-ids", "classes": ["profile"], "fields": {
            "_tenant": {"type": "object", "properties": {"crm": {"type": "string"}}}}})  # fmt: skip
        schema.create_schema(session, "prod", {"name": "crm", "class": "profile", "fieldGroups": [
            "personal-contact-details", "demographic-details", "consents-and-preferences", "crm-ids"], "identities": [
            {"path": "_tenant.crm", "namespace": "CRMID", "primary": True},
            {"path": "personalEmail.address", "namespace": "Email"}]})  # fmt: skip
        lake.create_dataset(session, "prod", "crm", "crm", profile_enabled=True)
        segment.create_segment(session, "prod", {"name": "parisians",
                                                 "expression": {"value": 'homeAddress.city = "Paris"'}})  # fmt: skip
    mapping = ingest.parse_mapping({"mappings": [
        {"source": "crm", "destination": "_tenant.crm"}, {"source": "email", "destination": "personalEmail.address"},
        {"source": "first", "destination": "person.name.firstName"},
        {"source": "city", "destination": "homeAddress.city"},
        {"source": "consent", "destination": "consents.marketing.email.val"}]})  # fmt: skip
    ingest.ingest_file(ws, "prod", ingest.IngestRequest("crm", crm, mapping))
    engine = campaign.CampaignEngine.open(settings)
    made = connect(ws, "prod", Instance(name=engine.name, landing=str(engine.landing), logs=str(engine.logs)))
    with ws.catalog.session() as session:
        segment.create_segment(session, "prod", {"name": ENGAGED, "expression": {"value": (
            'xEvent[eventType = "message.tracking" and _experience.campaign.tracking.urlType = "click" '
            "and timestamp occurs <= 7 days before now].exists()")}})  # fmt: skip
        destinations.create_flow(session, "prod", "to-campaign", made["destinationAccount"], FLOW)
    engine.close()
    yield ws
    ws.close()


def _rebuild(ws: Workspace) -> dict[str, Any]:
    profile.rebuild(ws, "prod")
    return segment.run_job(ws, "prod")


def _links(message: Any) -> dict[str, list[str]]:
    html = message.get_body(("html",)).get_content()
    found = re.findall(r'(?:href|src)="([^"]+)"', html)
    return {kind: [url for url in found if f"/campaign/t/{kind}/" in url] for kind in ("o", "c", "u")}


def test_an_audience_is_mailed_tracked_and_comes_back_as_engagement(
    cdp: Workspace, settings: Settings, smtp_servers: SmtpServers
) -> None:
    sink = smtp_servers("refuse")
    server = start_api(create_app(settings))  # the tracking endpoint recipients reach
    try:
        engine = campaign.CampaignEngine.open(settings.model_copy(update={
            "campaign_public_url": server.base, "campaign_smtp_host": "127.0.0.1", "campaign_smtp_port": sink.port,
            "campaign_smtp_starttls": "never"}))  # fmt: skip
        _rebuild(cdp)

        # audience out: the flow's file lands in the instance's folder, the import workflow loads it
        activation = destinations.run_activation(cdp, "prod", "to-campaign")
        assert activation["status"] == "success" and activation["audiences"][0]["rows"] == 5
        run = import_audiences(engine)
        assert run["status"] == "success", run
        [load] = audience_loads(engine, run_id=run["id"])
        assert (load["loaded"], load["inserted"], load["updated"], load["rejected"]) == (5, 5, 0, 0)
        with cdp.catalog.session() as session:
            audience = segment.find_segment(session, "prod", "parisians").id
        assert campaign.list_member_ids(engine, load["list"]) == ["C1", "C2", "C3", "C4", "C5"]

        # e-mail out, through the SMTP server
        made = campaign.create_delivery(
            engine, "spring", sender="Shop <news@shop.example>", subject="{{ recipient.firstName }}, spring is here",
            html='<p>Hi {{ recipient.firstName }}, <a href="https://shop.example/spring">see the sale</a></p>',
            text="Hi {{ recipient.firstName }}, see https://shop.example/spring",
            target={"audience": audience}, campaign_id="CMP-1", campaign_name="Spring")  # fmt: skip
        sent = campaign.send_delivery(engine, made["id"])
        assert (sent["sent"], sent["bounced"], sent["failed"]) == (4, 1, 0), sent
        received = {r.recipients[0]: r.message() for r in sink.received()}
        assert sorted(received) == ["ann@example.com", "bob@example.com", "cid@example.com", "dee@example.com"]
        assert received["ann@example.com"]["Subject"] == "Ann, spring is here"
        assert received["ann@example.com"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert campaign.suppressions(engine)[0]["email"] == "bad.eve@example.com"  # quarantined

        # the recipients act: Ann and Bob open and click, Cid opens and unsubscribes in one click, Dee does nothing
        with httpx.Client(timeout=10) as browser:
            for address in ("ann@example.com", "bob@example.com", "cid@example.com"):
                links = _links(received[address])
                assert browser.get(links["o"][0]).headers["content-type"] == "image/gif"
            for address in ("ann@example.com", "bob@example.com"):
                click = browser.get(_links(received[address])["c"][0])
                assert click.status_code == 302 and click.headers["location"] == "https://shop.example/spring"
            unsubscribe = re.search(r"<(http[^>]+)>", received["cid@example.com"]["List-Unsubscribe"])
            assert unsubscribe is not None
            answer = browser.post(unsubscribe.group(1), content=b"List-Unsubscribe=One-Click",
                                  headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
            assert answer.status_code == 200
        assert campaign.get_recipient(engine, "C3")["blackListEmail"] is True

        # logs back: the export, the CDP's dataflows, a rebuild, the segment job
        exported = export_logs(engine, settle_seconds=0)
        assert (exported["deliveryLogs"], exported["trackingLogs"], exported["consents"]) == (5, 6, 1)
        for flow in ("delivery-logs", "tracking-logs", "consents"):
            ingested = sources.run_dataflow(cdp, "prod", f"campaign-default-{flow}")
            assert ingested["status"] == "success" and ingested["recordsFailed"] == 0, ingested
        job = _rebuild(cdp)
        assert job["counts"][ENGAGED]["qualified"] == 2
        engaged = {m["graphId"] for m in segment.members(cdp, "prod", ENGAGED)["items"]}
        clickers = {str(profile.get_profile(cdp, "prod", "CRMID", c)["graphId"]) for c in ("C1", "C2")}
        assert engaged == clickers
        cid = profile.get_profile(cdp, "prod", "CRMID", "C3")
        assert cid["attributes"]["consents"]["marketing"]["email"]["val"] == "n"

        # the next round: Cid is left out by consent; Eve's address is not mailed again
        again = destinations.run_activation(cdp, "prod", "to-campaign")
        assert again["excluded"] == {"consent": 1} and again["audiences"][0]["rows"] == 4
        assert import_audiences(engine)["status"] == "success"
        assert "C3" not in campaign.list_member_ids(engine, load["list"])
        sink.clear()
        second = campaign.create_delivery(
            engine,
            "summer",
            sender="news@shop.example",
            subject="Summer",
            text="Hello {{ recipient.firstName }}",
            target={"audience": audience},
        )
        summer = campaign.send_delivery(engine, second["id"])
        mailed = sorted(r.recipients[0] for r in sink.received())
        assert mailed == ["ann@example.com", "bob@example.com", "dee@example.com"]
        assert {why: n for why, n in summer["excluded"].items() if n} == {"suppressed": 1} and summer["sent"] == 3
        engine.close()
    finally:
        server.stop()


def test_what_the_instance_would_refuse_is_refused_at_activation_with_why(cdp: Workspace, settings: Settings) -> None:
    from accord.campaign.engine import publish_instance

    engine = campaign.CampaignEngine.open(settings)
    landing = engine.landing
    _rebuild(cdp)
    narrow = campaign.CampaignEngine.open(settings.model_copy(update={"campaign_max_fields": 2}))
    publish_instance(narrow)  # as an instance whose administrator set 2 fields says of itself
    narrow.close()
    with pytest.raises(DestinationRefusedError) as refused:
        destinations.run_activation(cdp, "prod", "to-campaign")
    assert "has 3 fields" in refused.value.message and "at most 2" in refused.value.message
    assert "campaign_max_fields" in refused.value.message
    assert [p.name for p in landing.glob("*.csv")] == []  # nothing landed for the import to refuse later
    assert destinations.list_runs(cdp, "prod", "to-campaign")[0]["status"] == "failed"  # and the run says so

    one = campaign.CampaignEngine.open(settings.model_copy(update={"campaign_max_audiences": 1}))
    publish_instance(one)
    assert destinations.run_activation(cdp, "prod", "to-campaign")["status"] == "success"
    assert import_audiences(one)["status"] == "success"  # the instance now holds its one audience, and says so
    with cdp.catalog.session() as session:
        segment.create_segment(session, "prod", {"name": "oslo", "expression": {"value": 'homeAddress.city = "Oslo"'}})
        destinations.create_flow(session, "prod", "oslo-out", "campaign-default", {**FLOW,
                                 "audiences": [{"segment": "oslo"}]})  # fmt: skip
    _rebuild(cdp)
    with pytest.raises(DestinationRefusedError) as second:
        destinations.run_activation(cdp, "prod", "oslo-out")
    assert "is a new audience" in second.value.message and "campaign_max_audiences" in second.value.message
    again = destinations.run_activation(cdp, "prod", "to-campaign")  # the audience it holds still goes
    assert again["status"] == "success"
    one.close()
    engine.close()
