"""The deterministic identity graph: links with reasons, components, lookups and explanations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord import identity, lake, profile, schema
from accord.errors import NotFoundError
from accord.identity import graph_folder
from accord.ingest import IngestRequest, ingest_file
from accord.workspace import Workspace


@pytest.fixture
def stores(workspace: Workspace) -> Workspace:
    with workspace.catalog.session() as session:
        identity.create_namespace(session, "prod", "StoreID", "", "non_people")
        schema.create_schema(session, "prod", {"name": "events", "class": "experienceevent",
                                               "fieldGroups": ["identitymap", "web-details"]})  # fmt: skip
        lake.create_dataset(session, "prod", "events", "events", profile_enabled=True)
        lake.create_dataset(session, "prod", "ignored", "events", profile_enabled=False)
    return workspace


def write_events(
    ws: Workspace, tmp_path: Path, name: str, records: list[dict[str, list[str]]], dataset: str = "events"
) -> str:
    lines = [json.dumps({"_id": f"{name}-{n}", "timestamp": f"2026-01-01T00:00:{n:02d}Z",
                         "identityMap": {ns: [{"id": v} for v in ids] for ns, ids in r.items()}})
             for n, r in enumerate(records)]  # fmt: skip
    path = tmp_path / f"{name}.json"
    path.write_text("\n".join(lines) + "\n")
    return str(ingest_file(ws, "prod", IngestRequest(dataset, path))["id"])


def members(ws: Workspace, namespace: str, value: str) -> set[tuple[str, str]]:
    return {(i["namespace"], i["id"]) for i in identity.graph_of(ws, "prod", namespace, value)["identities"]}


ECID = "1" * 38


def test_records_link_identities_into_graphs(stores: Workspace, tmp_path: Path) -> None:
    batch = write_events(stores, tmp_path, "web", [
        {"ECID": [ECID], "CRMID": ["C1"]},
        {"CRMID": ["C1"], "Email": ["ann@x.io"]},
        {"Email": ["bob@x.io"], "StoreID": ["S1"]},  # a non-people namespace links nothing
        {"StoreID": ["S1"], "CRMID": ["C2"]},
    ])  # fmt: skip
    write_events(stores, tmp_path, "other", [{"CRMID": ["C1", "C9"]}], dataset="ignored")  # not profile-enabled
    summary = identity.build_graph(stores, "prod")
    assert (summary.identities, summary.graphs, summary.largest) == (5, 3, 3)
    assert members(stores, "Email", "ann@x.io") == {("ECID", ECID), ("CRMID", "C1"), ("Email", "ann@x.io")}
    assert members(stores, "CRMID", "C2") == {("CRMID", "C2")}
    with pytest.raises(NotFoundError, match="no identity CRMID:C9"):
        identity.graph_of(stores, "prod", "CRMID", "C9")
    chain = identity.explain(stores, "prod", ("ECID", ECID), ("Email", "ann@x.io"))
    assert chain["sameGraph"] and len(chain["chain"]) == 2
    assert all(link["batch"] == batch and link["rule"] == "same record" for link in chain["chain"])
    assert not identity.explain(stores, "prod", ("ECID", ECID), ("Email", "bob@x.io"))["sameGraph"]


def test_a_profile_dataset_without_batches_yet_does_not_break_the_build(stores: Workspace, tmp_path: Path) -> None:
    """`events` (identityMap) is profile-enabled but empty; the CRM's identity fields build the graph."""
    with stores.catalog.session() as session:
        schema.create_schema(session, "prod", {"name": "crm", "class": "profile", "fieldGroups": [
            "personal-contact-details", "identitymap"], "identities": [
            {"path": "personalEmail.address", "namespace": "Email", "primary": True},
            {"path": "mobilePhone.number", "namespace": "Phone"}]})  # fmt: skip
        lake.create_dataset(session, "prod", "crm", "crm", profile_enabled=True)
    path = tmp_path / "crm.json"
    path.write_text(json.dumps({"personalEmail": {"address": "ann@x.io"}, "mobilePhone": {"number": "555 0100"}}))
    ingest_file(stores, "prod", IngestRequest("crm", path))
    assert identity.build_graph(stores, "prod").graphs == 1
    assert members(stores, "Phone", "5550100") == {("Email", "ann@x.io"), ("Phone", "5550100")}


def test_deleting_a_batch_and_rebuilding_splits_the_graph(stores: Workspace, tmp_path: Path) -> None:
    write_events(stores, tmp_path, "a", [{"ECID": [ECID], "CRMID": ["C1"]}])
    second = write_events(stores, tmp_path, "b", [{"CRMID": ["C1"], "Email": ["ann@x.io"]}])
    identity.build_graph(stores, "prod")
    assert len(members(stores, "ECID", ECID)) == 3
    lake.delete_batch(stores, "prod", second)
    identity.build_graph(stores, "prod")
    assert members(stores, "ECID", ECID) == {("ECID", ECID), ("CRMID", "C1")}


def test_a_profile_enabled_dataset_with_no_batch_yet_counts_as_empty(stores: Workspace, tmp_path: Path) -> None:
    write_events(stores, tmp_path, "web", [{"ECID": [ECID], "CRMID": ["C1"]}])
    with stores.catalog.session() as session:  # created, not fed yet: its identityMap comes from the schema alone
        lake.create_dataset(session, "prod", "app", "events", profile_enabled=True)
    summary = identity.build_graph(stores, "prod")
    assert (summary.identities, summary.graphs) == (2, 1)
    assert profile.rebuild(stores, "prod")["profiles"]["profiles"] == 1


def reference_components(records: list[list[str]]) -> set[frozenset[str]]:
    """Union-find, written plainly: the graphs the engine must find."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for record in records:
        root = find(record[0])
        for other in record[1:]:
            parent[find(other)] = root
    groups: dict[str, set[str]] = {}
    for node in parent:
        groups.setdefault(find(node), set()).add(node)
    return {frozenset(g) for g in groups.values()}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=4, unique=True), min_size=1, max_size=25))
def test_graphs_are_the_connected_components(
    stores: Workspace, tmp_path_factory: Any, records: list[list[int]]
) -> None:
    for dataset in ("events",):
        with stores.catalog.session() as session:
            for batch in lake.list_batches(session, "prod", dataset, 1000):
                if batch["status"] == "success":
                    lake.delete_batch(stores, "prod", batch["id"])
    as_ids = [[f"C{n}" for n in record] for record in records]
    write_events(stores, tmp_path_factory.mktemp("p"), "p", [{"CRMID": ids} for ids in as_ids])
    identity.build_graph(stores, "prod")
    found = {frozenset(i["id"] for i in identity.graph_of(stores, "prod", "CRMID", ids[0])["identities"])
             for ids in as_ids}  # fmt: skip
    assert found == reference_components(as_ids)


def test_graph_through_the_cli(cli: Any, tmp_path: Path) -> None:
    assert cli("init").code == 0
    assert cli("schema", "create", "ev", "--class", "experienceevent", "-g", "identitymap").code == 0
    assert cli("dataset", "create", "ev", "--schema", "ev", "--profile-enabled").code == 0
    path = tmp_path / "e.json"
    path.write_text(json.dumps({"_id": "e1", "timestamp": "2026-01-01T00:00:00Z",
                                "identityMap": {"ECID": [{"id": ECID}], "Email": [{"id": "a@x.io"}]}}))  # fmt: skip
    assert cli("ingest", str(path), "-d", "ev").code == 0
    built = cli("identity", "build", "--json").json()
    assert (built["identities"], built["graphs"]) == (2, 1)
    graph = cli("identity", "graph", "--namespace", "Email", "--id", "a@x.io", "--json").json()
    assert {i["namespace"] for i in graph["identities"]} == {"ECID", "Email"}
    explained = cli("identity", "explain", f"ECID:{ECID}", "Email:a@x.io")
    assert explained.code == 0 and "seen together in record" in explained.stdout
    missing = cli("identity", "graph", "--namespace", "Email", "--id", "nobody@x.io")
    assert missing.code == 3 and "no identity Email:nobody@x.io" in missing.stderr
    bad = cli("identity", "explain", "nonsense", "Email:a@x.io")
    assert bad.code == 2 and "NAMESPACE:ID" in bad.stderr
    assert cli("identity", "unlink", f"ECID:{ECID}", "Email:a@x.io", "--reason", "test").code == 0
    assert cli("identity", "build").code == 0
    alone = cli("identity", "graph", "--namespace", "Email", "--id", "a@x.io", "--json").json()
    assert [i["namespace"] for i in alone["identities"]] == ["Email"]
    assert cli("identity", "removals", "--json").json()[0]["reason"] == "test"


def test_a_unique_namespace_keeps_a_household_apart(stores: Workspace, tmp_path: Path) -> None:
    """Two customers share a household e-mail: with CRMID unique, the most recent link wins."""
    write_events(stores, tmp_path, "a", [
        {"CRMID": ["C1"], "Email": ["home@x.io"]},    # 00:00:00, the older link
        {"CRMID": ["C2"], "Email": ["home@x.io"]},    # 00:00:01, the newer link
        {"CRMID": ["C1"], "ECID": [ECID]},
    ])  # fmt: skip
    identity.build_graph(stores, "prod")
    assert len(members(stores, "CRMID", "C1")) == 4  # without rules: one graph
    with stores.catalog.session() as session:
        identity.set_rules(session, "prod", ["CRMID"], None)
    identity.build_graph(stores, "prod")
    assert members(stores, "CRMID", "C2") == {("CRMID", "C2"), ("Email", "home@x.io")}
    assert members(stores, "CRMID", "C1") == {("CRMID", "C1"), ("ECID", ECID)}
    graph = identity.graph_of(stores, "prod", "CRMID", "C1")
    [dropped] = graph["droppedLinks"]
    assert dropped["droppedBy"] == "unique namespace CRMID"
    assert {dropped["from"]["id"], dropped["to"]["id"]} == {"C1", "home@x.io"}
    assert not identity.explain(stores, "prod", ("CRMID", "C1"), ("Email", "home@x.io"))["sameGraph"]


def test_linking_rules_are_checked(stores: Workspace) -> None:
    from accord.errors import DocumentError

    with (
        pytest.raises(DocumentError, match="unknown namespace 'CRMI'; did you mean CRMID"),
        stores.catalog.session() as s,
    ):
        identity.set_rules(s, "prod", ["CRMI"], None)
    with pytest.raises(DocumentError, match="cannot outrank people ids"), stores.catalog.session() as s:
        identity.set_rules(s, "prod", None, ["ECID", "CRMID", "Email"])
    with stores.catalog.session() as session:
        assert identity.get_rules(session, "prod").unique == ()
        identity.set_rules(session, "prod", ["CRMID"], ["CRMID", "Email", "ECID"])
        expected = {"uniqueNamespaces": ["CRMID"], "priority": ["CRMID", "Email", "ECID"]}
        assert identity.get_rules(session, "prod").to_document() == expected


def test_oversized_graphs_lose_their_oldest_cookies_first(stores: Workspace, tmp_path: Path) -> None:
    stores.settings = stores.settings.model_copy(update={"identity_graph_limit": 3})
    device = "6f1e2d3c-4b5a-4697-8877-665544332211"
    old_cookie, new_cookie = "1" * 38, "2" * 38
    write_events(stores, tmp_path, "a", [
        {"CRMID": ["C1"], "ECID": [old_cookie]},   # seen first
        {"CRMID": ["C1"], "ECID": [new_cookie]},
        {"CRMID": ["C1"], "Email": ["ann@x.io"]},
        {"CRMID": ["C1"], "GAID": [device]},
    ])  # fmt: skip
    identity.build_graph(stores, "prod")
    assert members(stores, "CRMID", "C1") == {("CRMID", "C1"), ("Email", "ann@x.io"), ("GAID", device)}
    assert members(stores, "ECID", old_cookie) == {("ECID", old_cookie)}  # evicted: it stands alone
    graph = identity.graph_of(stores, "prod", "CRMID", "C1")
    assert {d["droppedBy"] for d in graph["droppedLinks"]} == {"graph limit of 3 identities"}
    assert graph["primary"] == {"namespace": "CRMID", "id": "C1"}  # by namespace priority


def test_ties_are_broken_by_the_identities_names_in_the_build_and_one_record_at_a_time(
    stores: Workspace, tmp_path: Path
) -> None:
    """Two cookies of one record are as old as each other: the one whose name sorts first leaves first.

    (These two are chosen so that their 64-bit keys sort the other way round.)"""
    stores.settings = stores.settings.model_copy(update={"identity_graph_limit": 2})
    first, second = "2" * 38, "3" * 38
    write_events(stores, tmp_path, "a", [{"CRMID": ["C1"], "ECID": [second, first]}])
    identity.build_graph(stores, "prod")
    assert members(stores, "CRMID", "C1") == {("CRMID", "C1"), ("ECID", second)}
    assert members(stores, "ECID", first) == {("ECID", first)}
    shutil.rmtree(graph_folder(stores, sandbox_id_of(stores)))
    for record in identity.records_of_batch(stores, "prod", write_events(stores, tmp_path, "b", [
            {"CRMID": ["C2"], "ECID": [second, first]}])):  # fmt: skip
        identity.add_record(stores, "prod", record)
    assert members(stores, "CRMID", "C2") == {("CRMID", "C2"), ("ECID", second)}


def sandbox_id_of(ws: Workspace) -> str:
    from accord.catalog import resolve_sandbox

    with ws.catalog.session() as session:
        return resolve_sandbox(session, "prod").id


def test_removing_a_link_or_an_identity_splits_graphs_and_profiles(stores: Workspace, tmp_path: Path) -> None:
    from accord.profile import get_profile

    write_events(stores, tmp_path, "a", [
        {"ECID": [ECID], "CRMID": ["C1"]},
        {"CRMID": ["C1"], "Email": ["ann@x.io"]},
        {"Email": ["ann@x.io"], "Phone_E164": ["+15550100100"]},
    ])  # fmt: skip
    identity.build_graph(stores, "prod")
    assert len(members(stores, "ECID", ECID)) == 4
    with stores.catalog.session() as session:
        identity.remove_link(session, "prod", ("Email", "ann@x.io"), ("CRMID", "C1"), "wrongly merged", "tester")
    identity.build_graph(stores, "prod")
    assert members(stores, "ECID", ECID) == {("ECID", ECID), ("CRMID", "C1")}
    assert members(stores, "Email", "ann@x.io") == {("Email", "ann@x.io"), ("Phone_E164", "+15550100100")}
    assert get_profile(stores, "prod", "CRMID", "C1")["events"]["total"] == 2  # the profile split too
    [dropped] = identity.graph_of(stores, "prod", "CRMID", "C1")["droppedLinks"]
    assert dropped["droppedBy"] == "removed by a user"
    with stores.catalog.session() as session:
        identity.remove_identity(session, "prod", ("Phone_E164", "+15550100100"), "shared number", "tester")
        removals = identity.list_removals(session, "prod")
    identity.build_graph(stores, "prod")
    assert members(stores, "Phone_E164", "+15550100100") == {("Phone_E164", "+15550100100")}
    assert [(r["kind"], r["reason"]) for r in removals] == [("link", "wrongly merged"), ("identity", "shared number")]
    assert removals[0]["removedBy"] == "tester"


def _staging(ws: Workspace) -> list[Path]:
    return sorted((ws.lake.root / "_staging").glob("*"))


def test_a_build_with_nothing_to_build_leaves_no_staging_folder(stores: Workspace) -> None:
    assert identity.build_graph(stores, "prod").identities == 0
    assert _staging(stores) == []


def test_a_build_that_fails_leaves_no_staging_folder(stores: Workspace, tmp_path: Path) -> None:
    import duckdb

    write_events(stores, tmp_path, "web", [{"ECID": [ECID], "CRMID": ["C1"]}])
    for part in stores.lake.root.rglob("batch=*/*.parquet"):  # the disk lost a batch file
        part.write_bytes(b"not parquet any more")
    with pytest.raises(duckdb.Error):
        identity.build_graph(stores, "prod")
    assert _staging(stores) == []
