"""A small home with one of everything, built through the service functions, for the route and command walks.

tests/api/test_every_route.py and tests/cli/test_every_command.py each build one and then read and
change it as a user would: a custom field group, profile and event schemas with identities, datasets
(one profile-enabled and not fed yet), ingested files (one row failed), a local connection on
`<home>/landing` and a SQLite one, a dataflow with a run and the alert it raised, linking rules,
identity graphs, proposed probabilistic links, merge policies, profiles, segments (a composition
among them) and a batch job. The documents both walks send are here too.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord import destinations, identity, lake, profile, schema, segment, sources, streaming
from accord.access import AllowedRoots
from accord.api import create_app
from accord.ingest import IngestRequest, ingest_file, parse_mapping
from accord.settings import Settings
from accord.sources.alerts import subscribe
from accord.workspace import Workspace, initialise
from tests.conftest import Api
from tests.http_receiver import HttpReceiver, answer
from tests.servers import start_api, wait_for_line
from tests.smtp_server import SmtpSink, start_smtp

NOW = datetime.now(UTC)
SANDBOX = "prod"
TIER = {"type": "string", "enum": ["gold", "silver"]}
LOYALTY = {"name": "loyalty", "classes": ["profile"], "fields": {"_tenant": {"type": "object", "properties": {
    "crmId": {"type": "string"}, "tier": TIER}}}}  # fmt: skip
LOYALTY_V2 = {"name": "loyalty", "classes": ["profile"], "fields": {"_tenant": {"type": "object", "properties": {
    "crmId": {"type": "string"}, "since": {"type": "string"}, "tier": TIER}}}}  # fmt: skip
PREFS = {"name": "prefs", "classes": ["profile"],
         "fields": {"_tenant": {"type": "object", "properties": {"newsletter": {"type": "boolean"}}}}}  # fmt: skip
CRM_SCHEMA = {
    "name": "crm",
    "class": "profile",
    "fieldGroups": ["demographic-details", "personal-contact-details", "loyalty"],
    "identities": [
        {"path": "_tenant.crmId", "namespace": "CRMID", "primary": True},
        {"path": "personalEmail.address", "namespace": "Email"},
    ],
}
CRM_MAPPING = {
    "mappings": [
        {"source": "crm", "destination": "_id"},
        {"source": "crm", "destination": "_tenant.crmId"},
        {"source": "first", "destination": "person.name.firstName"},
        {"expression": "lower(email)", "destination": "personalEmail.address"},
        {"source": "city", "destination": "homeAddress.city"},
        {"source": "tier", "destination": "_tenant.tier"},
    ]
}
CRM_CSV = (
    "crm,first,email,city,tier\n"
    "C1,Ann,ANN@example.com,Paris,gold\n"
    "C2,Bob,bob@example.com,Oslo,silver\n"
    "C3,Cid,cid@example.com,Paris,gold\n"
    "C4,Dee,not-an-email,Rome,silver\n"  # fails validation: line 5 of the file
)
LATE_CSV = "crm,first,email,city,tier\nC6,Fay,fay@example.com,Nice,gold\n"
SCRATCH_MAPPING = {"mappings": [{"source": "crm", "destination": "_id"},
                                {"source": "first", "destination": "person.name.firstName"}]}  # fmt: skip
PEOPLE_MAPPING = {
    "mappings": [
        {"source": "id", "destination": "_id"},
        {"source": "id", "destination": "_tenant.crmId"},
        {"source": "first", "destination": "person.name.firstName"},
        {"source": "last", "destination": "person.name.lastName"},
        {"source": "city", "destination": "homeAddress.city"},
        {"source": "postcode", "destination": "homeAddress.postalCode"},
    ]
}
TWINS_CSV = "id,first,last,city,postcode\nZ1,Zelda,Quartermaine,Lyon,69001\nZ2,Zelda,QuartermainE,Lyon,69001\n"
"""Two records of one person sharing no identifier: matching proposes them (records in one graph it does not)."""
MATCHING_RULES = {
    "datasets": ["people"],
    "fields": [
        {"path": "person.name.firstName", "comparison": "name"},
        {"path": "person.name.lastName", "comparison": "name"},
        {"path": "homeAddress.city"},
        {"path": "homeAddress.postalCode", "comparison": "exact"},
    ],
    "blocking": [["person.name.lastName"], ["homeAddress.postalCode"]],
    "threshold": 0.9,
}
PARISIANS = 'homeAddress.city = "Paris"'
BUYERS = 'xEvent[eventType = "commerce.purchases"].count() > 0'
GOLD = '_tenant.tier = "gold"'
OSLO = 'homeAddress.city = "Oslo"'


def event(number: int, crm: str, kind: str, ago: timedelta, price: float | None = None) -> dict[str, Any]:
    order = {"commerce": {"order": {"priceTotal": price}}} if price is not None else {}
    return {"_id": f"e{number}", "timestamp": (NOW - ago).isoformat(), "eventType": kind,
            "identityMap": {"CRMID": [{"id": crm}]}, **order}  # fmt: skip


WEB_EVENTS = [
    event(1, "C1", "commerce.purchases", timedelta(days=2), 120.0),
    event(2, "C1", "commerce.productViews", timedelta(days=1)),
    event(3, "C2", "commerce.productViews", timedelta(hours=3)),
]
CLICKS = [  # for the time-to-live: two of them are older than 30 days
    event(11, "C1", "web.webpagedetails.pageViews", timedelta(days=400)),
    event(12, "C2", "web.webpagedetails.pageViews", timedelta(days=90)),
    event(13, "C2", "web.webpagedetails.pageViews", timedelta(days=1)),
]


def people_csv(count: int = 120, twins: int = 20) -> str:
    """People with a typo'd twin for some of them, sharing no identifier: matching should pair them."""
    rng = random.Random(7)
    firsts = ["Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Karin"]
    lasts = ["Garcia", "Novak", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Kowalski", "Haddad", "Rossi", "Brennan",
             "Schmidt", "Dubois", "Ivanova", "Petrov", "Nakamura", "Fischer", "Andersen", "Costa"]  # fmt: skip
    cities = ["Lyon", "Porto", "Ghent", "Turin", "Basel", "Cork", "Graz", "Brno"]
    rows = []
    for n in range(count):
        rows.append([f"P{n:03d}", rng.choice(firsts), rng.choice(lasts) + rng.choice(["", "son", "ez", "i"]),
                     rng.choice(cities), f"{rng.randrange(10_000, 99_999)}"])  # fmt: skip
    for n in range(twins):
        first, last, city, postcode = rows[n][1:]
        rows.append([f"P{count + n:03d}", first, last[:-1] + last[-1].upper(), city, postcode])
    return "id,first,last,city,postcode\n" + "".join(",".join(row) + "\n" for row in rows)


@dataclass
class SmallHome:
    """What a walk needs to know about the home: its settings, input files, and the ids made while building it."""

    settings: Settings
    files: Path
    token: str
    ids: dict[str, str] = field(default_factory=dict)
    receiver: HttpReceiver | None = None
    """An HTTP receiver on 127.0.0.1 that the home's streaming destination account sends to."""
    smtp: SmtpSink | None = None
    """The SMTP server on 127.0.0.1 the campaign instance sends through (its settings name it)."""

    @property
    def landing(self) -> Path:
        """The folder the local connection reads (the operator's allowed `landing/` under the home)."""
        return self.settings.home / "landing"

    def write(self, name: str, text: str) -> Path:
        path = self.files / name
        path.write_text(text)
        return path

    def drop_late_file(self) -> None:
        """A new file in the dataflow's folder: its next run has one file (one record) to take."""
        (self.landing / "crm" / "late.csv").write_text(LATE_CSV)


def _ingest(ws: Workspace, home: SmallHome, dataset: str, name: str, text: str, mapping: Any = None,
            threshold: float | None = None) -> dict[str, Any]:  # fmt: skip
    request = IngestRequest(dataset, home.write(name, text), parse_mapping(mapping) if mapping else None, threshold)
    batch = ingest_file(ws, SANDBOX, request)
    assert batch["status"] == "success", batch
    return batch


SEGMENT_GROUPS = ["identitymap", "segment-calls"]
"""What a Segment inlet's default mapping writes (the inlet `site`)."""


def _catalog(ws: Workspace, home: SmallHome) -> None:
    """Namespaces, field groups, schemas, datasets, connections, the dataflow and its alert, rules, policies."""
    people = {"name": "people", "class": "profile", "fieldGroups": ["demographic-details", "personal-contact-details",
              "loyalty"], "identities": [{"path": "_tenant.crmId", "namespace": "LoyaltyID"}]}  # fmt: skip
    with ws.catalog.session() as s:
        identity.create_namespace(s, SANDBOX, "LoyaltyID", "Loyalty card", "cross_device", "")
        schema.create_field_group(s, SANDBOX, LOYALTY)
        for document in (CRM_SCHEMA, people, {"name": "web", "class": "experienceevent", "fieldGroups": [
                "identitymap", "commerce-details"]}, {"name": "draft", "class": "profile", "fieldGroups": [
                "demographic-details"]}, {"name": "seg-people", "class": "profile", "fieldGroups": [
                "demographic-details", "personal-contact-details", *SEGMENT_GROUPS]},
                {"name": "seg-events", "class": "experienceevent", "fieldGroups": SEGMENT_GROUPS}):  # fmt: skip
            schema.create_schema(s, SANDBOX, document)
        for name, schema_name, enabled in (("crm", "crm", True), ("web", "web", True), ("people", "people", True),
                                           ("app", "web", True),  # profile-enabled, not fed yet
                                           ("clicks", "web", False), ("scratch", "crm", False),
                                           ("seg-people", "seg-people", False),
                                           ("seg-events", "seg-events", False)):  # fmt: skip
            lake.create_dataset(s, SANDBOX, name, schema_name, profile_enabled=enabled)
        box, roots = sources.SecretBox(home.settings.home), AllowedRoots.from_settings(home.settings)
        sources.create_connection(s, box, SANDBOX, "landing", "local", {"root": str(home.landing)}, roots)
        sources.create_connection(s, box, SANDBOX, "shopdb", "database",
                                  {"dialect": "sqlite", "database": str(home.landing / "shop.db")}, roots)  # fmt: skip
        sources.create_dataflow(s, SANDBOX, {"name": "crm-files", "connection": "landing", "dataset": "crm",
                                             "source": {"path": "crm", "glob": "*.csv"}, "mapping": CRM_MAPPING,
                                             "errorThreshold": 50})  # fmt: skip
        subscribe(s, SANDBOX, {"event": "run.success", "dataflow": "crm-files"})
        identity.set_rules(s, SANDBOX, ["CRMID"], None)
        home.ids["inlet"] = streaming.create_inlet(s, SANDBOX, "scratch-inlet", "scratch")["id"]
        home.ids["write_key"] = streaming.create_segment_inlet(s, SANDBOX, "site", "seg-people", "seg-events")[
            "writeKey"]  # fmt: skip
        profile.create_policy(s, SANDBOX, {"name": "latest", "kind": "timestamp", "default": True})
        profile.create_policy(s, SANDBOX, {"name": "crm-first", "kind": "dataset_precedence",
                                           "datasets": ["crm", "web"]})  # fmt: skip


def _data(ws: Workspace, home: SmallHome) -> None:
    """Files ingested, a dataflow run, graphs, matching, profiles, segments and a job."""
    home.ids["crm_batch"] = _ingest(ws, home, "crm", "crm.csv", CRM_CSV, CRM_MAPPING, threshold=50)["id"]
    _ingest(ws, home, "web", "web.json", "\n".join(json.dumps(e) for e in WEB_EVENTS))
    _ingest(ws, home, "clicks", "clicks.json", "\n".join(json.dumps(e) for e in CLICKS))
    _ingest(ws, home, "people", "people.csv", people_csv(), PEOPLE_MAPPING)
    home.ids["scratch_batch"] = _ingest(ws, home, "scratch", "d.csv", "crm,first\nd1,Dan\nd2,Dora\n",
                                        SCRATCH_MAPPING)["id"]  # fmt: skip
    _ingest(ws, home, "scratch", "r.csv", "crm,first\nr1,Rae\nr2,Rex\n", SCRATCH_MAPPING)
    (home.landing / "crm").mkdir(parents=True)
    (home.landing / "crm" / "more.csv").write_text("crm,first,email,city,tier\nC5,Eve,eve@example.com,Oslo,silver\n")
    with sqlite3.connect(home.landing / "shop.db") as db:
        db.execute("CREATE TABLE customers (id TEXT, first TEXT)")
        db.execute("INSERT INTO customers VALUES ('S1', 'Sam')")
    run = sources.run_dataflow(ws, SANDBOX, "crm-files")
    assert run["status"] == "success", run
    home.ids["run"] = run["id"]
    identity.build_graph(ws, SANDBOX)
    assert identity.propose_matches(ws, SANDBOX, MATCHING_RULES)["proposed"] > 0
    profile.rebuild(ws, SANDBOX)
    with ws.catalog.session() as s:
        for name, pql in (("parisians", PARISIANS), ("buyers", BUYERS), ("bobs", 'person.name.firstName = "Bob"')):
            segment.create_segment(s, SANDBOX, {"name": name, "expression": {"value": pql}})
        segment.create_segment(s, SANDBOX, {"name": "paris-buyers",
                                            "composition": {"intersection": ["parisians", "buyers"]}})  # fmt: skip
    home.ids["job"] = segment.run_job(ws, SANDBOX)["id"]
    _activation(ws, home)
    _campaign(home)
    with ws.catalog.session() as s:  # after the job: streaming evaluation finds changes to make
        segment.create_segment(s, SANDBOX, {"name": "gold", "expression": {"value": GOLD},
                                            "evaluationInfo": {"streaming": {"enabled": True}}})  # fmt: skip


OUTBOX_FLOW = {
    "audiences": [{"segment": "parisians", "schedule": {"frequency": "daily", "time": "06:00"}}],
    "mapping": [{"source": "person.name.firstName", "target": "first_name"},
                {"source": "identityMap.Email", "target": "email"}, {"source": "homeAddress.city", "target": "city"}],
    "mandatory": ["email"], "exportMode": "incremental",
    "file": {"nameTemplate": "paris_%TIMESTAMP%", "manifest": True},
}  # fmt: skip
"""The activation flow `paris-out`: Parisians (Ann and Cid) to the local destination account `outbox`."""


HOOK = {
    "id": "hook", "name": "Hook", "exportType": "profile", "url": "{{ config.url }}/in",
    "body": '{"profiles": {{ profiles | tojson }}}', "config": [{"name": "url", "format": "url"}],
    "retry": {"attempts": 1, "initialWaitSeconds": 0.05, "maxWaitSeconds": 0.1}, "limits": {"requestsInFlight": 1},
}  # fmt: skip
"""A declared HTTP destination that gives up at once: a refused request becomes a dead letter."""


def _activation(ws: Workspace, home: SmallHome) -> None:
    """A local destination account `outbox` (landing/outbox), the flow `paris-out` and a first run of it; the
    streaming flow `paris-hook` to the declared destination `hook` at the home's HTTP receiver, whose first
    request it refuses (one dead letter)."""
    outbox = home.landing / "outbox"
    outbox.mkdir(parents=True)
    home.ids["outbox"] = str(outbox)
    with ws.catalog.session() as s:
        destinations.create_account(s, sources.SecretBox(home.settings.home), SANDBOX, "outbox", "local",
                                    {"root": str(outbox)}, AllowedRoots.from_settings(home.settings))  # fmt: skip
        destinations.create_flow(s, SANDBOX, "paris-out", "outbox", OUTBOX_FLOW)
    run = destinations.run_activation(ws, SANDBOX, "paris-out")
    assert run["status"] == "success" and run["files"][0]["rows"] == 2, run
    home.ids["activation_run"] = run["id"]
    assert home.receiver is not None
    with ws.catalog.session() as s:
        destinations.create_account(s, sources.SecretBox(home.settings.home), SANDBOX, "hook", "hook",
                                    {"url": home.receiver.url}, AllowedRoots.from_settings(home.settings))  # fmt: skip
        emails = {
            "audiences": [{"segment": "parisians"}],
            "mapping": [{"source": "identityMap.Email", "target": "email"}],
        }
        destinations.create_flow(s, SANDBOX, "paris-hook", "hook", emails)
    home.receiver.then(answer(503))
    refused = destinations.run_activation(ws, SANDBOX, "paris-hook")
    assert refused["status"] == "failed" and refused["profilesFailed"] == 2, refused
    home.ids["hook_run"] = refused["id"]


def _campaign(home: SmallHome) -> None:
    """The home's campaign instance: two recipients (Ann, Bob), the list `vip` holding Ann, a test address."""
    from accord import campaign
    from accord.campaign.models import ListMemberRecord, ListRecord, RecipientRecord

    engine = campaign.CampaignEngine.open(home.settings)
    try:
        with engine.database.session() as s:
            ann = RecipientRecord(external_id="C1", email="ann@example.com", first_name="Ann")
            vip = ListRecord(name="vip", label="VIP", origin="manual")
            s.add_all([ann, RecipientRecord(external_id="C2", email="bob@example.com", first_name="Bob"), vip])
            s.flush()
            s.add(ListMemberRecord(list_id=vip.id, recipient_id=ann.id))
        campaign.add_seed_address(engine, "proof@example.com", kind="test")
        _deliveries_and_workflows(engine, home)
    finally:
        engine.close()


VIP_LETTER = {"sender": "Shop <news@shop.example>", "target": {"list": "vip"},
              "html": "<p>Hello {{ recipient.firstName }}</p>", "text": "Hello {{ recipient.firstName }}"}  # fmt: skip
"""A delivery to the list `vip` (Ann); its subject names it: `{{ recipient.firstName }}, news of NAME`."""


def _deliveries_and_workflows(engine: Any, home: SmallHome) -> None:
    """Deliveries to `vip`: `vip-news` sent (Ann has its message), `vip-proof` and `vip-send` drafts; a Maildir
    for bounces; the workflow `vip-copy` (vip's members into the list `vip-copy`) run once (`workflow_run`), and
    `vip-alert` (the members, then an alert to the HTTP receiver), whose run failed at the alert (`failed_run`)
    and will succeed when resumed."""
    from accord import campaign
    from accord.campaign import workflows

    for name in ("vip-news", "vip-proof", "vip-send"):
        subject = "{{ recipient.firstName }}, news of " + name
        home.ids[name] = campaign.create_delivery(engine, name, subject=subject, **VIP_LETTER)["id"]
    assert campaign.send_delivery(engine, home.ids["vip-news"])["sent"] == 1  # type: ignore[arg-type]
    for sub in ("new", "cur", "tmp"):
        (home.landing / "bounces" / sub).mkdir(parents=True, exist_ok=True)
    vip = {"field": "externalId", "op": "eq", "value": "C1"}
    workflows.create_workflow(engine, {"name": "vip-copy", "activities": [
        {"name": "members", "type": "query", "options": {"filter": vip}, "next": ["copy"]},
        {"name": "copy", "type": "list-update", "options": {"list": "vip-copy"}}]})  # fmt: skip
    run = workflows.run_workflow(engine, "vip-copy")
    assert run["status"] == "success", run
    home.ids["workflow_run"] = run["id"]
    assert home.receiver is not None
    workflows.create_workflow(engine, {"name": "vip-alert", "activities": [
        {"name": "members", "type": "query", "options": {"filter": vip}, "next": ["alert"]},
        {"name": "alert", "type": "alert", "options": {"url": home.receiver.url + "/vip", "message": "vip-alert",
         "attempts": 1, "backoffSeconds": 0}}]})  # fmt: skip
    home.receiver.refuse(b"vip-alert")
    failed = workflows.run_workflow(engine, "vip-alert")
    home.receiver.allow(b"vip-alert")
    assert failed["status"] == "failed", failed
    home.ids["failed_run"] = failed["id"]


@contextmanager
def small_home(root: Path) -> Iterator[SmallHome]:
    """A filled home under `root` (with its input files beside it), built with no ACCORD_* variable in effect."""
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("ACCORD_")]:
            env.delenv(name)
        smtp = start_smtp(root / "smtp")
        try:
            with _filled(root, smtp) as home:
                yield home
        finally:
            smtp.stop()


@contextmanager
def _filled(root: Path, smtp: SmtpSink) -> Iterator[SmallHome]:
    bounces = root / "home" / "landing" / "bounces"
    settings = Settings(home=root / "home", duckdb_threads=2, duckdb_memory_limit="2GB", scheduler=False,
                        campaign_smtp_port=smtp.port, campaign_bounce_mailbox=bounces,
                        campaign_log_settle_seconds=0)  # fmt: skip
    token = initialise(settings).token
    assert token
    home = SmallHome(settings, root / "files", token, smtp=smtp)
    home.ids["landing"] = str(home.landing)
    home.files.mkdir(parents=True)
    (settings.home / "destinations").mkdir()
    (settings.home / "destinations" / "hook.json").write_text(json.dumps(HOOK))
    home.receiver = HttpReceiver()
    try:
        ws = Workspace.open(settings)
        try:
            _catalog(ws, home)
            _data(ws, home)
        finally:
            ws.close()
        yield home
    finally:
        home.receiver.stop()


@contextmanager
def serving(settings: Settings, token: str) -> Iterator[Api]:
    """The API over this home in a real uvicorn server on 127.0.0.1, stopped on leaving."""
    server = start_api(create_app(settings))
    client = Api(server.base, token)
    try:
        yield client
    finally:
        client.client.close()
        server.stop()


@contextmanager
def accord_serve(home: SmallHome, *, campaign_only: bool = False) -> Iterator[str]:
    """`accord serve` (or `accord campaign serve`) on this home as a real process on 127.0.0.1, answering /health;
    stopped by its pid."""
    log = home.files / ("campaign-serve.log" if campaign_only else "serve.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env |= {"ACCORD_HOME": str(home.settings.home), "ACCORD_SCHEDULER": "false", "ACCORD_DUCKDB_THREADS": "2"}
    with log.open("wb") as output:
        serve = ["campaign", "serve"] if campaign_only else ["serve"]
        command = [str(Path(sys.executable).parent / "accord"), *serve, "--port", "0"]  # it says which port
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    said = r"Accord campaign engine on" if campaign_only else r"Accord API on"
    port = wait_for_line(process, log, "accord serve", said + r" http://127\.0\.0\.1:(\d+)")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"accord serve stopped: {log.read_text()}"
            assert time.monotonic() < deadline, "accord serve did not answer /health within 60 s"
            try:
                if httpx.get(f"{base}/health", timeout=1).json()["status"] == "ok":
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
