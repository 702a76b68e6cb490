"""The hard test of privacy jobs: one person is put into every store Accord has, through the product's own service
functions and real servers on 127.0.0.1 (batch ingestion with a failed row, events with an identityMap, a streamed
event through an inlet and the processor, identity graphs with a user's removal, profiles, a segment job and
streaming evaluation, activations to a local folder under the home, to a partner folder with a mirror sync and to
an HTTP destination that refuses (a dead letter), the campaign loop: audience import, an e-mail sent through an
SMTP server, an open, a click and an unsubscribe over HTTP, the logs back through the CDP's dataflows; and an
access job's bundle). An access job finds them in each store. A delete job then removes them, and every file
under the home is searched for their identifiers: raw bytes (SQLite files and their write-ahead logs, Arrow
files, logs, JSON, CSV), gzipped files unpacked, Parquet files read value by value; as typed, lower and upper
case, and hashed (SHA-256 of the lower-cased value). Nothing is found. Another person's data is still there."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accord import access as access_module
from accord import (
    campaign,
    destinations,
    governance,
    identity,
    ingest,
    lake,
    profile,
    schema,
    segment,
    sources,
    streaming,
)
from accord.access import AllowedRoots
from accord.api import create_app
from accord.campaign.connect import Instance, connect
from accord.campaign.imports import import_audiences
from accord.campaign.logs import export_logs
from accord.settings import Settings
from accord.workspace import Workspace, initialise
from tests.http_receiver import HttpReceiver, answer
from tests.servers import start_api
from tests.smtp_server import SmtpSink, start_smtp

EMAIL = "zz-privacy-7f3a@example.test"
CRM = "ZZCRM-7F3A-PRIV"
ECID = "73917201846620198374650192837465019283"
PHONE = "+14155550173"
SECRETS = (EMAIL, CRM, ECID, PHONE)
CRM_CSV = (
    "crm,email,phone,first,city,consent\n"
    f"{CRM},{EMAIL.upper()},{PHONE},Zed,Paris,y\n"
    "C1,ann@example.com,+14155550101,Ann,Paris,y\n"
    "C2,bob@example.com,+14155550102,Bob,Oslo,y\n"
    f"{CRM},{EMAIL},{PHONE},Zed,Paris,maybe\n"  # fails validation: the batch keeps it in its diagnostics
)
CRM_MAPPING = {"mappings": [
    {"source": "crm", "destination": "_tenant.crm"}, {"source": "email", "destination": "personalEmail.address"},
    {"source": "phone", "destination": "mobilePhone.number"},
    {"source": "first", "destination": "person.name.firstName"},
    {"source": "city", "destination": "homeAddress.city"},
    {"source": "consent", "destination": "consents.marketing.email.val"}]}  # fmt: skip
HOOK = {
    "id": "hook", "name": "Hook", "exportType": "profile", "url": "{{ config.url }}/in",
    "body": '{"profiles": {{ profiles | tojson }}}', "config": [{"name": "url", "format": "url"}],
    "retry": {"attempts": 1, "initialWaitSeconds": 0.05, "maxWaitSeconds": 0.1}, "limits": {"requestsInFlight": 1},
}  # fmt: skip
PARISIANS = 'homeAddress.city = "Paris"'


def event(number: int, ecid: str, email: str | None = None) -> dict[str, Any]:
    ids: dict[str, Any] = {"ECID": [{"id": ecid}]}
    if email:
        ids["Email"] = [{"id": email}]
    return {"_id": f"ev-{number}", "timestamp": f"2026-11-2{number % 9}T10:00:00+00:00",
            "eventType": "commerce.productViews", "identityMap": ids}  # fmt: skip


@dataclass
class Home:
    ws: Workspace
    settings: Settings
    api: httpx.Client
    app: Any
    partner: Path
    smtp: SmtpSink
    receiver: HttpReceiver


@pytest.fixture
def home(settings: Settings, tmp_path: Path) -> Iterator[Home]:
    smtp, receiver = start_smtp(tmp_path / "smtp"), HttpReceiver()
    allowed = [settings.home / "landing", tmp_path / "partner"]
    settings = settings.model_copy(update={"campaign_smtp_host": "127.0.0.1", "campaign_smtp_port": smtp.port,
                                           "campaign_smtp_starttls": "never", "campaign_log_settle_seconds": 0,
                                           "allowed_roots": allowed})  # fmt: skip
    token = initialise(settings).token
    (settings.home / "destinations").mkdir()
    (settings.home / "destinations" / "hook.json").write_text(json.dumps(HOOK))
    app = create_app(settings)
    server = start_api(app)
    settings = settings.model_copy(update={"campaign_public_url": server.base})
    api = httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    ws = Workspace.open(settings)
    try:
        found = Home(ws, settings, api, app, tmp_path / "partner", smtp, receiver)
        _fill(found, tmp_path)
        yield found
    finally:
        ws.close()
        api.close()
        server.stop()
        receiver.stop()
        smtp.stop()


def _fill(home: Home, tmp_path: Path) -> None:
    ws = home.ws
    files = tmp_path / "files"
    files.mkdir()
    with ws.catalog.session() as s:
        schema.create_field_group(s, "prod", {"name": "crm-ids", "classes": ["profile"], "fields": {
            "_tenant": {"type": "object", "properties": {"crm": {"type": "string"}}}}})  # fmt: skip
        schema.create_schema(s, "prod", {"name": "crm", "class": "profile", "fieldGroups": [
            "personal-contact-details", "demographic-details", "consents-and-preferences", "crm-ids"], "identities": [
            {"path": "_tenant.crm", "namespace": "CRMID", "primary": True},
            {"path": "personalEmail.address", "namespace": "Email"},
            {"path": "mobilePhone.number", "namespace": "Phone_E164"}]})  # fmt: skip
        lake.create_dataset(s, "prod", "crm", "crm", profile_enabled=True)
        schema.create_schema(s, "prod", {"name": "web", "class": "experienceevent", "fieldGroups": ["identitymap"]})
        lake.create_dataset(s, "prod", "web", "web", profile_enabled=True)
        inlet = streaming.create_inlet(s, "prod", "site", "web")["id"]
        identity.set_rules(s, "prod", ["CRMID"], None)
        segment.create_segment(s, "prod", {"name": "parisians", "expression": {"value": PARISIANS}})
    (files / "crm.csv").write_text(CRM_CSV)
    batch = ingest.ingest_file(ws, "prod", ingest.IngestRequest("crm", files / "crm.csv", ingest.parse_mapping(
        CRM_MAPPING), error_threshold=50))  # fmt: skip
    assert batch["status"] == "success" and batch["failedRecordCount"] == 1, batch
    events = [event(1, ECID, EMAIL.upper()), event(2, ECID), event(3, "1".rjust(38, "0"), "ann@example.com")]
    (files / "web.json").write_text("\n".join(json.dumps(e) for e in events))
    assert ingest.ingest_file(ws, "prod", ingest.IngestRequest("web", files / "web.json"))["status"] == "success"
    with ws.catalog.session() as s:  # a user's un-merge that names them
        identity.remove_link(s, "prod", ("CRMID", CRM), ("Phone_E164", PHONE), "a shared phone", "test")
    profile.rebuild(ws, "prod")
    assert segment.run_job(ws, "prod")["counts"]["parisians"]["qualified"] == 2
    with ws.catalog.session() as s:  # streaming evaluation keeps its changes in the segments' overlay
        segment.create_segment(s, "prod", {"name": "parisians-now", "expression": {"value": PARISIANS},
                                           "evaluationInfo": {"streaming": {"enabled": True}}})  # fmt: skip
    streamed = {"header": {"schemaRef": {"id": "web"}}, "body": {"xdmMeta": {"schemaRef": {"id": "web"}},
                "xdmEntity": event(4, ECID, EMAIL)}}  # fmt: skip
    assert home.api.post(f"/collection/{inlet}", json=streamed).status_code == 200
    while home.app.state.streaming.processor.process_waiting():
        pass
    _activate(home, tmp_path)
    _campaign_loop(home)
    profile.rebuild(ws, "prod")
    segment.run_job(ws, "prod")
    # streamed after the last build: the graphs' one-record updates (overlay.db) hold their identities
    later = {**streamed, "body": {**streamed["body"], "xdmEntity": event(5, ECID, EMAIL.upper())}}
    assert home.api.post(f"/collection/{inlet}", json=later).status_code == 200
    while home.app.state.streaming.processor.process_waiting():
        pass
    assert home.api.post("/privacy/jobs", json={"kind": "access", "identities": [f"CRMID:{CRM}"]}).status_code == 201


def _activate(home: Home, tmp_path: Path) -> None:
    """A local folder under the home, a partner's folder with a mirror sync (it takes deletes), an HTTP hook."""
    ws, settings = home.ws, home.settings
    outbox = settings.landing / "outbox"
    outbox.mkdir(parents=True)
    home.partner.mkdir()
    box, roots = sources.SecretBox(settings.home), AllowedRoots.from_settings(settings)
    with ws.catalog.session() as s:
        destinations.create_account(s, box, "prod", "outbox", "local", {"root": str(outbox)}, roots)
        destinations.create_flow(s, "prod", "paris-out", "outbox", {"audiences": [{"segment": "parisians"}],
            "mapping": [{"source": "identityMap.Email", "target": "email"},
                        {"source": "person.name.firstName", "target": "first_name"}], "mandatory": ["email"],
            "exportMode": "incremental"})  # fmt: skip
        destinations.create_account(s, box, "prod", "partner", "local", {"root": str(home.partner)}, roots)
        destinations.create_flow(s, "prod", "paris-sync", "partner", {"audiences": [{"segment": "parisians"}],
            "mapping": [{"source": "identityMap.Email", "target": "email"}], "mandatory": ["email"],
            "dedupKey": ["email"], "syncMode": "mirror"})  # fmt: skip
        destinations.create_account(s, box, "prod", "hook", "hook", {"url": home.receiver.url}, roots)
        destinations.create_flow(s, "prod", "paris-hook", "hook", {"audiences": [{"segment": "parisians"}],
            "mapping": [{"source": "identityMap.Email", "target": "email"}]})  # fmt: skip
    for flow in ("paris-out", "paris-sync"):
        assert destinations.run_activation(ws, "prod", flow)["status"] == "success"
    home.receiver.then(answer(503))
    assert destinations.run_activation(ws, "prod", "paris-hook")["status"] == "failed"  # a dead letter


def _campaign_loop(home: Home) -> None:
    """The audience into the campaign instance, a delivery through the SMTP server, an open, a click and an
    unsubscribe over HTTP, then the logs back into the CDP through its dataflows."""
    ws, settings = home.ws, home.settings
    engine = campaign.CampaignEngine.open(settings)
    try:
        made = connect(ws, "prod", Instance(name=engine.name, landing=str(engine.landing), logs=str(engine.logs)))
        with ws.catalog.session() as s:
            destinations.create_flow(s, "prod", "to-campaign", made["destinationAccount"], {
                "audiences": [{"segment": "parisians"}], "mandatory": ["externalId", "email"],
                "mapping": [{"source": "identityMap.CRMID", "target": "externalId"},
                            {"source": "identityMap.Email", "target": "email"},
                            {"source": "person.name.firstName", "target": "firstName"}]})  # fmt: skip
            audience = segment.find_segment(s, "prod", "parisians").id
        assert destinations.run_activation(ws, "prod", "to-campaign")["status"] == "success"
        assert import_audiences(engine)["status"] == "success"
        delivery = campaign.create_delivery(engine, "news", sender="Shop <news@shop.example>", subject="News",
                                            html='<p>Hi {{ recipient.firstName }} <a href="https://shop.example/">'
                                                 "shop</a></p>", text="Hi {{ recipient.firstName }}",
                                            target={"audience": audience})  # fmt: skip
        assert campaign.send_delivery(engine, delivery["id"])["sent"] == 2
        mail = next(r.message() for r in home.smtp.received() if r.recipients[0] == EMAIL)
        html = mail.get_body(("html",)).get_content()
        links = re.findall(r'(?:href|src)="([^"]+)"', html)
        with httpx.Client(timeout=10) as browser:
            for kind in ("o", "c"):
                assert browser.get(next(u for u in links if f"/campaign/t/{kind}/" in u)).status_code in (200, 302)
            unsubscribe = re.search(r"<(http[^>]+)>", mail["List-Unsubscribe"])
            assert unsubscribe is not None
            assert browser.post(unsubscribe.group(1), content=b"List-Unsubscribe=One-Click", headers={
                "content-type": "application/x-www-form-urlencoded"}).status_code == 200  # fmt: skip
        exported = export_logs(engine, settle_seconds=0)
        assert exported["consents"] == 1 and exported["trackingLogs"] >= 2, exported
        for flow in ("delivery-logs", "tracking-logs", "consents"):
            assert sources.run_dataflow(ws, "prod", f"campaign-default-{flow}")["status"] == "success"
    finally:
        engine.close()


def variants() -> list[bytes]:
    """Each identifier as typed, lower and upper case, and its SHA-256 (of the lower-cased value)."""
    found: set[str] = set()
    for value in SECRETS:
        found |= {value, value.lower(), value.upper(), hashlib.sha256(value.lower().encode()).hexdigest()}
    return sorted(v.encode() for v in found)


def holdings(folder: Path) -> list[str]:
    """Every place under `folder` where an identifier is: `file: how it was found`."""
    wanted = variants()
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        texts = {"bytes": data}
        if data[:2] == b"\x1f\x8b":
            texts["unpacked"] = gzip.decompress(data)
        if path.suffix == ".parquet":
            texts["values"] = json.dumps(pq.ParquetFile(path).read().to_pylist(), default=str).encode()
        if data[:6] == b"ARROW1":
            texts["values"] = json.dumps(pa.ipc.open_file(pa.memory_map(str(path))).read_all().to_pylist(),
                                         default=str).encode()  # fmt: skip
        for how, text in texts.items():
            found += [f"{path.relative_to(folder)}: {value.decode()} ({how})" for value in wanted if value in text]
    return found


def test_a_deleted_person_is_found_in_no_file_under_the_home(home: Home) -> None:
    api = home.api
    before = holdings(home.settings.home)
    for store in (
        "catalog.db",
        "campaign.db",
        "streaming/log.db",
        "identity/overlay.db",
        "/datasets/",
        "/profile/",
        "/diagnostics/",
        "/activations/",
        "campaign/default/in",
        "campaign/default/logs",
        "landing/outbox",
        "privacy/",
    ):
        assert any(store in place for place in before), (store, before)  # the person is everywhere to start with

    # access: every store gives them
    access = api.post("/privacy/jobs", json={"kind": "access", "identities": [{"namespace": "Email", "value": EMAIL}]})
    assert access.status_code == 201, access.text
    job = access.json()
    assert job["status"] == "complete" and job["summary"]["people"] == 1, job
    reports = {r["store"]: r for r in job["report"]}
    assert all(r["reached"] for r in reports.values()), reports
    found = {k: r["found"] for k, r in reports.items()}
    assert all(found[store] > 0 for store in governance.STORES if store != "sourceFiles"), found
    assert found["sourceFiles"] == 0  # no input file of a local connection lies under this home
    bundle = api.get(f"/privacy/jobs/{job['id']}/bundle").json()
    assert {row["_tenant"]["crm"] for row in bundle["lake"]["crm"]} == {CRM}
    assert len(bundle["lake"]["web"]) == 4 and [m["body"]["entity"]["_id"] for m in bundle["eventLog"]] == [
        "ev-4",
        "ev-5",
    ]
    identities = {(i["namespace"], i["id"]) for i in bundle["identityGraph"][0]["identities"]}
    assert {("Email", EMAIL), ("CRMID", CRM), ("ECID", ECID)} <= identities
    assert bundle["profileStore"][0]["attributes"]["person"]["name"]["firstName"] == "Zed"
    memberships = next(iter(bundle["segmentMemberships"].values()))
    assert "parisians" in memberships["memberships"] and memberships["history"]
    assert {s["flow"] for s in bundle["activations"]["snapshots"]} == {"paris-out", "paris-sync"}
    assert bundle["activations"]["deadLetters"] and bundle["activations"]["files"]
    assert bundle["campaign"]["recipients"][0]["externalId"] == CRM
    assert {t["type"] for t in bundle["campaign"]["trackingLogs"]} >= {"open", "click", "unsubscribe"}
    assert bundle["campaign"]["suppressions"] and bundle["campaign"]["files"]
    assert bundle["lakeDiagnostics"][0]["errors"] and bundle["catalog"]["identityRemovals"]
    # prod's own admin does not reach the home's campaign instance (its recipients came from every sandbox)
    access_module.create_user(home.ws.catalog, "pam", service=True)
    access_module.grant_role(home.ws.catalog, "admin", "pam", "prod")
    pam = access_module.create_token(home.ws.catalog, "pam-ci", user="pam")[1]
    by_pam = api.post("/privacy/jobs", json={"kind": "access", "identities": [f"CRMID:{CRM}"]},
                      headers={"Authorization": f"Bearer {pam}"}).json()  # fmt: skip
    campaign_report = next(r for r in by_pam["report"] if r["store"] == "campaign")
    assert not campaign_report["reached"] and "does not hold 'View Campaign'" in campaign_report["whyNot"], by_pam
    assert by_pam["requestedBy"] == "pam (token pam-ci)"

    # delete: by another of their identities
    deleted = api.post("/privacy/jobs", json={"kind": "delete", "identities": [f"ECID:{ECID}"]})
    assert deleted.status_code == 201, deleted.text
    job = deleted.json()
    assert job["status"] == "complete", job
    assert all("value" not in i for i in job["identities"]) and job["identities"][0]["namespace"] == "ECID"
    reports = {r["store"]: r for r in job["report"]}
    assert all(r["reached"] and r["removed"] > 0 for s, r in reports.items() if s != "sourceFiles"), reports
    assert reports["catalog"]["details"]["accessBundlesRemoved"] == 3
    assert all(r["removed"] <= r["found"] for r in reports.values()), reports  # nothing removed it did not find
    told = reports["activations"]["details"]["deletionExports"]
    assert [t["flow"] for t in told] == ["paris-sync"]
    not_told = {n["flow"]: n["why"] for n in reports["activations"]["details"]["notTold"]}
    assert list(not_told) == ["paris-out"] and "no sync mode" in not_told["paris-out"]
    deletion = (home.partner / told[0]["file"]).read_text()
    assert deletion.splitlines() == ["email,operation,segmentMembership.status", f"{EMAIL},delete,exited"]
    assert api.get(f"/privacy/jobs/{access.json()['id']}/bundle").status_code == 404

    # nothing of them, anywhere under the home
    assert holdings(home.settings.home) == []
    # and the others are still there
    ann = api.get("/profiles", params={"namespace": "Email", "id": "ann@example.com"})
    assert ann.status_code == 200 and ann.json()["attributes"]["person"]["name"]["firstName"] == "Ann"
    engine = campaign.CampaignEngine.open(home.settings)
    assert campaign.get_recipient(engine, "C1")["email"] == "ann@example.com"
    engine.close()
