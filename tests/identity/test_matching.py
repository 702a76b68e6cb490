"""Probabilistic matching on FEBRL: proposed links, their precision and recall, review and removal."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from accord import identity, lake, schema
from accord.errors import DocumentError
from accord.ingest import IngestRequest, ingest_file, parse_mapping
from accord.workspace import Workspace

FEBRL = Path(__file__).parents[1] / "data" / "febrl"
COLUMNS = {
    "rec_id": "_tenant.crm", "given_name": "person.name.firstName", "surname": "person.name.lastName",
    "date_of_birth": "_tenant.dob", "suburb": "homeAddress.city", "postcode": "homeAddress.postalCode",
    "address_1": "homeAddress.street1", "state": "homeAddress.stateProvince",
}  # fmt: skip
RULES = {
    "datasets": ["people"],
    "fields": [
        {"path": "person.name.firstName", "comparison": "name"},
        {"path": "person.name.lastName", "comparison": "name"},
        {"path": "_tenant.dob", "comparison": "date", "dateFormat": "%Y%m%d"},
        {"path": "homeAddress.city"},
        {"path": "homeAddress.postalCode", "comparison": "exact"},
        {"path": "homeAddress.street1"},
        {"path": "homeAddress.stateProvince", "comparison": "exact"},
    ],
    "blocking": [["person.name.firstName"], ["person.name.lastName"], ["_tenant.dob"], ["homeAddress.postalCode"]],
    "threshold": 0.9,
}


def load_febrl(ws: Workspace, tmp_path: Path, *names: str) -> None:
    with ws.catalog.session() as s:
        schema.create_field_group(s, "prod", {"name": "febrl", "classes": ["profile"], "fields": {"_tenant": {
            "type": "object", "properties": {"crm": {"type": "string"}, "dob": {"type": "string"}}}}})  # fmt: skip
        schema.create_schema(s, "prod", {"name": "people", "class": "profile",
                                         "fieldGroups": ["demographic-details", "personal-contact-details", "febrl"],
                                         "identities": [{"path": "_tenant.crm", "namespace": "CRMID"}]})  # fmt: skip
        lake.create_dataset(s, "prod", "people", "people", profile_enabled=True)
    mapping = parse_mapping({"mappings": [{"source": "rec_id", "destination": "_id"}]
                             + [{"source": k, "destination": v} for k, v in COLUMNS.items()]})  # fmt: skip
    for name in names:  # FEBRL's files put a space after each comma
        text = (FEBRL / f"{name}.csv").read_text().replace(", ", ",")
        (tmp_path / f"{name}.csv").write_text(text)
        ingest_file(ws, "prod", IngestRequest("people", tmp_path / f"{name}.csv", mapping))


def person(record_id: str) -> str:
    return record_id.split("-")[1]  # rec-1070-org and rec-1070-dup-0 are one person


def test_matching_finds_febrl_duplicates_and_the_graph_takes_them_in(workspace: Workspace, tmp_path: Path) -> None:
    load_febrl(workspace, tmp_path, "dataset1")
    identity.build_graph(workspace, "prod")  # one graph per record: they share no identifier
    run = identity.propose_matches(workspace, "prod", RULES)
    assert run["records"] == 1000
    proposed = identity.list_matches(workspace, "prod", limit=10_000)
    assert proposed["total"] == run["proposed"]
    pairs = [(m["from"]["id"], m["to"]["id"]) for m in proposed["items"]]
    rows = (FEBRL / "dataset1.csv").read_text().splitlines()[1:]
    truth = Counter(person(line.split(",")[0]) for line in rows)
    true_pairs = sum(n * (n - 1) // 2 for n in truth.values())
    correct = sum(person(a) == person(b) for a, b in pairs)
    precision, recall = correct / len(pairs), correct / true_pairs
    assert precision >= 0.95 and recall >= 0.9, (precision, recall)
    assert all(m["probability"] >= 0.9 for m in proposed["items"])

    identity.build_graph(workspace, "prod")
    a, b = next((a, b) for a, b in pairs if person(a) == person(b))
    graph = identity.graph_of(workspace, "prod", "CRMID", a)
    assert ("CRMID", b) in {(i["namespace"], i["id"]) for i in graph["identities"]}
    [link] = [x for x in graph["links"] if {x["from"]["id"], x["to"]["id"]} == {a, b}]
    assert link["rule"].startswith("probabilistic match, p=")

    with workspace.catalog.session() as session:  # a reviewer removes it: the next build splits them
        identity.remove_link(session, "prod", ("CRMID", a), ("CRMID", b), "not the same person", "reviewer")
    identity.build_graph(workspace, "prod")
    after = identity.graph_of(workspace, "prod", "CRMID", a)
    assert ("CRMID", b) not in {(i["namespace"], i["id"]) for i in after["identities"]}
    assert {d["droppedBy"] for d in after["droppedLinks"]} == {"removed by a user"}

    again = identity.propose_matches(workspace, "prod", RULES)  # records already in one graph are not proposed
    assert again["proposed"] < run["proposed"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"datasets": ["peple"]}, "did you mean people"),
        (
            {"fields": [{"path": "person.name.frstName"}, {"path": "homeAddress.city"}]},
            "did you mean person.name.firstName",
        ),
        ({"blocking": [["homeAddress.country"]]}, "is not one of the compared fields"),
        ({"threshold": 0.2}, "threshold"),
        ({"fields": [{"path": "homeAddress.city", "comparison": "soundex"}] * 2}, "comparison"),
        ({"datasets": "people"}, "datasets"),
    ],
)
def test_bad_matching_rules_are_refused_whole(workspace: Workspace, tmp_path: Path, change: Any, message: str) -> None:
    load_febrl(workspace, tmp_path)
    with pytest.raises(DocumentError, match=message):
        identity.propose_matches(workspace, "prod", RULES | change)


def test_matching_through_the_api_and_the_cli(
    api: Any, workspace: Workspace, cli: Any, tmp_path: Path
) -> None:  # the API first: it initialises the home and keeps the admin token
    import yaml

    load_febrl(workspace, tmp_path, "dataset1")
    bad = api.post("/identity/matching", json=RULES | {"threshold": 2})
    assert bad.status_code == 400 and "threshold" in bad.json()["message"]
    run = api.post("/identity/matching", json=RULES).json()
    listed = api.get("/identity/matches", params={"limit": 5}).json()
    assert listed["total"] == run["proposed"] and len(listed["items"]) == 5
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(RULES))
    strict = cli("identity", "match", "--file", str(tmp_path / "rules.yaml"), "--threshold", "0.999", "--json").json()
    assert 0 < strict["proposed"] <= run["proposed"]
    assert cli("identity", "matches", "--limit", "3", "--json").json()["total"] == strict["proposed"]
    typo = cli("identity", "match", "--file", str(tmp_path / "rules.yaml"), "--threshold", "0.1")
    assert typo.code == 2 and "threshold" in typo.stderr
