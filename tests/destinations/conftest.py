"""Fixtures of the destinations tests: every file destination on its real server, accounts made and opened as
the CLI and API make them, people in Paris and elsewhere (profiles built, audiences evaluated) to activate,
real HTTP receivers on 127.0.0.1, and streaming destinations made from declared documents (with short
waits, so that tries and dead letters come quickly)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from accord import destinations, lake, profile, schema, segment, sources
from accord.access import AllowedRoots
from accord.destinations import Destination, ExportFile
from accord.destinations.spec import ProfileRow
from accord.destinations.streaming.declared import DeclaredDestination, declared_destination_class
from accord.destinations.streaming.documents import parse_document
from accord.ingest import IngestRequest, ingest_file, parse_mapping
from accord.sources import CheckStep, SecretBox
from accord.workspace import Workspace
from tests.destinations.stores import CASES, Case
from tests.http_receiver import HttpReceiver

FILE_DESTINATIONS = [spec.id for spec in destinations.list_destinations() if spec.files is not None]
"""Every destination of the registry that takes batch files."""


@pytest.fixture(params=FILE_DESTINATIONS)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    """Each file destination in turn, on a store of the test's own at its real server."""
    if request.param not in CASES:
        pytest.fail(f"file destination {request.param!r} has no case in tests/destinations/stores.py: add one")
    return CASES[request.param](request, tmp_path)


def open_account(workspace: Workspace, destination: str, config: dict[str, Any]) -> Any:
    """A new account of `destination` (secrets sealed in the catalog), opened again from what was stored."""
    roots = AllowedRoots.from_settings(workspace.settings)
    box = SecretBox(workspace.settings.home)
    with workspace.catalog.session() as session:
        name = f"{destination}-{secrets.token_hex(4)}"
        record = destinations.create_account(session, box, "prod", name, destination, config, roots)
        opened: Destination[Any] = destinations.open_destination(record, box, roots)
    return opened


def export_file(folder: Path, name: str, content: bytes) -> ExportFile:
    """A finished file of an activation run, on local disk, to be put under `name`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(6)}.out"
    path.write_bytes(content)
    return ExportFile(path=path, name=name, rows=content.count(b"\n"), size=len(content))


def failed_step(steps: list[CheckStep]) -> tuple[str, str]:
    """The step a test stopped at (the last) as (name, message); the test must have failed there."""
    assert steps and not steps[-1].ok and all(s.ok for s in steps[:-1]), steps
    assert steps[-1].hint, steps[-1]  # a failure always says what to do
    return steps[-1].name, steps[-1].message


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
    register_people(workspace)
    ingest_people(workspace, tmp_path, PEOPLE)
    evaluate(workspace)
    return workspace


def register_people(workspace: Workspace) -> None:
    """The CRM schema (CRMID, Email, consents), its profile dataset and the audience `parisians`."""
    with workspace.catalog.session() as s:
        schema.create_field_group(s, "prod", {"name": "ids", "classes": ["profile"], "fields": {
            "_tenant": {"type": "object", "properties": {"crmId": {"type": "string"}}}}})  # fmt: skip
        schema.create_schema(s, "prod", {"name": "crm", "class": "profile", "fieldGroups": [
            "demographic-details", "personal-contact-details", "consents-and-preferences", "ids"],
            "identities": [{"path": "_tenant.crmId", "namespace": "CRMID", "primary": True},
                           {"path": "personalEmail.address", "namespace": "Email"}]})  # fmt: skip
        lake.create_dataset(s, "prod", "crm", "crm", profile_enabled=True)
        segment.create_segment(s, "prod", {"name": "parisians", "expression": {"value": PARISIANS}})


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


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver()
    yield server
    server.stop()


@pytest.fixture
def receivers() -> Iterator[Callable[[], HttpReceiver]]:
    """Start as many receivers as a test asks for; all are stopped after it."""
    started: list[HttpReceiver] = []

    def start() -> HttpReceiver:
        started.append(HttpReceiver())
        return started[-1]

    yield start
    for server in started:
        server.stop()


def document(**changes: Any) -> dict[str, Any]:
    """A declared destination that posts profiles as JSON, with quick tries (3, from 50 ms)."""
    base: dict[str, Any] = {
        "id": "test-http",
        "name": "Test HTTP",
        "exportType": "profile",
        "url": "{{ config.url }}/profiles",
        "body": '{"flow": {{ flow.name | tojson }}, "profiles": {{ profiles | tojson }}}',
        "config": [{"name": "url", "format": "url"}],
        "retry": {"attempts": 3, "initialWaitSeconds": 0.05, "maxWaitSeconds": 0.2},
        "aggregation": {"maxProfilesPerRequest": 10, "maxBatchAgeSeconds": 0.2},
        "limits": {"requestsInFlight": 2, "failuresToOpen": 100},
    }
    return base | changes


def destination(doc: dict[str, Any] | None = None, **config: Any) -> DeclaredDestination:
    """An account's destination object of a declared document, configured with `config` (timeouts short)."""
    cls = declared_destination_class(parse_document(doc or document()))
    model = cls.spec.config.model_validate({"timeoutSeconds": 2, **config})
    return cls(model)


def rows(count: int, start: int = 0, segment: str = "s1", status: str = "realized") -> list[ProfileRow]:
    return [
        {
            "profileId": str(start + i),
            "attributes": {"firstName": f"Name{start + i}"},
            "identities": {"Email": [f"p{start + i}@example.com"]},
            "segments": {segment: {"name": "Segment one", "status": status}},  # type: ignore[typeddict-item]
        }
        for i in range(count)
    ]


def delivered_ids(server: HttpReceiver, path: str = "/profiles") -> list[str]:
    """Profile ids in the order the receiver got them whole, from the bodies of its complete requests."""
    return [p["profileId"] for r in server.requests(path) if r.status == 200 for p in r.json()["profiles"]]
