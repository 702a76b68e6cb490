"""Fixtures and helpers of the sources tests: a workspace with a CRM dataset, connections, flows."""

from __future__ import annotations

from typing import Any

import pytest

from accord import lake, schema, sources
from accord.access import AllowedRoots
from accord.sources import SecretBox
from accord.workspace import Workspace


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    with workspace.catalog.session() as session:
        schema.create_field_group(
            session,
            "prod",
            {
                "name": "ids",
                "classes": ["profile"],
                "fields": {
                    "_tenant": {"type": "object", "properties": {"crmId": {"type": "string", "required": True}}}
                },
            },
        )
        schema.create_schema(
            session,
            "prod",
            {
                "name": "crm",
                "class": "profile",
                "fieldGroups": ["demographic-details", "personal-contact-details", "ids"],
            },
        )
        lake.create_dataset(session, "prod", "crm", "crm")
    return workspace


MAPPING = {
    "mappings": [
        {"source": "id", "destination": "_tenant.crmId"},
        {"source": "first", "destination": "person.name.firstName"},
        {"expression": "lower(email)", "destination": "personalEmail.address"},
    ]
}


def box(ws: Workspace) -> SecretBox:
    return SecretBox(ws.settings.home)


def connect(ws: Workspace, name: str, connector: str, config: dict[str, Any]) -> None:
    with ws.catalog.session() as session:
        sources.create_connection(
            session, box(ws), "prod", name, connector, config, AllowedRoots.from_settings(ws.settings)
        )


def check(ws: Workspace, name: str) -> dict[str, Any]:
    """A connection test, as the CLI and API run it (with the operator's allowed roots)."""
    with ws.catalog.session() as session:
        return sources.test_connection(session, box(ws), "prod", name, AllowedRoots.from_settings(ws.settings))


def flow(ws: Workspace, **document: Any) -> None:
    with ws.catalog.session() as session:
        sources.create_dataflow(session, "prod", {"dataset": "crm", "mapping": MAPPING, **document})


def run(ws: Workspace, name: str) -> dict[str, Any]:
    return sources.run_dataflow(ws, "prod", name)


def firsts(ws: Workspace) -> list[str]:
    return sorted(r["person"]["name"]["firstName"] for r in lake.preview(ws, "prod", "crm", 1000))
