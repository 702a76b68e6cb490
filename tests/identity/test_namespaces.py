"""Identity namespaces, and identity values checked and normalised at ingestion."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from accord import identity, lake, schema
from accord.errors import ConflictError, InvalidInputError
from accord.ingest import IngestRequest, ingest_file, parse_mapping
from accord.schema import InvalidSchemaError
from accord.workspace import Workspace


def test_standard_namespaces_and_their_types(workspace: Workspace) -> None:
    with workspace.catalog.session() as session:
        found = {n.symbol: n for n in identity.list_namespaces(session, "prod")}
    expected = {"ECID": "cookie", "Email": "email", "Email_LC_SHA256": "email", "Phone": "phone",
                "Phone_E164": "phone", "CRMID": "cross_device", "GAID": "device", "IDFA": "device"}  # fmt: skip
    assert {s: found[s].type.value for s in expected} == expected
    assert all(n.standard and n.builds_graph for n in found.values())


def test_custom_namespaces_never_reuse_a_symbol(workspace: Workspace) -> None:
    with workspace.catalog.session() as session:
        loyalty = identity.create_namespace(session, "prod", "LoyaltyID", "Loyalty card", "cross_device")
        store = identity.create_namespace(session, "prod", "StoreID", "", "non_people")
    assert loyalty.builds_graph and not store.builds_graph
    for symbol, kind, error, message in [
        ("LoyaltyID", "cross_device", ConflictError, "never reused"),
        ("loyaltyid", "device", ConflictError, "taken (by LoyaltyID)"),
        ("email", "email", ConflictError, "taken (by Email)"),
        ("1bad", "device", InvalidInputError, "must be a letter"),
        ("Good", "robot", InvalidInputError, "is not one of"),
    ]:
        with pytest.raises(error, match=re.escape(message)), workspace.catalog.session() as session:
            identity.create_namespace(session, "prod", symbol, "", kind)


def test_schemas_may_only_name_existing_namespaces(workspace: Workspace) -> None:
    with pytest.raises(InvalidSchemaError) as caught, workspace.catalog.session() as session:
        document = {"name": "s", "class": "profile", "fieldGroups": ["personal-contact-details"],
                    "identities": [{"path": "personalEmail.address", "namespace": "Emial"}]}  # fmt: skip
        schema.create_schema(session, "prod", document)
    assert "unknown identity namespace 'Emial'; did you mean Email" in caught.value.message


@pytest.fixture
def people(workspace: Workspace) -> Workspace:
    with workspace.catalog.session() as session:
        identity.create_namespace(session, "prod", "LoyaltyID", "", "cross_device")
        schema.create_field_group(session, "prod", {"name": "ids", "classes": ["profile"], "fields": {"_tenant": {
            "type": "object", "properties": {"crmId": {"type": "string"}, "card": {"type": "string"},
                                             "ecid": {"type": "string"}}}}})  # fmt: skip
        schema.create_schema(session, "prod", {
            "name": "people", "class": "profile", "fieldGroups": ["personal-contact-details", "ids", "identitymap"],
            "identities": [{"path": "personalEmail.address", "namespace": "Email", "primary": True},
                           {"path": "mobilePhone.number", "namespace": "Phone_E164"},
                           {"path": "_tenant.ecid", "namespace": "ECID"},
                           {"path": "_tenant.card", "namespace": "LoyaltyID"}]})  # fmt: skip
        lake.create_dataset(session, "prod", "people", "people", profile_enabled=True)
    return workspace


MAPPING = parse_mapping({"mappings": [
    {"source": "email", "destination": "personalEmail.address"},
    {"source": "phone", "destination": "mobilePhone.number"},
    {"source": "ecid", "destination": "_tenant.ecid"},
    {"source": "card", "destination": "_tenant.card"},
]})  # fmt: skip
ECID = "1" * 38


def test_identity_values_are_normalised_and_bad_ones_rejected(people: Workspace, tmp_path: Path) -> None:
    rows = [
        f" Ann@Example.COM ,+1 (555) 010-0100,{ECID},  C-1 ",
        f"bob@example.com,+44 20 7946 0958,{ECID[:-1]},C-2",  # an ECID of 37 digits
        f"not-an-email,+33 1 23 45 67 89,{ECID},C-3",
        f"cy@example.com,555-0100,{ECID},C-4",  # no country code: not E.164
        f"dee@example.com,,,{'x' * 1100}",  # an identity over 1,024 characters
        "eve@example.com,,,",
    ]
    path = tmp_path / "people.csv"
    path.write_text("email,phone,ecid,card\n" + "\n".join(rows) + "\n")
    batch = ingest_file(people, "prod", IngestRequest("people", path, MAPPING, 80))
    assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (2, 4)
    stored = {r["personalEmail"]["address"]: r for r in lake.preview(people, "prod", "people")}
    assert stored["ann@example.com"]["mobilePhone"]["number"] == "+15550100100"
    assert stored["ann@example.com"]["_tenant"]["card"] == "C-1"
    errors = {e["lineNumber"]: e["_errors"][0] for e in lake.batch_errors(people, "prod", batch["id"])}
    assert {line: e["code"] for line, e in errors.items()} == {3: "INGEST-1218-400", 4: "INGEST-1218-400",
                                                                5: "INGEST-1218-400", 6: "INGEST-1218-400"}  # fmt: skip
    assert "not a valid ECID identity (exactly 38 digits)" in errors[3]["message"]
    assert "E.164" in errors[5]["message"] and errors[6]["path"] == "_tenant.card"


def test_identity_map_namespaces_and_the_twenty_identity_limit(people: Workspace, tmp_path: Path) -> None:
    def record(n: int, identity_map: dict[str, Any]) -> str:
        return json.dumps({"personalEmail": {"address": f"p{n}@example.com"}, "identityMap": identity_map})

    lines = [
        record(1, {"ECID": [{"id": ECID, "primary": True}], "LoyaltyID": [{"id": "L-1"}]}),
        record(2, {"CRMID": [{"id": f"C{i}"} for i in range(20)]}),  # 20 + the e-mail: 21
        record(3, {"Nope": [{"id": "x"}]}),
        record(4, {"CRMID": [{"id": ""}]}),
        record(5, {"CRMID": [{"id": f"C{i}"} for i in range(19)]}),  # 19 + the e-mail: 20, allowed
    ]
    path = tmp_path / "people.json"
    path.write_text("\n".join(lines) + "\n")
    batch = ingest_file(people, "prod", IngestRequest("people", path, None, 80))
    assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (2, 3)
    found = {e["record"]["personalEmail"]["address"]: {x["code"] for x in e["_errors"]}
             for e in lake.batch_errors(people, "prod", batch["id"])}  # fmt: skip
    assert found == {"p2@example.com": {"INGEST-1219-400"}, "p3@example.com": {"INGEST-1218-400"},
                     "p4@example.com": {"INGEST-1218-400"}}  # fmt: skip


def test_namespaces_through_cli_and_api(api: Any, cli: Any) -> None:
    """The CLI and the API on the same home: each sees the namespaces the other made."""
    assert cli("init").code == 0
    listed = cli("identity", "namespaces", "--json").json()
    assert "ECID" in {n["symbol"] for n in listed}
    created = cli("identity", "create", "LoyaltyID", "--type", "cross_device", "--json")
    assert created.code == 0 and created.json()["symbol"] == "LoyaltyID"
    again = cli("identity", "create", "LoyaltyID", "--type", "cross_device")
    assert again.code == 4 and "never reused" in again.stderr
    assert api.post("/namespaces", json={"symbol": "StoreID", "type": "non_people"}).json()["buildsGraph"] is False
    assert api.post("/namespaces", json={"symbol": "X", "type": "robot"}).status_code == 400
    served = {n["symbol"]: n for n in api.get("/namespaces").json()}
    assert {"StoreID", "LoyaltyID"} <= set(served) and served["LoyaltyID"]["type"] == "cross_device"
    assert api.post("/namespaces", json={"symbol": "LoyaltyID", "type": "cross_device"}).status_code == 409
    assert "StoreID" in {n["symbol"] for n in cli("identity", "namespaces", "--json").json()}
