"""Benchmark (issue 14): every page of the web workspace at the profile benchmark's scale.

    python bench/web.py [--people 1000000] [--events 10000000] [--requests 20] [--sends 1000000]

The profile benchmark's seeded data (`bench/profile.py`: 1M people over three profile datasets and 10M events)
is ingested and its graphs and profiles built; then 50 audiences are defined and evaluated by one segment job,
10 dataflows get 10,000 runs of history (1 in 20 failed, with an error), and an activation flow of five of the
audiences to a local folder gets 2,000 runs, and the campaign instance mails every person once (`--sends`
rows in its send log, a fifth opened). `accord serve` then serves the home, and each page of the workspace is
requested `--requests` times by a person signed in (after one request that warms it); the figure
is each page's p95, measured from the client on the same machine (the server's render plus one local round
trip). The round trip alone (`GET /health`) is measured in the same run as the floor. Goal: every page's p95
under 150 ms. Figures go to bench/results/web.json.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import run_isolated, write_result
from bench.profile import BUILD, EVENTS, PEOPLE, prepared_data

GOAL_MS = 150.0
AUDIENCES, DATAFLOWS, RUNS, ACTIVATION_RUNS = 50, 10, 10_000, 2_000
PASSWORD = "bench password 14"

SEED = """
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
def main(home, inbox, outbox, audiences, dataflows, runs, activation_runs, password):
    from accord import destinations, governance, lake, segment, sources
    from accord.access import AllowedRoots, create_user, grant_role
    from accord.catalog import FlowRunRecord, new_id, resolve_sandbox
    from accord.catalog.activations import ActivationRunRecord
    from accord.settings import Settings
    from accord.workspace import Workspace
    settings = Settings(home=Path(home), scheduler=False, allowed_roots=[Path(inbox).parent])
    ws = Workspace.open(settings)
    rng = random.Random(14)
    cities = ["Paris", "Lyon", "Berlin", "Madrid", "Rome", "Lisbon", "Oslo", "Vienna", "Prague", "Dublin"]
    with ws.catalog.session() as s:
        for a in range(int(audiences)):
            kind = a % 3
            tier, city, other = ["gold", "silver", "bronze"][a % 3], cities[a % 10], cities[(a + 3) % 10]
            pql = (f'homeAddress.city = "{city}"' if kind == 0 else
                   f'_tenant.tier = "{tier}" and homeAddress.city = "{other}"' if kind == 1 else
                   f'personalEmail.address.endsWith("{a % 10}@x.io")')
            segment.create_segment(s, "prod", {"name": f"audience-{a:02d}", "description": f"benchmark audience {a}",
                                               "expression": {"type": "PQL", "value": pql}})
    started = time.perf_counter()
    job = segment.run_job(ws, "prod")
    job_seconds = time.perf_counter() - started
    box, roots = sources.SecretBox(settings.home), AllowedRoots.from_settings(settings)
    mapping = {"mappings": [{"source": "crm", "destination": "_tenant.crm"},
                            {"source": "email", "destination": "personalEmail.address"}]}
    with ws.catalog.session() as s:
        sources.create_connection(s, box, "prod", "inbox", "local", {"root": inbox}, roots)
        flows = [sources.create_dataflow(s, "prod", {"name": f"dataflow-{d}", "connection": "inbox", "dataset": "crm",
                                                     "source": {"glob": f"d{d}-*.csv"}, "mapping": mapping})
                 for d in range(int(dataflows))]
        sandbox_id = resolve_sandbox(s, "prod").id
        now = datetime.now(UTC)
        records = []
        for r in range(int(runs)):
            at = now - timedelta(minutes=5 * (int(runs) - r))
            failed = r % 20 == 7
            ingested = 0 if failed else rng.randrange(1000, 100000)
            records.append(FlowRunRecord(id=new_id(), sandbox_id=sandbox_id, dataflow_id=flows[r % len(flows)].id,
                status="failed" if failed else "success", trigger="schedule", records_received=ingested,
                records_ingested=ingested, records_failed=rng.randrange(0, 20) if not failed else 0, files=3,
                bytes=ingested * 80, created_at=at, started_at=at, completed_at=at + timedelta(seconds=40),
                errors=[{"code": "SOURCE-0001-400", "message": "d7-0001.csv line 12: a bad row"}] if failed else []))
        s.add_all(records)
        run_id = records[-1].id
    with ws.catalog.session() as s:
        destinations.create_account(s, box, "prod", "outbox", "local", {"root": outbox}, roots)
        flow = destinations.create_flow(s, "prod", "to-outbox", "outbox", {
            "audiences": [{"segment": f"audience-{a:02d}"} for a in range(5)],
            "mapping": [{"source": "personalEmail.address", "target": "email"}]})
        made = [ActivationRunRecord(id=new_id(), sandbox_id=sandbox_id, flow_id=flow.id, status="success",
                                    trigger="schedule", profiles_received=50000, identities_activated=49000,
                                    excluded={"consent": 1000}, created_at=now - timedelta(hours=r),
                                    completed_at=now - timedelta(hours=r) + timedelta(seconds=30))
                for r in range(int(activation_runs))]
        s.add_all(made)
        activation_run_id = made[0].id
    create_user(ws.catalog, "bench", email="bench@example.com", password=password)
    grant_role(ws.catalog, "admin", "bench", None)
    with ws.catalog.session() as s:
        batch_id = lake.list_batches(s, "prod", "crm", limit=1)[0]["id"]
    privacy = governance.run_privacy_job(ws, "prod", "access", ["CRMID:C123"], requested_by="bench")
    ws.close()
    return {"jobSeconds": job_seconds, "jobStatus": job["status"], "sizes": job["counts"], "runId": run_id,
            "activationRunId": activation_run_id, "batchId": batch_id, "privacyJobId": privacy["id"]}
"""


CAMPAIGN = """
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
def main(home, sends):
    from sqlalchemy import insert
    from accord import campaign
    from accord.campaign.exceptions import CampaignNotInitialisedError
    from accord.campaign.models import BroadLogRecord, ListMemberRecord, RecipientRecord, TrackingLogRecord
    from accord.settings import Settings
    settings = Settings(home=Path(home), scheduler=False)
    try:
        engine = campaign.CampaignEngine.open(settings)
    except CampaignNotInitialisedError:
        campaign.initialise_engine(settings)
        engine = campaign.CampaignEngine.open(settings)
    sends, rng, now = int(sends), random.Random(14), datetime.now(UTC)
    started = time.perf_counter()
    made = campaign.create_list(engine, "everyone", label="every profile")
    delivery = campaign.create_delivery(engine, "spring-sale", sender="news@example.com", subject="Spring sale",
                                        target={"list": "everyone"}, html="<p>Hello {{ recipient.firstName }}</p>",
                                        text="Hello {{ recipient.firstName }}")
    step = 50_000
    with engine.database.session() as s:
        for start in range(0, sends, step):
            ids = range(start + 1, min(sends, start + step) + 1)
            s.execute(insert(RecipientRecord), [{"id": i, "external_id": f"C{i}", "email": f"p{i}@x.io",
                                                 "first_name": f"P{i}"} for i in ids])
            s.execute(insert(ListMemberRecord), [{"list_id": made["id"], "recipient_id": i} for i in ids])
            sent = [{"id": i, "delivery_id": delivery["id"], "recipient_id": i, "email": f"p{i}@x.io",
                     "status": "bounced" if i % 100 == 0 else "sent", "attempts": 1,
                     "event_at": now - timedelta(minutes=rng.randrange(0, 30 * 24 * 60))} for i in ids]
            s.execute(insert(BroadLogRecord), sent)
            tracked = [{"broadlog_id": r["id"], "delivery_id": delivery["id"], "recipient_id": r["id"],
                        "type": kind, "event_at": r["event_at"] + timedelta(hours=1)}
                       for r in sent if r["status"] == "sent"
                       for kind, share in (("open", 5), ("click", 20), ("unsubscribe", 200)) if r["id"] % share == 1]
            s.execute(insert(TrackingLogRecord), tracked)
            s.commit()
    engine.close()
    return {"seconds": time.perf_counter() - started, "deliveryId": delivery["id"], "listId": made["id"]}
"""
CAMPAIGN_SENDS = 1_000_000
"""Messages in the campaign's send log: every profile mailed once in the last 30 days (a fifth opened them)."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(home: Path, roots: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = os.environ | {"ACCORD_HOME": str(home), "ACCORD_SCHEDULER": "false", "ACCORD_SESSION_COOKIE_SECURE": "false",
                        "ACCORD_ALLOWED_ROOTS": f'["{roots}"]'}  # fmt: skip
    server = subprocess.Popen([str(Path(sys.executable).parent / "accord"), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"accord serve did not start: {server.stderr.read().decode()[-2000:] if server.stderr else ''}"
            )
        time.sleep(0.2)


def pages(seeded: dict[str, Any]) -> dict[str, str]:
    """Each page of the workspace, as the seeded home shows it (a name for the results: its URL)."""
    person = "namespace=CRMID&id=C123"
    return {
        "home": "/ui",
        "operations": "/ui/operations",
        "operation": seeded["operation"],
        "sources catalog": "/ui/sources",
        "connections": "/ui/sources/connections",
        "connection": "/ui/sources/connections/inbox",
        "new connection": "/ui/sources/new-connection?connector=local",
        "dataflows": "/ui/sources/dataflows",
        "dataflow (1,000 runs)": "/ui/sources/dataflows/dataflow-7",
        "dataflow run": f"/ui/sources/runs/{seeded['runId']}",
        "batch (its row errors)": f"/ui/data/batches/{seeded['batchId']}",
        "new dataflow": "/ui/sources/new-dataflow?connection=inbox",
        "data": "/ui/data",
        "schemas": "/ui/data/schemas",
        "schema": "/ui/data/schemas/crm",
        "new schema": "/ui/data/new-schema",
        "datasets": "/ui/data/datasets",
        "dataset (10M events)": "/ui/data/datasets/events",
        "dataset (1M people)": "/ui/data/datasets/crm",
        "new dataset": "/ui/data/new-dataset",
        "namespaces": "/ui/data/namespaces",
        "new namespace": "/ui/data/new-namespace",
        "profile look-up": "/ui/profiles",
        "profile": f"/ui/profiles/view?{person}",
        "un-merge confirmation": f"/ui/profiles/unlink?{person}&from_namespace=CRMID&from_id=C123"
                                 "&to_namespace=Email&to_id=p123%40x.io",
        "audiences": "/ui/audiences",
        "audience builder": "/ui/audiences/new",
        "audience": "/ui/audiences/audience-00",
        "audience editor": "/ui/audiences/audience-00/edit",
        "destinations catalog": "/ui/destinations",
        "configure destination": "/ui/destinations/configure/local",
        "destination accounts": "/ui/destinations/accounts",
        "destination account": "/ui/destinations/accounts/outbox",
        "activation wizard": "/ui/destinations/accounts/outbox/activate",
        "activations": "/ui/destinations/activations",
        "activation (2,000 runs)": "/ui/destinations/activations/to-outbox",
        "activation run": f"/ui/destinations/activations/to-outbox/runs/{seeded['activationRunId']}",
        "campaign (engagement over the send log)": "/ui/campaign",
        "campaign recipients": "/ui/campaign/recipients",
        "campaign recipients searched": "/ui/campaign/recipients?q=p12345",
        "campaign recipient": "/ui/campaign/recipients/123",
        "campaign lists": "/ui/campaign/lists",
        "campaign list": f"/ui/campaign/lists/{seeded['listId']}",
        "campaign workflows": "/ui/campaign/workflows",
        "campaign workflow": "/ui/campaign/workflows/audience-import",
        "campaign deliveries": "/ui/campaign/deliveries",
        "campaign delivery (its whole send log)": f"/ui/campaign/deliveries/{seeded['deliveryId']}",
        "governance": "/ui/governance",
        "labels": "/ui/governance/labels",
        "dataset labels": "/ui/governance/datasets/crm",
        "policies": "/ui/governance/policies",
        "marketing actions": "/ui/governance/marketing-actions",
        "privacy jobs": "/ui/governance/privacy",
        "privacy job": f"/ui/governance/privacy/{seeded['privacyJobId']}",
        "activity log": "/ui/governance/activity",
        "users": "/ui/governance/users",
        "user": "/ui/governance/users/bench",
        "roles": "/ui/governance/roles",
    }  # fmt: skip


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def measure(base: str, count: int, seeded: dict[str, Any]) -> dict[str, Any]:
    import httpx

    figures: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        signed = client.post("/ui/login", data={"user": "bench", "password": PASSWORD})
        if signed.status_code != 303:
            raise RuntimeError(f"sign-in refused: {signed.status_code} {signed.text[:300]}")
        # an operation of this person's, for its page: a segment job of one audience, started from its page
        started = client.post("/ui/audiences/audience-00/jobs", data={"csrf_token": client.cookies["accord_csrf"]})
        if started.status_code != 303:
            raise RuntimeError(f"the segment job was not started: {started.status_code} {started.text[:300]}")
        seeded = seeded | {"operation": started.headers["location"]}
        floor = []
        for _ in range(count):
            started = time.perf_counter()
            client.get("/health")
            floor.append((time.perf_counter() - started) * 1000)
        figures["roundTrip"] = {"url": "/health", "p95Ms": round(_p95(floor), 2),
                                "medianMs": round(sorted(floor)[len(floor) // 2], 2)}  # fmt: skip
        for name, url in pages(seeded).items():
            answer = client.get(url)  # warms what the page reads once (a store opened, a module imported)
            if answer.status_code != 200:
                raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text[:300]}")
            times = []
            for _ in range(count):
                started = time.perf_counter()
                answer = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, (url, answer.status_code)
            p95, median = _p95(times), sorted(times)[count // 2]
            figures[name] = {"url": url, "p95Ms": round(p95, 2), "medianMs": round(median, 2),
                             "ratioToGoal": round(p95 / GOAL_MS, 3), "bytes": len(answer.content)}  # fmt: skip
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--people", type=int, default=PEOPLE)
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--sends", type=int, default=CAMPAIGN_SENDS)
    args = parser.parse_args()
    load_at_start = [round(load, 2) for load in os.getloadavg()]
    folder = prepared_data(args.people, args.events)
    root = Path(tempfile.mkdtemp(prefix="accord-web-"))
    server = None
    try:
        home, inbox, outbox = root / "home", root / "inbox", root / "outbox"
        inbox.mkdir()
        outbox.mkdir()
        built = run_isolated(BUILD, str(home), str(folder))
        seeded = run_isolated(SEED, str(home), str(inbox), str(outbox), str(AUDIENCES), str(DATAFLOWS), str(RUNS),
                              str(ACTIVATION_RUNS), PASSWORD)  # fmt: skip
        seeded |= run_isolated(CAMPAIGN, str(home), str(args.sends))
        server, base = _serve(home, root)
        figures = measure(base, args.requests, seeded)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)
    measured = {k: v for k, v in figures.items() if k != "roundTrip"}
    worst = max(measured.items(), key=lambda item: item[1]["p95Ms"])
    result = {
        "loadAverageAtStart": load_at_start, "people": args.people, "events": args.events,
        "profiles": built["profiles"]["profiles"], "audiences": AUDIENCES,
        "segmentJobSeconds": round(seeded["jobSeconds"], 1),
        "dataflowRuns": RUNS, "activationRuns": ACTIVATION_RUNS, "campaignSends": args.sends,
        "requestsPerPage": args.requests,
        "pages": measured, "roundTrip": figures["roundTrip"],
        "worst": {"page": worst[0], "p95Ms": worst[1]["p95Ms"], "ratioToGoal": round(worst[1]["p95Ms"] / GOAL_MS, 3)},
        "goals": {"everyPageP95Under150ms": all(v["p95Ms"] < GOAL_MS for v in measured.values())},
    }  # fmt: skip
    default = (args.people, args.events) == (PEOPLE, EVENTS)
    path = write_result("web", result, None if default else f"{args.people} people, {args.events} events")
    width = max(len(name) for name in measured)
    for name, figure in measured.items():
        print(f"{name:<{width}}  p95 {figure['p95Ms']:7.2f} ms  median {figure['medianMs']:7.2f} ms  {figure['url']}")
    print(f"round trip alone (GET /health): p95 {figures['roundTrip']['p95Ms']:.2f} ms")
    print(f"worst page: {worst[0]} p95 {worst[1]['p95Ms']:.2f} ms (goal < {GOAL_MS:.0f} ms, ratio "
          f"{worst[1]['p95Ms'] / GOAL_MS:.2f}); {built['profiles']['profiles']:,} profiles, {AUDIENCES} audiences, "
          f"{RUNS:,} dataflow runs")  # fmt: skip
    print(f"written to {path}")


if __name__ == "__main__":
    main()
