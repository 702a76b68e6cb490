"""The demo's campaign loop: the newsletter audience to the home's campaign instance and back.

Connect the instance (both directions), activate the audience to it, import it into recipients and a
list, mail it through an SMTP server the demo starts on 127.0.0.1 (a sink that keeps what it is sent),
open and click some of the messages and unsubscribe two recipients through the tracking endpoint of an
API the demo serves, export the logs, ingest them with the CDP's dataflows, rebuild the profiles, and
count who clicked: the engagement audience."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from typing import Any

import httpx

from accord import campaign, destinations, profile, segment, sources
from accord.campaign.connect import Instance, connect
from accord.campaign.imports import audience_loads, import_audiences
from accord.campaign.logs import export_logs

AUDIENCE = "opted-in newsletter readers"
ENGAGED = "clicked a campaign e-mail in the last 7 days"
ENGAGED_PQL = ('xEvent[eventType = "message.tracking" and _experience.campaign.tracking.urlType = "click" '
               "and timestamp occurs <= 7 days before now].exists()")  # fmt: skip
FLOW = {
    "audiences": [{"segment": AUDIENCE}],
    "mapping": [
        {"source": "identityMap.CRMID", "target": "externalId"},
        {"source": "identityMap.Email", "target": "email"},
        {"source": "person.name.firstName", "target": "firstName"},
        {"source": "person.name.lastName", "target": "lastName"},
        {"source": "_tenant.loyalty.tier", "target": "tier"},
    ],
    "mandatory": ["externalId", "email"],
    # the audience's name for people, its id for the import workflow (a list per audience id)
    "file": {"nameTemplate": "%SEGMENT_NAME%_segment%SEGMENT_ID%_%DATETIME(yyyyMMddHHmmss)%"},
}
TEMPLATE = {
    "subject": "{{ recipient.firstName }}, our spring selection",
    "html": '<p>Hello {{ recipient.firstName }},</p><p>Our <a href="https://shop.example/spring">spring '
    "selection</a> is out{% if recipient.custom.tier %}, with a gift for {{ recipient.custom.tier }} members"
    "{% endif %}.</p>",
    "text": "Hello {{ recipient.firstName }}, our spring selection is out: https://shop.example/spring",
}


class _Sink:
    """An SMTP server's handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 2.0.0 OK kept"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _smtp_sink() -> Iterator[tuple[int, _Sink]]:
    from aiosmtpd.controller import Controller

    handler = _Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


@contextmanager
def _tracking_server(settings: Any) -> Iterator[str]:
    """The campaign engine's routes on 127.0.0.1: the tracking endpoint the messages' links reach."""
    with serving(settings, campaign_only=True) as base:
        yield base


@contextmanager
def serving(settings: Any, campaign_only: bool = False) -> Iterator[str]:
    """The API (with the web workspace, unless `campaign_only`) on 127.0.0.1, in a thread of this process."""
    import uvicorn

    from accord.api import create_app

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    # no schedules and no followers: the demo runs each step itself
    app = create_app(settings.model_copy(update={"scheduler": False}), campaign_only=campaign_only)
    server = uvicorn.Server(uvicorn.Config(app, log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="demo-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()


def campaign_loop(workspace: Any, say: Callable[..., None]) -> dict[str, Any]:
    """Run the loop on the demo's home; what happened at each step, with counts."""
    settings = workspace.settings
    engine = campaign.CampaignEngine.open(settings)
    made = connect(workspace, "prod", Instance(name=engine.name, landing=str(engine.landing), logs=str(engine.logs)))
    with workspace.catalog.session() as session:
        segment.create_segment(session, "prod", {"name": ENGAGED, "expression": {"value": ENGAGED_PQL}})
        destinations.create_flow(session, "prod", "newsletter-to-campaign", made["destinationAccount"], FLOW)
        audience_id = segment.find_segment(session, "prod", AUDIENCE).id
    say(f"9. campaign instance {engine.name!r} connected: {len(made['created'])} objects made (a destination account, "
        "3 schemas, 3 datasets, a connection and 3 dataflows for its logs)")  # fmt: skip
    out = destinations.run_activation(workspace, "prod", "newsletter-to-campaign")
    imported = import_audiences(engine)
    [load] = audience_loads(engine, run_id=imported["id"]) or [{"loaded": 0, "inserted": 0, "rejected": 0,
                                                                "list": "-", "rejects": []}]  # fmt: skip
    why = ", ".join(sorted({r["reason"] for r in load["rejects"]})) or "none"
    say(f"10. audience {AUDIENCE!r}: {out['audiences'][0]['rows']:,} rows to the instance's landing folder; the import "
        f"workflow loaded {load['loaded']:,}, inserted {load['inserted']:,} recipients, rejected {load['rejected']:,}"
        f" ({why}) into the list {load['list']!r}")  # fmt: skip
    with _smtp_sink() as (port, sink), _tracking_server(settings) as base:
        sending = campaign.CampaignEngine.open(settings.model_copy(update={
            "campaign_public_url": base, "campaign_smtp_host": "127.0.0.1", "campaign_smtp_port": port,
            "campaign_smtp_starttls": "never"}))  # fmt: skip
        try:
            delivery = campaign.create_delivery(sending, "spring-newsletter", sender="Demo shop <news@shop.example>",
                                                target={"audience": audience_id}, campaign_id="SPRING",
                                                campaign_name="Spring newsletter", **TEMPLATE)  # fmt: skip
            sent = campaign.send_delivery(sending, delivery["id"])
        finally:
            sending.close()
        say(f"11. delivery 'spring-newsletter' sent through a local SMTP server: {sent['sent']:,} messages sent "
            f"({len(sink.messages):,} received by the server), {sent['failed']:,} failed, in {sent['seconds']} s; each "
            "with an open pixel, signed links and List-Unsubscribe headers")  # fmt: skip
        acted = _act(base, sink.messages)
    say(f"12. recipients act over HTTP: {acted['opened']:,} opened, {acted['clicked']:,} clicked, "
        f"{acted['unsubscribed']} unsubscribed in one click")  # fmt: skip
    exported = export_logs(engine, settle_seconds=0)
    ingested = {flow: sources.run_dataflow(workspace, "prod", flow) for flow in made["dataflows"]}
    rebuilt = profile.rebuild(workspace, "prod")
    job = segment.run_job(workspace, "prod")
    engaged = job["counts"][ENGAGED]["qualified"]
    say(f"13. logs back: {exported['deliveryLogs']:,} delivery and {exported['trackingLogs']:,} tracking log rows and "
        f"{exported['consents']} consent changes exported, ingested by "
        + ", ".join(f"{name.removeprefix('campaign-default-')} {run['recordsIngested']:,}"
                    for name, run in ingested.items())
        + f"; profiles rebuilt ({rebuilt['profiles']['profiles']:,}); audience {ENGAGED!r}: {engaged:,} profiles "
        f"(the {acted['clicked']:,} who clicked)")  # fmt: skip
    again = destinations.run_activation(workspace, "prod", "newsletter-to-campaign")
    import_audiences(engine)
    members = len(campaign.list_member_ids(engine, load["list"])) if load["list"] != "-" else 0
    say(f"14. next activation: {again['audiences'][0]['rows']:,} rows; those who unsubscribed now refuse e-mail "
        f"(consent n) and left the audience; the list holds {members:,} recipients")  # fmt: skip
    engine.close()
    return {"connect": made, "activation": out, "import": load, "delivery": sent, "tracking": acted,
            "logs": exported, "dataflows": {k: v["recordsIngested"] for k, v in ingested.items()},
            "engaged": engaged, "nextActivation": again, "listMembers": members}  # fmt: skip


def _act(base: str, messages: list[tuple[list[str], bytes]]) -> dict[str, int]:
    """A third of the recipients open their message, every fifth clicks its link, two unsubscribe."""
    counts = {"opened": 0, "clicked": 0, "unsubscribed": 0}
    ordered = sorted(messages, key=lambda m: m[0][0])
    with httpx.Client(timeout=10) as browser:
        for n, (_to, data) in enumerate(ordered):
            message = message_from_bytes(data, policy=policy.default)
            html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
            links = re.findall(r'(?:href|src)="([^"]+/campaign/t/[oc]/[^"]+)"', html)
            if n % 3 == 0 and any("/t/o/" in link for link in links):
                browser.get(next(link for link in links if "/t/o/" in link))
                counts["opened"] += 1
            if n % 5 == 0 and any("/t/c/" in link for link in links):
                browser.get(next(link for link in links if "/t/c/" in link))
                counts["clicked"] += 1
            if n in (1, 2):
                found = re.search(r"<(http[^>]+)>", str(message["List-Unsubscribe"]))
                if found and browser.post(found.group(1), content=b"List-Unsubscribe=One-Click", headers={
                        "content-type": "application/x-www-form-urlencoded"}).status_code == 200:  # fmt: skip
                    counts["unsubscribed"] += 1
    return counts
