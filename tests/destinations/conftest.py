"""People in Paris and elsewhere, their profiles built and audiences evaluated, and a folder to activate them to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accord import destinations, lake, profile, schema, segment, sources
from accord.access import AllowedRoots
from accord.ingest import IngestRequest, ingest_file, parse_mapping
from accord.workspace import Workspace

MAPPING = parse_mapping({"mappings": [
    {"source": "crm", "destination": "_tenant.crmId"}, {"source": "crm", "destination": "_id"},
    {"source": "first", "destination": "person.name.firstName"}, {"source": "city", "destination": "homeAddress.city"},
    {"expression": "lower(email)", "destination": "personalEmail.address"},
    {"source": "consent", "destination": "consents.marketing.email.val"},
]})  # fmt: skip
PEOPLE = (
    "crm,first,email,city,consent\n"
    "C1,Ann,ann@example.com,Paris,y\n"
    "C2,Bob,bob@example.com,Paris,n\n"  # refused e-mail: left out when the flow's channel is e-mail
    "C3,Cid,,Paris,y\n"  # no e-mail: left out when e-mail is mandatory
    "C4,Dee,dee@example.com,Oslo,y\n"  # not in Paris
    "C5,Eve,eve@example.com,Paris,\n"
    "C7,Ann,ann.other@example.com,Paris,y\n"  # another Ann of Paris: a duplicate by first name and city
)
PARISIANS = 'homeAddress.city = "Paris"'
FLOW: dict[str, Any] = {
    "audiences": [{"segment": "parisians"}],
    "mapping": [
        {"source": "person.name.firstName", "target": "first_name"},
        {"source": "identityMap.Email", "target": "email"},
        {"source": "homeAddress.city", "target": "city"},
    ],
}


def ingest_people(workspace: Workspace, folder: Path, text: str, name: str = "people.csv") -> None:
    (folder / name).write_text(text)
    batch = ingest_file(workspace, "prod", IngestRequest("crm", folder / name, MAPPING))
    assert batch["status"] == "success", batch


def evaluate(workspace: Workspace) -> None:
    """Profiles rebuilt and every audience evaluated, as after a day's data."""
    profile.rebuild(workspace, "prod")
    segment.run_job(workspace, "prod")


@pytest.fixture
def people(workspace: Workspace, tmp_path: Path) -> Workspace:
    with workspace.catalog.session() as s:
        schema.create_field_group(s, "prod", {"name": "ids", "classes": ["profile"], "fields": {
            "_tenant": {"type": "object", "properties": {"crmId": {"type": "string"}}}}})  # fmt: skip
        schema.create_schema(s, "prod", {"name": "crm", "class": "profile", "fieldGroups": [
            "demographic-details", "personal-contact-details", "consents-and-preferences", "ids"],
            "identities": [{"path": "_tenant.crmId", "namespace": "CRMID", "primary": True},
                           {"path": "personalEmail.address", "namespace": "Email"}]})  # fmt: skip
        lake.create_dataset(s, "prod", "crm", "crm", profile_enabled=True)
        segment.create_segment(s, "prod", {"name": "parisians", "expression": {"value": PARISIANS}})
    ingest_people(workspace, tmp_path, PEOPLE)
    evaluate(workspace)
    return workspace


@pytest.fixture
def outbox(people: Workspace, tmp_path: Path) -> Path:
    """A folder among the operator's allowed roots, and a local destination account `outbox` writing into it."""
    folder = tmp_path / "outbox"
    folder.mkdir(parents=True)
    with people.catalog.session() as s:
        destinations.create_account(s, sources.SecretBox(people.settings.home), "prod", "outbox", "local",
                                    {"root": str(folder)}, AllowedRoots.from_settings(people.settings))  # fmt: skip
    return folder


def create_flow(workspace: Workspace, name: str, document: dict[str, Any], account: str = "outbox") -> None:
    with workspace.catalog.session() as s:
        destinations.create_flow(s, "prod", name, account, document)
