"""A small shop with customers and their events, its profiles built."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from accord import lake, profile, schema
from accord.ingest import IngestRequest, ingest_file, parse_mapping
from accord.workspace import Workspace

NOW = datetime.now(UTC)
MAPPING = parse_mapping({"mappings": [
    {"source": "crm", "destination": "_tenant.crmId"}, {"source": "crm", "destination": "_id"},
    {"source": "first", "destination": "person.name.firstName"}, {"source": "city", "destination": "homeAddress.city"},
    {"source": "email_ok", "destination": "consents.marketing.email.val"},
]})  # fmt: skip


def event(n: int, crm: str, kind: str, ago: timedelta, price: float | None = None) -> dict[str, Any]:
    return {"_id": f"e{n}", "timestamp": (NOW - ago).isoformat(), "eventType": kind,
            "identityMap": {"CRMID": [{"id": crm}]},
            **({"commerce": {"order": {"priceTotal": price}}} if price is not None else {})}  # fmt: skip


@pytest.fixture
def shop(workspace: Workspace, tmp_path: Path) -> Workspace:
    with workspace.catalog.session() as s:
        schema.create_field_group(s, "prod", {"name": "ids", "classes": ["profile"], "fields": {
            "_tenant": {"type": "object", "properties": {"crmId": {"type": "string"}}}}})  # fmt: skip
        schema.create_schema(s, "prod", {"name": "crm", "class": "profile", "fieldGroups": [
            "demographic-details", "personal-contact-details", "consents-and-preferences", "ids"],
            "identities": [{"path": "_tenant.crmId", "namespace": "CRMID"}]})  # fmt: skip
        lake.create_dataset(s, "prod", "crm", "crm", profile_enabled=True)
        schema.create_schema(s, "prod", {"name": "web", "class": "experienceevent",
                                         "fieldGroups": ["identitymap", "commerce-details"]})  # fmt: skip
        lake.create_dataset(s, "prod", "web", "web", profile_enabled=True)
    (tmp_path / "crm.csv").write_text("crm,first,city,email_ok\nC1,Ann,Paris,y\nC2,Bob,Oslo,n\nC3,Cid,Paris,y\n")
    ingest_file(workspace, "prod", IngestRequest("crm", tmp_path / "crm.csv", MAPPING))
    events = [
        event(1, "C1", "commerce.purchases", timedelta(days=2), 120.0),
        event(2, "C1", "commerce.purchases", timedelta(days=3), 80.0),
        event(3, "C2", "commerce.purchases", timedelta(days=40), 500.0),
        event(4, "C3", "commerce.productViews", timedelta(hours=5)),
        event(5, "C2", "commerce.productViews", timedelta(hours=3)),
        event(6, "C2", "commerce.purchases", timedelta(hours=2), 10.0),
    ]
    (tmp_path / "web.json").write_text("\n".join(json.dumps(e) for e in events))
    ingest_file(workspace, "prod", IngestRequest("web", tmp_path / "web.json"))
    profile.rebuild(workspace, "prod")
    return workspace
