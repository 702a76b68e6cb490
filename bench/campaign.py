"""Benchmark (issue 11): sending a delivery over SMTP.

    python bench/campaign.py [--recipients 100000] [--connections 4]

One personalised e-mail (HTML and text, tracked links and an open pixel signed with HMAC, an unsubscribe
link, List-Unsubscribe and List-Unsubscribe-Post headers) to each of 100,000 recipients, through a local
aiosmtpd server in a process of its own (tests/smtp_server.py: it stores each message to one file), with
the send log written before and after each batch. Measured in a fresh process: messages/s of the whole
`send_delivery` (targeting, the pending rows, rendering, SMTP, the log) and peak memory. Ceiling in the same
run: the same messages rendered beforehand (not timed) and pushed over as many connections by a bare
aiosmtplib loop with no bookkeeping, to the same server. Goals: at least 1,000 messages/s, within 2 times
the ceiling, under 500 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import run_isolated, write_result  # noqa: E402

ENGAGED = "clicked a campaign e-mail in the last 7 days"
ENGAGED_PQL = ('xEvent[eventType = "message.tracking" and _experience.campaign.tracking.urlType = "click" '
               "and timestamp occurs <= 7 days before now].exists()")  # fmt: skip
SUBJECT = "{{ recipient.firstName }}, the winter sale starts today"
HTML = """<html><body><p>Hello {{ recipient.firstName }} {{ recipient.lastName }},</p>
<p>Our <a href="https://shop.example/sale">winter sale</a> starts today, and the
<a href="https://shop.example/new-arrivals">new arrivals</a> are in.</p>
<p>Your points: {{ recipient.custom.points }}. <a href="https://shop.example/account">See your account</a>.</p>
<p style="font-size:small"><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>
"""
TEXT = """Hello {{ recipient.firstName }} {{ recipient.lastName }},

Our winter sale starts today: https://shop.example/sale
The new arrivals are in: https://shop.example/new-arrivals
Your points: {{ recipient.custom.points }}. Your account: https://shop.example/account

Unsubscribe: {{ unsubscribe_url }}
"""


OURS = """
import sys, time
sys.path.insert(0, {root!r})
def main(home, port, delivery, connections):
    from accord.campaign import CampaignEngine
    from accord.campaign.sending import send_delivery
    from accord.settings import Settings
    settings = Settings(home=home, scheduler=False, campaign_smtp_port=int(port), campaign_smtp_starttls="never",
                        campaign_smtp_connections=int(connections))
    engine = CampaignEngine.open(settings)
    started = time.perf_counter()
    counts = send_delivery(engine, int(delivery))  # its target, its templates: all of it timed
    seconds = time.perf_counter() - started
    engine.close()
    return {{"seconds": seconds, "counts": counts}}
"""

CEILING = """
import asyncio, sys, time
sys.path.insert(0, {root!r})
def main(home, port, delivery, connections):
    import aiosmtplib
    from accord.campaign import CampaignEngine
    from accord.campaign.deliveries import target_recipients
    from accord.campaign.messages import Renderer
    from accord.settings import Settings
    settings = Settings(home=home, scheduler=False)
    engine = CampaignEngine.open(settings)
    recipients, _ = target_recipients(engine, int(delivery))
    render = Renderer(engine, int(delivery))
    messages = [(r["email"], render.render_bytes(r, n)) for n, r in enumerate(recipients, 1)]  # not timed
    engine.close()
    sender = "news@shop.example"

    async def push():
        position = iter(messages)
        async def connection():
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=int(port), start_tls=False)
            await client.connect()
            for to, data in position:
                await client.sendmail(sender, [to], data)
            await client.quit()
        await asyncio.gather(*(connection() for _ in range(int(connections))))

    started = time.perf_counter()
    asyncio.run(push())
    return {{"seconds": time.perf_counter() - started, "messages": len(messages)}}
"""


def prepare(home: Path, recipients: int) -> dict[str, Any]:
    """A CDP with `recipients` CRM profiles (all of them the audience `winter`), connected to its campaign
    instance, the audience activated to it and imported (timed apart, as `audienceIn`), and a delivery to its
    list (not timed)."""
    import time

    import duckdb

    from accord import campaign, destinations, identity, lake, profile, schema, segment
    from accord.campaign.connect import Instance, connect
    from accord.campaign.imports import audience_loads, import_audiences
    from accord.ingest import IngestRequest, ingest_file, parse_mapping
    from accord.settings import Settings
    from accord.workspace import Workspace, initialise

    settings = Settings(home=home, scheduler=False)
    initialise(settings)
    crm = home.parent / "crm.csv"
    duckdb.execute(f"COPY (SELECT 'C' || i AS crm, 'person' || i || '@example.com' AS email, 'First' || (i % 5000) "
                   f"AS first, 'Last' || (i % 20000) AS last, i % 1000 AS points FROM range({recipients}) t(i)) "
                   f"TO '{crm}' (HEADER)")  # fmt: skip
    ws = Workspace.open(settings)
    engine = campaign.CampaignEngine.open(settings)
    with ws.catalog.session() as s:
        schema.create_field_group(
            s,
            "prod",
            {
                "name": "crm-ids",
                "classes": ["profile"],
                "fields": {
                    "_tenant": {
                        "type": "object",
                        "properties": {"crm": {"type": "string"}, "points": {"type": "integer"}},
                    }
                },
            },
        )
        schema.create_schema(
            s,
            "prod",
            {
                "name": "crm",
                "class": "profile",
                "fieldGroups": [
                    "personal-contact-details",
                    "demographic-details",
                    "consents-and-preferences",
                    "crm-ids",
                ],
                "identities": [
                    {"path": "_tenant.crm", "namespace": "CRMID", "primary": True},
                    {"path": "personalEmail.address", "namespace": "Email"},
                ],
            },
        )
        lake.create_dataset(s, "prod", "crm", "crm", profile_enabled=True)
        segment.create_segment(s, "prod", {"name": "winter", "expression": {"value": "_tenant.points >= 0"}})
    made = connect(ws, "prod", Instance(name=engine.name, landing=str(engine.landing), logs=str(engine.logs)))
    with ws.catalog.session() as s:
        segment.create_segment(s, "prod", {"name": ENGAGED, "expression": {"value": ENGAGED_PQL}})
        destinations.create_flow(
            s,
            "prod",
            "winter-out",
            made["destinationAccount"],
            {
                "audiences": [{"segment": "winter"}],
                "mapping": [
                    {"source": "identityMap.CRMID", "target": "externalId"},
                    {"source": "identityMap.Email", "target": "email"},
                    {"source": "person.name.firstName", "target": "firstName"},
                    {"source": "person.name.lastName", "target": "lastName"},
                    {"source": "_tenant.points", "target": "points"},
                ],
            },
        )
        audience = segment.find_segment(s, "prod", "winter").id
    columns = [
        ("crm", "_tenant.crm"),
        ("email", "personalEmail.address"),
        ("first", "person.name.firstName"),
        ("last", "person.name.lastName"),
        ("points", "_tenant.points"),
    ]
    mapping = parse_mapping(
        {
            "mappings": [{"source": a, "destination": b} for a, b in columns]
            + [{"expression": '"y"', "destination": "consents.marketing.email.val"}]
        }
    )
    ingest_file(ws, "prod", IngestRequest("crm", crm, mapping))
    identity.build_graph(ws, "prod")
    profile.build_profiles(ws, "prod")
    segment.run_job(ws, "prod")
    started = time.perf_counter()
    out = destinations.run_activation(ws, "prod", "winter-out")
    run = import_audiences(engine)
    audience_in = time.perf_counter() - started
    [load] = audience_loads(engine, run_id=run["id"])
    delivery = campaign.create_delivery(engine, "winter-sale", sender="Shop <news@shop.example>", subject=SUBJECT,
                                        html=HTML, text=TEXT, target={"audience": audience})  # fmt: skip
    engine.close()
    ws.close()
    return {"delivery": int(delivery["id"]), "audienceIn": {"seconds": round(audience_in, 2), "rows":
            out["audiences"][0]["rows"], "loaded": load["loaded"], "inserted": load["inserted"],
            "rejected": load["rejected"]}}  # fmt: skip


def track(home: Path, delivery: int) -> dict[str, int]:
    """What the recipients did (not timed): every third opened the message, every tenth clicked its first link."""
    from sqlalchemy import insert, select

    from accord import campaign
    from accord.campaign.models import BroadLogRecord, TrackingLogRecord
    from accord.settings import Settings

    engine = campaign.CampaignEngine.open(Settings(home=home, scheduler=False))
    with engine.database.session() as s:
        logs = s.execute(
            select(BroadLogRecord.id, BroadLogRecord.recipient_id)
            .where(BroadLogRecord.delivery_id == delivery, BroadLogRecord.status == "sent")
            .order_by(BroadLogRecord.id)
        ).all()
        rows = [
            {"broadlog_id": b, "delivery_id": delivery, "recipient_id": r, "type": "open"}
            for n, (b, r) in enumerate(logs)
            if n % 3 == 0
        ]
        clicks = [
            {
                "broadlog_id": b,
                "delivery_id": delivery,
                "recipient_id": r,
                "type": "click",
                "url": "https://shop.example/sale",
            }
            for n, (b, r) in enumerate(logs)
            if n % 10 == 0
        ]
        s.execute(insert(TrackingLogRecord), rows + clicks)
    engine.close()
    return {"opens": len(rows), "clicks": len(clicks)}


LOOP = """
def main(home):
    import time
    from pathlib import Path
    from accord import campaign, profile, segment, sources
    from accord.campaign.logs import export_logs
    from accord.settings import Settings
    from accord.workspace import Workspace
    settings = Settings(home=Path(home), scheduler=False)
    ws, engine = Workspace.open(settings), campaign.CampaignEngine.open(settings)
    started = time.perf_counter()
    exported = export_logs(engine, settle_seconds=0)
    runs = {f: sources.run_dataflow(ws, "prod", f"campaign-default-{f}") for f in ("delivery-logs", "tracking-logs")}
    exported_at = time.perf_counter()
    profile.rebuild(ws, "prod")
    job = segment.run_job(ws, "prod")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "exportAndIngestSeconds": exported_at - started,
            "deliveryLogs": exported["deliveryLogs"], "trackingLogs": exported["trackingLogs"],
            "ingested": {f: r["recordsIngested"] for f, r in runs.items()}, "engaged": job["counts"][%r]["qualified"]}
"""


def _cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user and system), from /proc: how busy the SMTP server was kept."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    from tests.smtp_server import start_smtp

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="accord-bench-campaign-"))
    sink = start_smtp(folder / "sink")
    try:
        prepared = prepare(folder / "home", args.recipients)
        delivery = prepared["delivery"]
        step = (str(folder / "home"), str(sink.port), str(delivery), str(args.connections))
        busy = _cpu_seconds(sink.process.pid)
        ours = run_isolated(OURS.format(root=str(ROOT)), *step)
        received, sink_ours = sink.count(), _cpu_seconds(sink.process.pid) - busy
        sink.clear()
        busy = _cpu_seconds(sink.process.pid)
        ceiling = run_isolated(CEILING.format(root=str(ROOT)), *step)
        received_ceiling, sink_ceiling = sink.count(), _cpu_seconds(sink.process.pid) - busy
        tracked = track(folder / "home", delivery)
        loop = run_isolated(LOOP % (ENGAGED,), str(folder / "home"))
    finally:
        sink.stop()
        shutil.rmtree(folder, ignore_errors=True)

    rate, ceiling_rate = args.recipients / ours["seconds"], args.recipients / ceiling["seconds"]
    ratio = ours["seconds"] / ceiling["seconds"]
    goals = {"at least 1,000 messages/s": rate >= 1000, "within 2x the ceiling": ratio <= 2,
             "under 500 MB": ours["peak_rss_mb"] < 500,
             "one message per recipient": received == received_ceiling == args.recipients,
             "engagement audience is who clicked": loop["engaged"] == tracked["clicks"]}  # fmt: skip
    result = {
        "recipients": args.recipients, "connections": args.connections,
        "ours": {"seconds": round(ours["seconds"], 2), "messagesPerSecond": round(rate), "peakRssMb":
                 ours["peak_rss_mb"], "counts": ours["counts"], "received": received},
        "ceiling": {"seconds": round(ceiling["seconds"], 2), "messagesPerSecond": round(ceiling_rate),
                    "peakRssMb": ceiling["peak_rss_mb"], "received": received_ceiling},
        # the SMTP server's own CPU per message: what any client can reach at most, one core for the server
        "serverCpuMsPerMessage": {"ours": round(1000 * sink_ours / args.recipients, 3),
                                  "ceiling": round(1000 * sink_ceiling / args.recipients, 3)},
        "serverAloneAtMostPerSecond": round(args.recipients / sink_ceiling) if sink_ceiling else None,
        "ratio": round(ratio, 2),
        "audienceIn": prepared["audienceIn"],
        "logsToAudience": {"seconds": round(loop["seconds"], 2),
                           "exportAndIngestSeconds": round(loop["exportAndIngestSeconds"], 2),
                           "deliveryLogs": loop["deliveryLogs"], "trackingLogs": loop["trackingLogs"],
                           "ingested": loop["ingested"], "opens": tracked["opens"], "clicks": tracked["clicks"],
                           "engaged": loop["engaged"], "peakRssMb": loop["peak_rss_mb"]},
        "goals": goals,
    }  # fmt: skip
    path = write_result("campaign", result, None if args.recipients == 100_000 else f"{args.recipients} recipients")
    print(f"{args.recipients:,} messages over {args.connections} SMTP connections:")
    print(f"  send_delivery: {ours['seconds']:.1f} s ({rate:,.0f} messages/s), peak {ours['peak_rss_mb']:,.0f} MB; "
          f"the server received {received:,}")  # fmt: skip
    print(f"  ceiling (pre-rendered, bare aiosmtplib): {ceiling['seconds']:.1f} s ({ceiling_rate:,.0f} messages/s), "
          f"peak {ceiling['peak_rss_mb']:,.0f} MB; ratio {ratio:.2f}")  # fmt: skip
    print(
        f"  the SMTP server used {1000 * sink_ceiling / args.recipients:.2f} ms of CPU a message: on one core it "
        f"takes at most {args.recipients / max(sink_ceiling, 1e-9):,.0f} messages/s from any client"
    )
    audience_in = prepared["audienceIn"]
    print(f"  audience in (activation to the instance, then the import workflow): {audience_in['rows']:,} rows in "
          f"{audience_in['seconds']:.1f} s")  # fmt: skip
    print(
        f"  logs to audience: export {loop['deliveryLogs']:,} delivery and {loop['trackingLogs']:,} tracking rows, "
        f"ingest, rebuild the profiles, run the segment job: {loop['seconds']:.1f} s (export and ingest "
        f"{loop['exportAndIngestSeconds']:.1f} s); engaged {loop['engaged']:,} of {tracked['clicks']:,} who clicked"
    )
    print(f"goals: {goals} -> {path}")


if __name__ == "__main__":
    main()
