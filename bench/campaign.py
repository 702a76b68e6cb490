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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import run_isolated, write_result  # noqa: E402

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


def prepare(home: Path, recipients: int) -> int:
    """An instance with `recipients` recipients and one delivery (not timed); the delivery's id."""
    from sqlalchemy import insert, select

    from accord.campaign import CampaignEngine, create_delivery, create_list, initialise_engine
    from accord.campaign.models import ListMemberRecord, RecipientRecord
    from accord.settings import Settings
    from accord.workspace import initialise

    settings = Settings(home=home, scheduler=False)
    initialise(settings)  # the home's secret key signs the tracking links
    initialise_engine(settings)
    engine = CampaignEngine.open(settings)
    rows = [{"external_id": f"C{n}", "email": f"person{n}@example.com", "first_name": f"First{n % 5000}",
             "last_name": f"Last{n % 20000}", "custom": {"points": n % 1000}} for n in range(recipients)]  # fmt: skip
    winter = create_list(engine, "winter")["id"]
    with engine.database.session() as session:
        for start in range(0, len(rows), 20_000):
            session.execute(insert(RecipientRecord), rows[start : start + 20_000])
        ids = session.scalars(select(RecipientRecord.id)).all()
        session.execute(insert(ListMemberRecord), [{"list_id": winter, "recipient_id": i} for i in ids])
    made = create_delivery(engine, "winter-sale", sender="Shop <news@shop.example>", subject=SUBJECT, html=HTML,
                           text=TEXT, target={"list": "winter"})  # fmt: skip
    engine.close()
    return int(made["id"])


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
        delivery = prepare(folder / "home", args.recipients)
        step = (str(folder / "home"), str(sink.port), str(delivery), str(args.connections))
        busy = _cpu_seconds(sink.process.pid)
        ours = run_isolated(OURS.format(root=str(ROOT)), *step)
        received, sink_ours = sink.count(), _cpu_seconds(sink.process.pid) - busy
        sink.clear()
        busy = _cpu_seconds(sink.process.pid)
        ceiling = run_isolated(CEILING.format(root=str(ROOT)), *step)
        received_ceiling, sink_ceiling = sink.count(), _cpu_seconds(sink.process.pid) - busy
    finally:
        sink.stop()
        shutil.rmtree(folder, ignore_errors=True)

    rate, ceiling_rate = args.recipients / ours["seconds"], args.recipients / ceiling["seconds"]
    ratio = ours["seconds"] / ceiling["seconds"]
    goals = {"at least 1,000 messages/s": rate >= 1000, "within 2x the ceiling": ratio <= 2,
             "under 500 MB": ours["peak_rss_mb"] < 500,
             "one message per recipient": received == received_ceiling == args.recipients}  # fmt: skip
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
        "ratio": round(ratio, 2), "goals": goals,
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
    print(f"goals: {goals} -> {path}")


if __name__ == "__main__":
    main()
