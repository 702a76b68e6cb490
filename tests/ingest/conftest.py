"""The ingestion tests' shared ground: a `crm` profile dataset and an `events` dataset, and helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accord import lake, schema
from accord.ingest import IngestRequest, ReadOptions, ingest_file, parse_mapping
from accord.workspace import Workspace

HEADER = "id,first,last,email,tier"
ROWS = ["1,Ann,Lee,ann@example.com,gold", "2,Bob,Ng,bob@example.com,silver", "3,Cy,Ko,cy@example.com,gold"]
MAPPING = parse_mapping(
    {
        "mappings": [
            {"source": "id", "destination": "_tenant.crmId"},
            {"source": "first", "destination": "person.name.firstName"},
            {"source": "last", "destination": "person.name.lastName"},
            {"expression": "lower(email)", "destination": "personalEmail.address"},
            {"source": "tier", "destination": "_tenant.tier"},
        ]
    }
)


@pytest.fixture
def crm(workspace: Workspace) -> Workspace:
    with workspace.catalog.session() as session:
        schema.create_field_group(
            session,
            "prod",
            {
                "name": "crm-ids",
                "classes": ["profile"],
                "fields": {
                    "_tenant": {
                        "type": "object",
                        "properties": {
                            "crmId": {"type": "string", "required": True, "maxLength": 8, "pattern": "^[0-9]+$"},
                            "tier": {"type": "string", "enum": ["gold", "silver"]},
                            "points": {"type": "integer", "minimum": 0},
                        },
                    }
                },
            },
        )
        schema.create_schema(
            session,
            "prod",
            {
                "name": "crm",
                "class": "profile",
                "fieldGroups": ["demographic-details", "personal-contact-details", "crm-ids"],
            },
        )
        lake.create_dataset(session, "prod", "crm", "crm", profile_enabled=True)
        schema.create_schema(
            session,
            "prod",
            {
                "name": "events",
                "class": "experienceevent",
                "fieldGroups": ["identitymap", "commerce-details", "web-details"],
            },
        )
        lake.create_dataset(session, "prod", "events", "events")
    return workspace


def ingest(ws: Workspace, path: Path, dataset: str = "crm", mapping: Any = MAPPING, **options: Any) -> dict[str, Any]:
    threshold = options.pop("threshold", None)
    return ingest_file(ws, "prod", IngestRequest(dataset, path, mapping, threshold, ReadOptions(**options)))


def names(ws: Workspace) -> list[str]:
    return sorted(r["person"]["name"]["firstName"] for r in lake.preview(ws, "prod", "crm", 1000))


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def errors(ws: Workspace, batch: dict[str, Any]) -> list[dict[str, Any]]:
    return list(lake.batch_errors(ws, "prod", batch["id"]))


def assert_refused(ws: Workspace, error: type[Exception], message: str, path: Path, **options: Any) -> None:
    before = names(ws)
    with pytest.raises(error) as caught:
        ingest(ws, path, **options)
    assert message in str(caught.value), str(caught.value)
    assert names(ws) == before
    with ws.catalog.session() as session:
        batch = lake.list_batches(session, "prod", "crm", 1)[0]
    assert batch["status"] == "failed" and batch["errors"][0]["code"] == caught.value.code  # type: ignore[attr-defined]
