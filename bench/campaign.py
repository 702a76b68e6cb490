"""Benchmark (issue 11): sending a delivery over SMTP.

    python bench/campaign.py [--recipients 100000] [--connections 4] [--renderer module:attr] [--target module:attr]

One personalised e-mail (HTML and text, tracked links and an open pixel signed with HMAC, an unsubscribe
link, List-Unsubscribe and List-Unsubscribe-Post headers) to each of 100,000 recipients, through a local
aiosmtpd server in a process of its own (tests/smtp_server.py: it stores each message to one file), with
the send log written before and after each batch. Measured in a fresh process: messages/s of the whole
`send_delivery` (targeting, the pending rows, rendering, SMTP, the log) and peak memory. Ceiling in the same
run: the same messages rendered beforehand (not timed) and pushed over as many connections by a bare
aiosmtplib loop with no bookkeeping, to the same server. Goals: at least 1,000 messages/s, within 2 times
the ceiling, under 500 MB.

The renderer and the targeting are pluggable (`--renderer`, `--target`): until the `mail` part's are joined,
this file's `TrackedRenderer` and `all_recipients` stand in for `accord.campaign.messages:Renderer` and
`accord.campaign.deliveries:target_recipients`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import shutil
import sys
import tempfile
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import make_msgid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import run_isolated, write_result  # noqa: E402

LINKS = ["https://shop.example/sale", "https://shop.example/new-arrivals", "https://shop.example/account"]
HTML = """<html><body><p>Hello {first} {last},</p>
<p>Our <a href="{l0}">winter sale</a> starts today, and the <a href="{l1}">new arrivals</a> are in.</p>
<p>Your points: {points}. <a href="{l2}">See your account</a>.</p>
<p style="font-size:small"><a href="{unsubscribe}">Unsubscribe</a></p>
<img src="{pixel}" width="1" height="1" alt=""></body></html>
"""
TEXT = """Hello {first} {last},

Our winter sale starts today: {l0}
The new arrivals are in: {l1}
Your points: {points}. Your account: {l2}

Unsubscribe: {unsubscribe}
"""


class TrackedRenderer:
    """A stand-in for the `mail` part's renderer, of the same cost shape: every link rewritten to a signed
    tracking URL, an open pixel, an unsubscribe link and headers. Messages are built with the compat32
    policy: the email package's default policy parses every header set, ten times the cost."""

    def __init__(self, engine: Any, delivery_id: int) -> None:
        from accord.campaign.models import DeliveryRecord

        with engine.database.session() as session:
            delivery = session.get(DeliveryRecord, delivery_id)
            self.sender, self.subject = delivery.sender, delivery.subject
        self.delivery_id = delivery_id
        self.base = engine.settings.campaign_public_url.rstrip("/")
        self.key = hashlib.sha256(b"bench tracking key").digest()
        self.domain = self.sender.rpartition("@")[2].rstrip(">")

    def _signed(self, path: str) -> str:
        signature = hmac.new(self.key, path.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{self.base}{path}?s={signature}"

    def render(self, recipient: dict[str, Any], broadlog_id: int) -> Any:
        base = f"/campaign/t/{self.delivery_id}/{broadlog_id}"
        fields = {"first": recipient["firstName"], "last": recipient["lastName"],
                  "points": recipient["custom"].get("points", 0), "pixel": self._signed(f"{base}/open"),
                  "unsubscribe": self._signed(f"{base}/unsubscribe")}  # fmt: skip
        fields |= {f"l{n}": self._signed(f"{base}/click/{n}") for n in range(len(LINKS))}
        message = MIMEMultipart("alternative", policy=compat32)
        message["From"] = self.sender
        message["To"] = recipient["email"]
        message["Subject"] = f"{self.subject}, {recipient['firstName']}"
        message["Message-ID"] = make_msgid(f"b{broadlog_id}", domain=self.domain)
        message["X-Accord-Broadlog"] = str(broadlog_id)
        message["List-Unsubscribe"] = f"<{fields['unsubscribe']}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.attach(MIMEText(TEXT.format(**fields), "plain", "utf-8"))
        message.attach(MIMEText(HTML.format(**fields), "html", "utf-8"))
        return message


def all_recipients(engine: Any, delivery_id: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """A stand-in for the `mail` part's targeting: every recipient of the instance."""
    from sqlalchemy import select

    from accord.campaign.models import RecipientRecord

    columns = (RecipientRecord.id, RecipientRecord.external_id, RecipientRecord.email, RecipientRecord.first_name,
               RecipientRecord.last_name, RecipientRecord.phone, RecipientRecord.custom)  # fmt: skip
    with engine.database.session() as session:
        rows = session.execute(select(*columns).order_by(RecipientRecord.id)).all()
    keys = ("id", "externalId", "email", "firstName", "lastName", "phone", "custom")
    return [dict(zip(keys, row, strict=True)) for row in rows], {}


def named(reference: str) -> Any:
    import importlib

    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


OURS = """
import sys, time
sys.path.insert(0, {root!r})
def main(home, port, delivery, connections, renderer, target):
    from accord.campaign import CampaignEngine
    from accord.campaign.sending import send_delivery
    from accord.settings import Settings
    from bench.campaign import named
    settings = Settings(home=home, scheduler=False, campaign_smtp_port=int(port),
                        campaign_smtp_connections=int(connections))
    engine = CampaignEngine.open(settings)
    started = time.perf_counter()
    recipients, excluded = named(target)(engine, int(delivery))
    counts = send_delivery(engine, int(delivery), named(renderer)(engine, int(delivery)), recipients=recipients)
    seconds = time.perf_counter() - started
    engine.close()
    return {{"seconds": seconds, "counts": counts}}
"""

CEILING = """
import asyncio, sys, time
sys.path.insert(0, {root!r})
def main(home, port, delivery, connections, renderer, target):
    import aiosmtplib
    from accord.campaign import CampaignEngine
    from accord.settings import Settings
    from bench.campaign import named
    settings = Settings(home=home, scheduler=False)
    engine = CampaignEngine.open(settings)
    recipients, _ = named(target)(engine, int(delivery))
    render = named(renderer)(engine, int(delivery))
    messages = [(r["email"], render.render(r, n).as_bytes()) for n, r in enumerate(recipients, 1)]
    engine.close()
    sender = "news@shop.example"

    async def push():
        position = iter(messages)
        async def connection():
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=int(port))
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
    from sqlalchemy import insert

    from accord.campaign import CampaignEngine, initialise_engine
    from accord.campaign.models import DeliveryRecord, RecipientRecord
    from accord.settings import Settings

    settings = Settings(home=home, scheduler=False)
    initialise_engine(settings)
    engine = CampaignEngine.open(settings)
    rows = [{"external_id": f"C{n}", "email": f"person{n}@example.com", "first_name": f"First{n % 5000}",
             "last_name": f"Last{n % 20000}", "custom": {"points": n % 1000}} for n in range(recipients)]  # fmt: skip
    with engine.database.session() as session:
        for start in range(0, len(rows), 20_000):
            session.execute(insert(RecipientRecord), rows[start : start + 20_000])
        delivery = DeliveryRecord(name="winter-sale", sender="Shop <news@shop.example>", subject="Winter sale")
        session.add(delivery)
        session.flush()
        delivery_id = delivery.id
    engine.close()
    return delivery_id


def main() -> None:
    from tests.smtp_server import start_smtp

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--renderer", default="bench.campaign:TrackedRenderer")
    parser.add_argument("--target", default="bench.campaign:all_recipients")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="accord-bench-campaign-"))
    sink = start_smtp(folder / "sink")
    try:
        delivery = prepare(folder / "home", args.recipients)
        step = (str(folder / "home"), str(sink.port), str(delivery), str(args.connections), args.renderer, args.target)
        ours = run_isolated(OURS.format(root=str(ROOT)), *step)
        received = sink.count()
        sink.clear()
        ceiling = run_isolated(CEILING.format(root=str(ROOT)), *step)
        received_ceiling = sink.count()
    finally:
        sink.stop()
        shutil.rmtree(folder, ignore_errors=True)

    rate, ceiling_rate = args.recipients / ours["seconds"], args.recipients / ceiling["seconds"]
    ratio = ours["seconds"] / ceiling["seconds"]
    goals = {"at least 1,000 messages/s": rate >= 1000, "within 2x the ceiling": ratio <= 2,
             "under 500 MB": ours["peak_rss_mb"] < 500,
             "one message per recipient": received == received_ceiling == args.recipients}  # fmt: skip
    result = {
        "recipients": args.recipients, "connections": args.connections, "renderer": args.renderer,
        "ours": {"seconds": round(ours["seconds"], 2), "messagesPerSecond": round(rate), "peakRssMb":
                 ours["peak_rss_mb"], "counts": ours["counts"], "received": received},
        "ceiling": {"seconds": round(ceiling["seconds"], 2), "messagesPerSecond": round(ceiling_rate),
                    "peakRssMb": ceiling["peak_rss_mb"], "received": received_ceiling},
        "ratio": round(ratio, 2), "goals": goals,
    }  # fmt: skip
    path = write_result("campaign", result, None if args.recipients == 100_000 else f"{args.recipients} recipients")
    print(f"{args.recipients:,} messages over {args.connections} SMTP connections:")
    print(f"  send_delivery: {ours['seconds']:.1f} s ({rate:,.0f} messages/s), peak {ours['peak_rss_mb']:,.0f} MB; "
          f"the server received {received:,}")  # fmt: skip
    print(f"  ceiling (pre-rendered, bare aiosmtplib): {ceiling['seconds']:.1f} s ({ceiling_rate:,.0f} messages/s), "
          f"peak {ceiling['peak_rss_mb']:,.0f} MB; ratio {ratio:.2f}")  # fmt: skip
    print(f"goals: {goals} -> {path}")


if __name__ == "__main__":
    main()
