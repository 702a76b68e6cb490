"""The demo's streaming ingestion: web events for one customer come in through an inlet, one message each."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from accord.workspace import Workspace

EVENTS = 200
PAGES = ["home", "shoes", "shirts", "cart", "account"]


def stream_events(workspace: Workspace, token: str, say: Callable[..., Any]) -> dict[str, Any]:
    """Make an inlet on the web events, send it messages as `POST /collection/batch/{id}` would (the same
    checks and log, with the home's token), process them, and show the customer's profile with them."""
    from accord import streaming
    from accord.profile import get_profile

    with workspace.catalog.session() as session:
        inlet = streaming.create_inlet(session, "prod", "web", "web-events")
    before = get_profile(workspace, "prod", "CRMID", "C0000001", events_limit=1)["events"]["total"]
    ecid = f"{1:019d}{7919:019d}"  # the demo's web cookie of customer C0000001 (see `generate.web_events`)
    now = datetime.now(UTC)
    service = streaming.StreamingService(workspace)
    try:
        answers = []
        for first in range(0, EVENTS, 100):
            messages = [_message(n, ecid, now) for n in range(first, first + 100)]
            body = json.dumps({"messages": messages}).encode()
            answers += service.collect(inlet["id"], token, None, body, batch=True)["responses"]
        taken = service.process_now()
        figures = service.stats()
    finally:
        service.stop()
    after = get_profile(workspace, "prod", "CRMID", "C0000001", events_limit=1)
    accepted = sum(1 for a in answers if a["status"] == 200)
    p50 = figures["endToEndSeconds"]["p50"]
    say(f"15. streaming ingestion: inlet web took {accepted:,} web events of customer C0000001 (two batches to "
        f"/collection/batch/{inlet['id'][:8]}…), the processor put {taken:,} into the lake in "
        f"{figures['batches']} micro-batch(es) (median {p50} s from answer to done); the profile now has "
        f"{after['events']['total']:,} events, {before:,} before, read from the {after['readFrom']}")  # fmt: skip
    return {"inlet": inlet, "accepted": accepted, "processed": taken, "eventsBefore": before,
            "eventsAfter": after["events"]["total"], "stats": figures}  # fmt: skip


def _message(n: int, ecid: str, now: datetime) -> dict[str, Any]:
    entity = {"_id": f"stream-{n}", "eventType": "web.webpagedetails.pageViews",
              "timestamp": (now - timedelta(seconds=EVENTS - n)).isoformat(),
              "identityMap": {"ECID": [{"id": ecid, "primary": True}]},
              "web": {"webPageDetails": {"name": PAGES[n % len(PAGES)]}}}  # fmt: skip
    return {"header": {"msgId": f"stream-{n}"}, "body": {"xdmEntity": entity}}
