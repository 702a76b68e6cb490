"""Identities named as users type them (lookups, explanations, removals), phone forms, who removed what and when."""

from __future__ import annotations

import getpass
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord import identity, lake, profile, schema
from accord.access import create_token
from accord.errors import NotFoundError
from accord.ingest import IngestRequest, ingest_file, parse_mapping
from accord.workspace import Workspace

MAPPING = parse_mapping({"mappings": [
    {"source": "crm", "destination": "_tenant.crmId"},
    {"source": "email", "destination": "personalEmail.address"},
    {"source": "phone", "destination": "mobilePhone.number"},
    {"source": "e164", "destination": "homePhone.number"},
    {"source": "first", "destination": "person.name.firstName"},
]})  # fmt: skip
OFFSET = re.compile(r"T\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


def create_crm(ws: Workspace) -> None:
    with ws.catalog.session() as s:
        schema.create_field_group(s, "prod", {"name": "ids", "classes": ["profile"], "fields": {
            "_tenant": {"type": "object", "properties": {"crmId": {"type": "string"}}}}})  # fmt: skip
        groups = ["demographic-details", "personal-contact-details", "ids"]
        schema.create_schema(s, "prod", {"name": "crm", "class": "profile", "fieldGroups": groups, "identities": [
            {"path": "_tenant.crmId", "namespace": "CRMID", "primary": True},
            {"path": "personalEmail.address", "namespace": "Email"},
            {"path": "mobilePhone.number", "namespace": "Phone"},
            {"path": "homePhone.number", "namespace": "Phone_E164"}]})  # fmt: skip
        lake.create_dataset(s, "prod", "crm", "crm", profile_enabled=True)
        schema.create_schema(s, "prod", {"name": "web", "class": "experienceevent", "fieldGroups": ["identitymap"]})
        lake.create_dataset(s, "prod", "web", "web", profile_enabled=True)


def ingest_people(ws: Workspace, folder: Path, rows: list[str], threshold: float = 0) -> dict[str, Any]:
    path = folder / "crm.csv"
    path.write_text("crm,email,phone,e164,first\n" + "\n".join(rows) + "\n")
    return ingest_file(ws, "prod", IngestRequest("crm", path, MAPPING, threshold))


@pytest.fixture(params=["store", "lake"])
def boris(workspace: Workspace, tmp_path: Path, request: pytest.FixtureRequest) -> Workspace:
    """Boris in the CRM, and an event whose identityMap names his e-mail with capitals and a space."""
    create_crm(workspace)
    ingest_people(workspace, tmp_path, ["C7,Boris.Nakamura@inbox.example.net,+1 555 010 2000,,Boris"])
    shouting = {"Email": [{"id": " Boris.Nakamura@INBOX.example.NET"}], "ECID": [{"id": "5" * 38}]}
    event = {"_id": "e1", "timestamp": "2026-01-01T00:00:00Z", "identityMap": shouting}
    (tmp_path / "web.json").write_text(json.dumps(event) + "\n")
    ingest_file(workspace, "prod", IngestRequest("web", tmp_path / "web.json"))
    if request.param == "store":
        profile.rebuild(workspace, "prod")
    else:
        identity.build_graph(workspace, "prod")
    return workspace


def test_profiles_graphs_and_explanations_find_values_as_users_type_them(boris: Workspace) -> None:
    by_email = profile.get_profile(boris, "prod", "Email", "Boris.Nakamura@INBOX.EXAMPLE.NET")
    assert by_email["attributes"]["person"]["name"]["firstName"] == "Boris"
    assert by_email["identity"] == {"namespace": "Email", "id": "boris.nakamura@inbox.example.net"}
    # the event's identityMap e-mail is the same identity: it joined Boris' graph, with its cookie
    assert by_email["events"]["total"] == 1
    assert ("ECID", "5" * 38) in {(i["namespace"], i["id"]) for i in by_email["identities"]}
    by_phone = profile.get_profile(boris, "prod", "Phone", "+1 (555) 010-2000")
    assert by_phone["graphId"] == by_email["graphId"]
    graph = identity.graph_of(boris, "prod", "Email", "  BORIS.nakamura@inbox.example.net")
    assert graph["graphId"] == by_email["graphId"] and graph["primary"] == {"namespace": "CRMID", "id": "C7"}
    chain = identity.explain(boris, "prod", ("Phone", "+1 555.010.2000"), ("Email", "Boris.Nakamura@Inbox.Example.Net"))
    assert chain["sameGraph"]


def test_a_lookup_that_finds_nothing_says_why(boris: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no identity namespace 'Emial'; did you mean Email"):
        profile.get_profile(boris, "prod", "Emial", "boris.nakamura@inbox.example.net")
    with pytest.raises(NotFoundError) as refused:
        profile.get_profile(boris, "prod", "Phone", "555 010 x12")
    assert refused.value.message == (
        "no profile holds Phone:555010x12 (typed as '555 010 x12'): '555 010 x12' is not a valid Phone identity "
        "(an optional + and 6 to 20 digits, once spaces, dots, dashes, slashes and brackets are removed; no letters)"
    )
    with pytest.raises(NotFoundError, match=r"no identity Email:nobody@x\.io \(typed as 'Nobody@X\.io'\) in any graph"):
        identity.graph_of(boris, "prod", "Email", "Nobody@X.io")


def test_phone_forms_at_ingestion(workspace: Workspace, tmp_path: Path) -> None:
    create_crm(workspace)
    batch = ingest_people(workspace, tmp_path, [
        "C1,,[555] 010 3001,+44 (20) 7946-0958,",  # square brackets are separators too
        "C2,,555/010.3002,,",
        "C3,,555 010 x12,,",  # letters: an extension
        "C4,,,[555] 010 3001,",  # E.164 needs + and the country code
    ], threshold=100)  # fmt: skip
    assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (2, 2)
    stored = {r["_tenant"]["crmId"]: r for r in lake.preview(workspace, "prod", "crm")}
    assert stored["C1"]["mobilePhone"]["number"] == "5550103001"
    assert stored["C1"]["homePhone"]["number"] == "+442079460958"
    assert stored["C2"]["mobilePhone"]["number"] == "5550103002"
    errors = {e["lineNumber"]: e["_errors"][0]["message"] for e in lake.batch_errors(workspace, "prod", batch["id"])}
    assert errors[4] == ("'555 010 x12' is not a valid Phone identity (an optional + and 6 to 20 digits, once spaces, "
                         "dots, dashes, slashes and brackets are removed; no letters)")  # fmt: skip
    assert "is not a valid Phone_E164 identity (E.164: + and 8 to 15 digits, once spaces" in errors[5]


def test_removals_record_who_and_when_through_the_cli_and_the_api(
    api: Any, workspace: Workspace, cli: Any, tmp_path: Path
) -> None:
    _record, token = create_token(workspace.catalog, "alice")
    alice = httpx.Client(base_url=api.base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    body = {"kind": "link", "identity": {"namespace": "Email", "id": "Ann@X.io"},
            "other": {"namespace": "CRMID", "id": " C1 "}, "reason": "household"}  # fmt: skip
    made = alice.post("/identity/removals", json=body)
    alice.close()
    assert made.status_code == 201, made.text
    assert made.json()["removedBy"] == "alice"
    # recorded as the graphs hold the identities
    assert (made.json()["identity"], made.json()["other"]) == ({"namespace": "CRMID", "id": "C1"},
                                                               {"namespace": "Email", "id": "ann@x.io"})  # fmt: skip
    assert OFFSET.search(made.json()["createdAt"])
    [listed] = api.get("/identity/removals").json()
    assert listed["removedBy"] == "alice" and OFFSET.search(listed["createdAt"])

    assert cli("init").code == 0  # the CLI works on the API's home: alice's removal is listed first
    assert cli("identity", "unlink", "Email:Ann@X.io", "CRMID:C1", "--reason", "household").code == 0
    assert cli("identity", "remove", "Phone:+1 (555) 010-2000").code == 0
    removals = cli("identity", "removals", "--json").json()
    login = f"cli:{getpass.getuser()}"
    assert [(r["kind"], r["identity"], r["removedBy"]) for r in removals] == [
        ("link", {"namespace": "CRMID", "id": "C1"}, "alice"),
        ("link", {"namespace": "CRMID", "id": "C1"}, login),
        ("identity", {"namespace": "Phone", "id": "+15550102000"}, login),
    ]
    assert all(OFFSET.search(r["createdAt"]) for r in removals)
    shown = cli("identity", "removals")
    assert shown.code == 0
    lines = shown.stdout.strip().splitlines()
    assert len(lines) == 3 and all(re.match(r"\d{4}-\d\d-\d\dT\S+\+00:00  ", line) for line in lines)
    assert lines[0].endswith("link CRMID:C1 -- Email:ann@x.io  by alice: household")
    assert lines[1].endswith(f"link CRMID:C1 -- Email:ann@x.io  by {login}: household")
    refused = cli("identity", "remove", "Emial:ann@x.io")
    assert refused.code == 3 and "did you mean Email" in refused.stderr


def test_lookups_by_typed_values_through_the_cli_and_the_api(api: Any, workspace: Workspace, tmp_path: Path) -> None:
    create_crm(workspace)
    ingest_people(workspace, tmp_path, ["C7,boris.nakamura@inbox.example.net,+15550102000,,Boris"])
    profile.rebuild(workspace, "prod")
    found = api.get("/profiles", params={"namespace": "Email", "id": "Boris.Nakamura@INBOX.EXAMPLE.NET"})
    assert found.status_code == 200 and found.json()["attributes"]["_tenant"]["crmId"] == "C7"
    graph = api.get("/identity/graph", params={"namespace": "Phone", "id": "+1 (555) 010-2000"})
    assert graph.status_code == 200 and {"namespace": "CRMID", "id": "C7"} in graph.json()["identities"]
    missing = api.get("/profiles", params={"namespace": "Phone", "id": "call me"})
    assert missing.status_code == 404 and "is not a valid Phone identity" in missing.json()["message"]
