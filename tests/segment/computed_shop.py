"""The shop computed attributes are tested on: five people (C5 without events) and random events over 120 days,
with a plain computation of each function to compare with."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from accord import lake, profile, schema, segment
from accord.ingest import IngestRequest, ingest_file, parse_mapping
from accord.workspace import Workspace

NOW = datetime.now(UTC).replace(microsecond=0)
PEOPLE = ["C1", "C2", "C3", "C4", "C5"]  # C5 has no events at all
KINDS = ["commerce.purchases", "commerce.productViews", "web.webpagedetails.pageViews"]
MAPPING = parse_mapping({"mappings": [
    {"source": "crm", "destination": "_tenant.crmId"}, {"source": "crm", "destination": "_id"},
    {"source": "city", "destination": "homeAddress.city"},
]})  # fmt: skip


def seeded_events() -> list[dict[str, Any]]:
    """Random events of C1..C4 over the last 120 days (some in the future, some at the same moment), with
    and without a price, and events exactly on the 7-day lookback's edges."""
    draw = random.Random(15)
    events = []
    for n in range(160):
        crm = draw.choice(PEOPLE[:4])
        ago = timedelta(seconds=draw.randint(-3600, 120 * 86400))
        price = draw.choice([None, round(draw.uniform(1, 300), 2), float(draw.randint(1, 9))])
        events.append(_event(n, crm, draw.choice(KINDS), NOW - ago, price))
    events.append(_event(900, "C1", "commerce.purchases", NOW - timedelta(days=7), 1000.0))  # on the edge: in
    events.append(_event(901, "C1", "commerce.purchases", NOW - timedelta(days=7, seconds=1), 2000.0))  # out
    events.append(_event(902, "C2", "commerce.purchases", NOW - timedelta(days=1), 7.0))  # the same moment:
    events.append(_event(903, "C2", "commerce.purchases", NOW - timedelta(days=1), 9.0))  # the greatest is latest
    return events


def _event(n: int, crm: str, kind: str, at: datetime, price: float | None) -> dict[str, Any]:
    return {"_id": f"e{n}", "timestamp": at.isoformat(), "eventType": kind, "identityMap": {"CRMID": [{"id": crm}]},
            **({"commerce": {"order": {"priceTotal": price}}} if price is not None else {})}  # fmt: skip


EVENTS = seeded_events()


def build_shop(workspace: Workspace, tmp_path: Path) -> Workspace:
    """The shop's schemas, datasets, people and events ingested, profiles built."""
    with workspace.catalog.session() as s:
        schema.create_field_group(s, "prod", {"name": "ids", "classes": ["profile"], "fields": {
            "_tenant": {"type": "object", "properties": {"crmId": {"type": "string"}}}}})  # fmt: skip
        schema.create_schema(s, "prod", {"name": "crm", "class": "profile", "fieldGroups": [
            "demographic-details", "personal-contact-details", "ids"],
            "identities": [{"path": "_tenant.crmId", "namespace": "CRMID", "primary": True}]})  # fmt: skip
        lake.create_dataset(s, "prod", "crm", "crm", profile_enabled=True)
        schema.create_schema(s, "prod", {"name": "web", "class": "experienceevent",
                                         "fieldGroups": ["identitymap", "commerce-details"]})  # fmt: skip
        lake.create_dataset(s, "prod", "web", "web", profile_enabled=True)
    (tmp_path / "crm.csv").write_text("crm,city\n" + "".join(f"{c},Paris\n" for c in PEOPLE))
    ingest_file(workspace, "prod", IngestRequest("crm", tmp_path / "crm.csv", MAPPING))
    (tmp_path / "web.json").write_text("\n".join(json.dumps(e) for e in EVENTS))
    ingest_file(workspace, "prod", IngestRequest("web", tmp_path / "web.json"))
    profile.rebuild(workspace, "prod")
    return workspace


def create(workspace: Workspace, name: str, value: str, count: int = 30, unit: str = "DAYS", **more: Any) -> None:
    with workspace.catalog.session() as s:
        segment.create_computed_attribute(s, "prod", {"name": name, "expression": {"value": value},
                                                      "duration": {"count": count, "unit": unit}, **more})  # fmt: skip


def expected(crm: str, function: str, days: float, kind: str | None = None) -> Any:
    """The plain computation: the person's events within [now - days, now] (of a kind), then the function."""
    chosen = [e for e in EVENTS if e["identityMap"]["CRMID"][0]["id"] == crm
              and NOW - timedelta(days=days) <= datetime.fromisoformat(e["timestamp"]) <= NOW
              and (kind is None or e["eventType"] == kind)]  # fmt: skip
    if function == "count":
        return len(chosen)
    priced = [(datetime.fromisoformat(e["timestamp"]), e["commerce"]["order"]["priceTotal"]) for e in chosen
              if "commerce" in e]  # fmt: skip
    values = [v for _, v in priced]
    if function == "sum":
        return sum(values)
    if not values:
        return None
    return {"avg": lambda: sum(values) / len(values), "min": lambda: min(values), "max": lambda: max(values),
            "mostRecent": lambda: max(priced)[1], "first": lambda: min(priced)[1]}[function]()  # fmt: skip


def values_of(workspace: Workspace, crm: str) -> dict[str, Any]:
    found = profile.get_profile(workspace, "prod", "CRMID", crm)
    return {a["name"]: a["value"] for a in found["computedAttributes"]}


def spend_flow(workspace: Workspace, folder: Path) -> Path:
    """An activation flow `spenders` of the Parisians to a local folder, mapping the computed attribute `spend`
    (made by the caller) beside the CRM id: the CSV file it writes."""
    from accord import destinations, sources
    from accord.access import AllowedRoots
    from accord.segment.computed_values import attribute_path

    folder.mkdir()
    with workspace.catalog.session() as s:
        segment.create_segment(s, "prod", {"name": "all", "expression": {"value": 'homeAddress.city = "Paris"'}})
        destinations.create_account(s, sources.SecretBox(workspace.settings.home), "prod", "outbox", "local",
                                    {"root": str(folder)}, AllowedRoots.from_settings(workspace.settings))  # fmt: skip
        destinations.create_flow(s, "prod", "spenders", "outbox", {
            "audiences": [{"segment": "all"}], "file": {"nameTemplate": "spend"},
            "mapping": [{"source": "identityMap.CRMID", "target": "crm"},
                        {"source": attribute_path("spend"), "target": "spend"}]})  # fmt: skip
    return folder / "spend.csv"
