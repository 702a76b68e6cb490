"""`accord demo`: Accord's main job end to end on embedded defaults, with a printed summary.

It grows with every capability; today: a CRM export lands in a local folder and is picked up by a
dataflow, web events are ingested from a file, and orders are read incrementally from a SQLite
shop database by a second dataflow; everything goes through data prep mapping and validation,
with the rows that fail kept as diagnostics. Identities are stitched, profiles merged, audiences
evaluated and activated to a folder and an HTTP endpoint, and the campaign loop runs: an audience
mailed by the campaign engine, its opens and clicks back as an engagement audience."""

from __future__ import annotations

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import yaml
from rich.console import Console
from rich.table import Table

from accord import lake, schema
from accord.access import AllowedRoots
from accord.ingest import IngestRequest, ingest_file
from accord.settings import Settings
from accord.workspace import Workspace, initialise


def _data(name: str) -> Path:
    return Path(str(resources.files("accord.demo").joinpath("data", name)))


def _why(batch: dict[str, Any]) -> str:
    """Why a run with failed rows is `partial` while its batch is `success`, in a few words."""
    failed, rows = batch["failedRecordCount"], batch["inputRecordCount"]
    if not failed:
        return "every row passed"
    share = 100 * failed / rows
    verdict = "under" if batch["status"] == "success" else "over"
    outcome = "so the batch was committed without them" if batch["status"] == "success" else "so the batch failed"
    return f"{share:.1f} % of the rows, {verdict} the {batch['errorThreshold']:g} % error threshold, {outcome}"


def run_demo(settings: Settings, rows: int = 2000, report: Console | None = None) -> dict[str, Any]:
    """Run the demo in `home/demo` (rebuilt each time) and return its summary."""
    from accord import sources
    from accord.demo.generate import crm_export, shop_database, web_events

    say = report.print if report else (lambda *_a, **_k: None)
    home = settings.home / "demo"
    shutil.rmtree(home, ignore_errors=True)
    # The demo's home is its own: its landing folder is the one folder its connections may read.
    demo_settings = settings.model_copy(
        update={"home": home, "database_url": None, "lake_root": None, "allowed_roots": None}
    )
    started = time.perf_counter()
    init = initialise(demo_settings)
    say(f"[bold]Accord demo[/] in {init.home}")
    files, landing = home / "incoming", demo_settings.landing
    files.mkdir(parents=True)
    crm_file, web_file, shop = landing / "crm_export.csv.gz", files / "web_events.json", landing / "shop.sqlite"
    defects = crm_export(crm_file, rows)
    web_events(web_file, rows, rows * 5)
    shop_database(shop, rows, rows)
    say(
        f"1. generated {rows:,} CRM records ({defects} with defects) in a landing folder, {rows * 5:,} web events,"
        f" and a shop database with {rows:,} orders"
    )

    workspace = Workspace.open(demo_settings)
    try:
        with workspace.catalog.session() as session:
            schema.create_field_group(session, "prod", yaml.safe_load(_data("crm-ids.yaml").read_text()))
            schema.create_schema(
                session,
                "prod",
                {
                    "name": "crm-profile",
                    "class": "profile",
                    "fieldGroups": [
                        "demographic-details",
                        "personal-contact-details",
                        "consents-and-preferences",
                        "crm-ids",
                    ],
                    "identities": [
                        {"path": "_tenant.crmId", "namespace": "CRMID", "primary": True},
                        {"path": "personalEmail.address", "namespace": "Email"},
                    ],
                },
            )
            schema.create_schema(
                session,
                "prod",
                {
                    "name": "web-events",
                    "class": "experienceevent",
                    "fieldGroups": ["identitymap", "web-details", "commerce-details"],
                },
            )
            schema.create_field_group(session, "prod", yaml.safe_load(_data("order-ids.yaml").read_text()))
            schema.create_schema(
                session,
                "prod",
                {
                    "name": "orders",
                    "class": "experienceevent",
                    "fieldGroups": ["commerce-details", "order-ids"],
                    "identities": [{"path": "_tenant.crmId", "namespace": "CRMID", "primary": True}],
                },
            )
            lake.create_dataset(session, "prod", "crm", "crm-profile", profile_enabled=True)
            lake.create_dataset(session, "prod", "web-events", "web-events", profile_enabled=True)
            lake.create_dataset(session, "prod", "orders", "orders", profile_enabled=True)
            box, roots = sources.SecretBox(demo_settings.home), AllowedRoots.from_settings(demo_settings)
            sources.create_connection(session, box, "prod", "landing", "local", {"root": str(landing)}, roots)
            sources.create_connection(
                session, box, "prod", "shop", "database", {"dialect": "sqlite", "database": str(shop)}, roots
            )
            sources.create_dataflow(
                session,
                "prod",
                {
                    "name": "crm-landing",
                    "connection": "landing",
                    "dataset": "crm",
                    "source": {"glob": "*.csv.gz"},
                    "mapping": yaml.safe_load(_data("crm-mapping.yaml").read_text()),
                    "schedule": {"frequency": "hour"},
                },
            )
            sources.create_dataflow(
                session,
                "prod",
                {
                    "name": "shop-orders",
                    "connection": "shop",
                    "dataset": "orders",
                    "source": {"table": "orders", "deltaColumn": "ordered_at"},
                    "mapping": yaml.safe_load(_data("orders-mapping.yaml").read_text()),
                    "schedule": {"frequency": "hour"},
                },
            )
        say(
            "2. registered field groups, schemas (crm-profile, web-events, orders), datasets, two connections and"
            " two dataflows"
        )
        crm_run = sources.run_dataflow(workspace, "prod", "crm-landing")
        web = ingest_file(workspace, "prod", IngestRequest("web-events", web_file))
        orders_run = sources.run_dataflow(workspace, "prod", "shop-orders")
        shop_database(shop, rows, rows // 10, start_id=rows + 1)  # new orders arrive
        orders_again = sources.run_dataflow(workspace, "prod", "shop-orders")
        with workspace.catalog.session() as session:
            crm = lake.get_batch(session, "prod", crm_run["batches"][0])
        say(
            f"3. dataflow crm-landing: run {crm_run['status']}, {crm_run['recordsIngested']:,} rows ingested and"
            f" {crm_run['recordsFailed']:,} failed ({_why(crm)}); web events uploaded: {web['outputRecordCount']:,};"
            f" dataflow shop-orders: {orders_run['recordsIngested']:,} orders, then {orders_again['recordsIngested']:,}"
            " new ones on the next run"
        )
        from accord import identity, profile, segment

        rebuilt = profile.rebuild(workspace, "prod")
        graphs = rebuilt["graph"]
        person = identity.graph_of(workspace, "prod", "CRMID", "C0000001")
        say(
            f"4. identity graphs: {graphs['identities']:,} identities in {graphs['graphs']:,} graphs;"
            " customer C0000001 is "
            + ", ".join(f"{i['namespace']}:{i['id']}" for i in person["identities"])
            + f"; profile store: {rebuilt['profiles']['profiles']:,} profiles merged in "
            f"{rebuilt['profiles']['seconds']} s"
        )
        from accord.profile import get_profile

        email = next(i["id"] for i in person["identities"] if i["namespace"] == "Email")
        unified = get_profile(workspace, "prod", "Email", email, events_limit=3)
        name = unified["attributes"].get("person", {}).get("name", {}).get("fullName")
        say(
            f"5. the unified profile found by the e-mail {email}: {name}, {unified['events']['total']} events"
            f" (web visits by cookie, orders by CRM id), e.g. {unified['events']['items'][0]['eventType']};"
            f" read from the {unified['readFrom']}"
        )
        audiences = define_audiences(workspace)
        job = segment.run_job(workspace, "prod")
        say("6. audiences (batch job " + f"{job['seconds']} s): " + "; ".join(
            f"{name}: {job['counts'][name]['qualified']:,}" for name in audiences))  # fmt: skip
        activation = activate(workspace)
        streamed = stream(workspace)
        folder = Path(activation["files"][0]["sinkPath"]).parent
        sent = "; ".join(f"{a['segment']}: {a['rows']:,} rows" + (" (left out: " + ", ".join(
            f"{n:,} {why}" for why, n in sorted(a["excluded"].items())) + ")" if a["excluded"] else "")
            for a in activation["audiences"])  # fmt: skip
        landed = ", ".join(f["name"] for f in activation["files"])
        say(f"7. activation to a local folder ({folder}): {sent}; {len(activation['files'])} files with the "
            f"manifest ({landed}), in {activation['durationSeconds']} s")  # fmt: skip
        say(f"8. streaming to an HTTP endpoint the demo started ({streamed['url']}): "
            f"{streamed['received']:,} profiles arrived in {streamed['requests']} requests, "
            f"run {streamed['run']['status']} in {streamed['run']['durationSeconds']} s")  # fmt: skip
        from accord.demo.campaign import campaign_loop

        loop = campaign_loop(workspace, say)
        from accord.demo.streaming import stream_events

        assert init.token is not None
        ingested = stream_events(workspace, init.token, say)
        from accord.demo.governance import govern

        governed = govern(workspace, say)
        from accord.demo.web import browse

        browsed = browse(demo_settings, workspace, say)
        errors = list(lake.batch_errors(workspace, "prod", crm["id"], limit=3))
        with workspace.catalog.session() as session:
            datasets = lake.list_datasets(session, "prod")
        sample = lake.preview(workspace, "prod", "crm", 1)
    finally:
        workspace.close()

    summary = {
        "home": init.home,
        "seconds": round(time.perf_counter() - started, 2),
        "batches": [crm, web],
        "runs": [crm_run, orders_run, orders_again],
        "identityGraphs": graphs,
        "stitchedPerson": person,
        "unifiedProfile": unified,
        "segmentJob": job,
        "activation": activation,
        "streaming": streamed,
        "campaign": loop,
        "streamingIngestion": ingested,
        "governance": governed,
        "web": browsed,
        "datasets": datasets,
        "sampleProfileRecord": sample[0] if sample else None,
        "sampleRowErrors": errors,
    }
    if report:
        table = Table("batch", "dataset", "status", "rows in", "ingested", "failed", "seconds")
        for b in (crm, web):
            table.add_row(
                b["id"],
                b["dataset"],
                b["status"],
                f"{b['inputRecordCount']:,}",
                f"{b['outputRecordCount']:,}",
                f"{b['failedRecordCount']:,}",
                str(b["durationSeconds"]),
            )
        report.print(table)
        report.print("Rows that failed validation are kept with their line and reason, e.g.:")
        for e in errors:
            report.print(
                f"  line {e['lineNumber']}: {e['_errors'][0]['code']} {e['_errors'][0]['message']}",
                highlight=False,
                markup=False,
            )
        report.print("A CRM record as stored (XDM):")
        report.print_json(data=summary["sampleProfileRecord"])
        report.print(
            f"Done in {summary['seconds']} s. Explore with (.venv activated): "
            f"ACCORD_HOME={init.home} accord dataset list"
        )
    return summary


AUDIENCES = {
    "high-value buyers last 30 days": 'xEvent[eventType = "commerce.purchases" and timestamp occurs <= 30 days '
    "before now].sum(commerce.order.priceTotal) > 300",
    "cart abandoners": 'CHAIN(xEvent, timestamp, [C0: WHAT(web.webPageDetails.name = "cart") WHEN(<= 30 days '
    'before now), C1: WHAT(web.webPageDetails.name = "checkout" and eventType != "commerce.purchases") '
    'WHEN(<= 2 days after C0)]) and not xEvent[eventType = "commerce.purchases" and timestamp occurs <= 30 days '
    "before now].exists()",
    "opted-in newsletter readers": 'consents.marketing.email.val = "y" and '
    'xEvent.any(web.webPageDetails.name = "account")',
}
"""The demo's audiences: PQL over the CRM profiles, web events and orders."""


def define_audiences(workspace: Any) -> list[str]:
    from accord import segment

    with workspace.catalog.session() as session:
        for name, pql in AUDIENCES.items():
            segment.create_segment(session, "prod", {"name": name, "expression": {"type": "PQL", "value": pql}})
    return list(AUDIENCES)


ACTIVATION = {
    "audiences": [{"segment": "opted-in newsletter readers"}, {"segment": "high-value buyers last 30 days"}],
    "mapping": [
        {"source": "person.name.firstName", "target": "first_name"},
        {"source": "person.name.lastName", "target": "last_name"},
        {"source": "homeAddress.city", "target": "city"},
        {"source": "_tenant.loyalty.tier", "target": "tier"},
        {"source": "identityMap.Email", "target": "email"},
    ],
    "mandatory": ["email"],
    "dedupKey": ["email"],
    "consentChannel": "email",
    "exportMode": "incremental",
    "file": {"format": "csv", "compression": "gzip", "manifest": True,
             "nameTemplate": "%SEGMENT_NAME%_%DATETIME(yyyyMMdd_HHmmss)%"},
}  # fmt: skip
"""The demo's activation flow: two audiences to a local folder, as gzip CSV with a manifest."""


def activate(workspace: Any) -> dict[str, Any]:
    """A local destination account `outbox` (in the home's landing folder), the flow `audiences-out`, one run."""
    from accord import destinations, sources
    from accord.access import AllowedRoots

    outbox = workspace.settings.landing / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)  # a local destination writes into a folder that exists
    with workspace.catalog.session() as session:
        destinations.create_account(session, sources.SecretBox(workspace.settings.home), "prod", "outbox", "local",
                                    {"root": str(outbox)}, AllowedRoots.from_settings(workspace.settings))  # fmt: skip
        destinations.create_flow(session, "prod", "audiences-out", "outbox", ACTIVATION)
    return destinations.run_activation(workspace, "prod", "audiences-out")


class _Receiver(BaseHTTPRequestHandler):
    """The demo's HTTP endpoint: it counts the profiles of each JSON body it is sent, and answers 200."""

    received: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append(len(json.loads(body).get("profiles", [])))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args: Any) -> None:  # quiet: the demo prints its own summary
        return None


def stream(workspace: Any) -> dict[str, Any]:
    """An HTTP endpoint on 127.0.0.1 (a thread of this process), an `http` account to it, a flow of the newsletter
    readers, one run; what arrived there."""
    from accord import destinations, sources

    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, name="demo-receiver", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with workspace.catalog.session() as session:
            box, roots = sources.SecretBox(workspace.settings.home), AllowedRoots.from_settings(workspace.settings)
            destinations.create_account(session, box, "prod", "hook", "http", {"url": f"{url}/audiences"}, roots)
            destinations.create_flow(session, "prod", "readers-http", "hook", {
                "audiences": [{"segment": "opted-in newsletter readers"}],
                "mapping": [{"source": "person.name.firstName", "target": "first_name"},
                            {"source": "identityMap.Email", "target": "email"}]})  # fmt: skip
        run = destinations.run_activation(workspace, "prod", "readers-http")
    finally:
        server.shutdown()
        server.server_close()
    return {"url": url, "requests": len(_Receiver.received), "received": sum(_Receiver.received), "run": run}
