"""Unified profiles: fragments merged by policy, stitched by the identity graph, looked up by any identity."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from accord import identity, lake, profile, schema
from accord.catalog import resolve_sandbox
from accord.errors import DocumentError, InvalidInputError, NotFoundError
from accord.ingest import IngestRequest, ingest_file, parse_mapping
from accord.profile import Fragment, MergePolicy, merge
from accord.profile.store import ProfileStore
from accord.workspace import Workspace

ECID = "7" * 38
MAPPING = parse_mapping({"mappings": [
    {"source": "crm", "destination": "_tenant.crmId"},
    {"source": "first", "destination": "person.name.firstName"},
    {"source": "city", "destination": "homeAddress.city"},
]})  # fmt: skip


@pytest.fixture(params=["store", "lake"])
def shop(workspace: Workspace, tmp_path: Path, request: pytest.FixtureRequest) -> Workspace:
    """A small shop; profiles read from the profile store, or from the lake when there is none."""
    with workspace.catalog.session() as s:
        schema.create_field_group(s, "prod", {"name": "ids", "classes": ["profile", "experienceevent"], "fields": {
            "_tenant": {"type": "object", "properties": {"crmId": {"type": "string"}}}}})  # fmt: skip
        for name in ("crm", "loyalty"):
            groups = ["demographic-details", "personal-contact-details", "ids"]
            ids = [{"path": "_tenant.crmId", "namespace": "CRMID"}]
            schema.create_schema(
                s, "prod", {"name": name, "class": "profile", "fieldGroups": groups, "identities": ids}
            )
            lake.create_dataset(s, "prod", name, name, profile_enabled=True)
        schema.create_schema(
            s, "prod", {"name": "web", "class": "experienceevent", "fieldGroups": ["identitymap", "web-details"]}
        )
        lake.create_dataset(s, "prod", "web", "web", profile_enabled=True)
    (tmp_path / "crm.csv").write_text("crm,first,city\nC1,Ann,Paris\nC2,Bob,Oslo\n")
    ingest_file(workspace, "prod", IngestRequest("crm", tmp_path / "crm.csv", MAPPING))
    time.sleep(0.01)  # the loyalty batch is the newer one
    (tmp_path / "loyalty.csv").write_text("crm,first,city\nC1,Annie,\n")
    ingest_file(workspace, "prod", IngestRequest("loyalty", tmp_path / "loyalty.csv", MAPPING))
    events = [{"_id": f"e{n}", "timestamp": f"2026-01-0{n + 1}T00:00:00Z", "eventType": "web.webpagedetails.pageViews",
               "identityMap": {"ECID": [{"id": ECID}], **({"CRMID": [{"id": "C1"}]} if n == 0 else {})}}
              for n in range(5)]  # fmt: skip
    (tmp_path / "web.json").write_text("\n".join(json.dumps(e) for e in events))
    ingest_file(workspace, "prod", IngestRequest("web", tmp_path / "web.json"))
    if request.param == "store":
        rebuilt = profile.rebuild(workspace, "prod")
        assert rebuilt["profiles"]["profiles"] == 2 and rebuilt["profiles"]["events"] == 5
        assert profile.get_profile(workspace, "prod", "CRMID", "C1")["readFrom"] == "store"
    else:
        identity.build_graph(workspace, "prod")
        assert profile.get_profile(workspace, "prod", "CRMID", "C1")["readFrom"] == "lake"
    return workspace


def test_timestamp_ordered_merge_with_sources(shop: Workspace) -> None:
    found = profile.get_profile(shop, "prod", "CRMID", "C1", events_limit=2)
    assert found["attributes"]["person"]["name"]["firstName"] == "Annie"  # the newer fragment wins
    assert found["attributes"]["homeAddress"]["city"] == "Paris"  # attribute by attribute: no city in the newer one
    assert found["sources"]["person.name.firstName"]["dataset"] == "loyalty"
    assert found["sources"]["homeAddress.city"]["dataset"] == "crm"
    assert {f["dataset"] for f in found["fragments"]} == {"crm", "loyalty"}
    assert found["events"]["total"] == 5 and found["flags"] == []
    assert [e["_id"] for e in found["events"]["items"]] == ["e4", "e3"]  # newest first, paged
    page = profile.get_profile(shop, "prod", "CRMID", "C1", events_limit=2, events_offset=2)
    assert [e["_id"] for e in page["events"]["items"]] == ["e2", "e1"]


def test_any_identity_of_the_graph_finds_the_profile(shop: Workspace) -> None:
    by_cookie = profile.get_profile(shop, "prod", "ECID", ECID)
    assert by_cookie["attributes"]["_tenant"]["crmId"] == "C1"
    assert {(i["namespace"], i["id"]) for i in by_cookie["identities"]} == {("ECID", ECID), ("CRMID", "C1")}


def test_dataset_precedence_and_no_stitching(shop: Workspace) -> None:
    with shop.catalog.session() as session:
        profile.create_policy(session, "prod", {"name": "crm-first", "kind": "dataset_precedence",
                                                "datasets": ["crm", "loyalty"]})  # fmt: skip
        profile.create_policy(session, "prod", {"name": "alone", "stitching": "none"})
        listed = profile.list_policies(session, "prod")
    assert [(p["name"], p["default"]) for p in listed] == [
        ("alone", False),
        ("crm-first", True),
    ]  # the first is default
    assert profile.get_profile(shop, "prod", "CRMID", "C1")["attributes"]["person"]["name"]["firstName"] == "Ann"
    alone = profile.get_profile(shop, "prod", "ECID", ECID, "alone")
    # No stitching: the records whose profile identity is the cookie; e0 also carries CRMID C1, which
    # outranks ECID, so e0 is C1's event
    assert alone["attributes"] == {} and alone["events"]["total"] == 4
    assert profile.get_profile(shop, "prod", "CRMID", "C1", "alone")["events"]["total"] == 1


def test_bad_lookups_and_policies(shop: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no profile holds CRMID:C404"):
        profile.get_profile(shop, "prod", "CRMID", "C404")
    with pytest.raises(NotFoundError, match="no merge policy named 'nope'"):
        profile.get_profile(shop, "prod", "CRMID", "C1", "nope")
    with pytest.raises(InvalidInputError):
        profile.get_profile(shop, "prod", "CRMID", "C1", events_limit=0)
    for document, message in [
        ({"name": "x", "kind": "dataset_precedence"}, "needs its datasets"),
        ({"name": "x", "kind": "dataset_precedence", "datasets": ["crn"]}, "did you mean crm"),
        ({"name": "x", "stitching": "fuzzy"}, "stitching"),
    ]:
        with pytest.raises(DocumentError, match=message), shop.catalog.session() as session:
            profile.create_policy(session, "prod", document)


def test_merge_is_a_pure_function() -> None:
    from datetime import UTC, datetime

    older = Fragment("d1", "crm", "b1", "r1", datetime(2026, 1, 1, tzinfo=UTC), {"a": 1, "b": {"c": "x"}, "n": None})
    newer = Fragment("d2", "web", "b2", "r2", datetime(2026, 2, 1, tzinfo=UTC), {"a": 2, "b": {"d": "y"}})
    by_time, sources = merge([newer, older], MergePolicy("t", "timestamp", (), "graph", True))
    assert by_time == {"a": 2, "b": {"c": "x", "d": "y"}} and sources["a"]["dataset"] == "web"
    by_rank, _ = merge([newer, older], MergePolicy("p", "dataset_precedence", ("d1", "d2"), "graph", False))
    assert by_rank["a"] == 1


def test_each_attribute_says_where_its_value_came_from_and_why_it_won() -> None:
    from datetime import UTC, datetime

    def at(day: int) -> datetime:
        return datetime(2026, 1, day, tzinfo=UTC)

    crm = Fragment("d1", "crm", "b1", "b1/f/1", at(1), {"city": "Paris", "name": "Ann", "tier": "gold"})
    web = Fragment("d2", "web", "b2", "b2/f/1", at(2), {"name": "Annie", "tier": "silver"})
    same_time = Fragment("d2", "web", "b3", "b3/f/2", at(2), {"tier": "bronze"})
    _, by_time = merge([crm, web, same_time], MergePolicy("t", "timestamp", (), "graph", True))
    assert by_time["city"] == {"dataset": "crm", "batch": "b1", "record": "b1/f/1",
                               "ingested": "2026-01-01T00:00:00+00:00", "reason": "only", "candidates": 1}  # fmt: skip
    name, tier = by_time["name"], by_time["tier"]
    assert (name["dataset"], name["reason"], name["candidates"]) == ("web", "newest", 2)
    assert (tier["batch"], tier["reason"], tier["candidates"]) == ("b3", "record", 3)
    _, by_rank = merge([crm, web, same_time], MergePolicy("p", "dataset_precedence", ("d1",), "graph", False))
    assert (by_rank["name"]["dataset"], by_rank["name"]["reason"]) == ("crm", "precedence")
    assert (by_rank["tier"]["dataset"], by_rank["tier"]["reason"]) == ("crm", "precedence")
    _, web_first = merge([crm, web], MergePolicy("w", "dataset_precedence", ("d2",), "graph", False))
    assert (web_first["name"]["dataset"], web_first["name"]["reason"]) == ("web", "precedence")
    undated = Fragment("d3", "old", "b0", "b0/f/1", None, {"name": "A."})
    _, unlisted = merge([undated, web], MergePolicy("x", "dataset_precedence", ("d9",), "graph", False))
    assert (unlisted["name"]["dataset"], unlisted["name"]["reason"]) == ("web", "newest")  # neither listed: by time
    assert set(profile.REASONS) == {"only", "precedence", "newest", "record"}


def test_a_looked_up_profile_says_why_each_value_won(shop: Workspace) -> None:
    sources = profile.get_profile(shop, "prod", "CRMID", "C1")["sources"]
    assert (sources["person.name.firstName"]["reason"], sources["person.name.firstName"]["candidates"]) == (
        "newest", 2)  # fmt: skip
    assert (sources["homeAddress.city"]["reason"], sources["homeAddress.city"]["dataset"]) == ("only", "crm")


def test_a_profiles_identity_graph_reads_as_the_graphs_have_it(shop: Workspace) -> None:
    """From the profile store (its links by graph) as from the graph files: the same graph, before and after a
    user removes a link; a removed link is under the graphs at both of its ends."""

    def both(namespace: str, value: str) -> dict[str, Any]:
        found = profile.identity_graph(shop, "prod", namespace, value)
        assert found == identity.graph_of(shop, "prod", namespace, value)
        return found

    whole = both("ECID", ECID)
    assert {(i["namespace"], i["id"]) for i in whole["identities"]} == {("ECID", ECID), ("CRMID", "C1")}
    [link] = whole["links"]
    assert (link["rule"], link["dataset"]) == ("same record", "web")
    if profile.get_profile(shop, "prod", "ECID", ECID)["readFrom"] == "store":  # the store keeps the graph's links
        with shop.catalog.session() as session:
            sandbox_id = resolve_sandbox(session, "prod").id
        store = ProfileStore.open(profile.store_folder(shop, sandbox_id))
        assert store is not None and len(store.links_of(int(whole["graphId"])) or []) == 1
    assert both("CRMID", "C2")["links"] == []
    with pytest.raises(NotFoundError, match="no identity CRMID:C404 in any graph"):
        profile.identity_graph(shop, "prod", "CRMID", "C404")
    with shop.catalog.session() as session:
        identity.remove_link(session, "prod", ("ECID", ECID), ("CRMID", "C1"), "shared device", "tester")
    if profile.get_profile(shop, "prod", "CRMID", "C1")["readFrom"] == "store":
        profile.rebuild(shop, "prod")
    else:
        identity.build_graph(shop, "prod")
    for namespace, value in (("ECID", ECID), ("CRMID", "C1")):
        alone = both(namespace, value)
        assert alone["identities"] == [{"namespace": namespace, "id": value}] and alone["links"] == []
        assert [d["droppedBy"] for d in alone["droppedLinks"]] == ["removed by a user"]


def test_profiles_through_cli_and_api(api: Any, cli: Any, tmp_path: Path) -> None:
    """The CLI and the API on the same home: what one makes, the other finds."""
    assert cli("init").code == 0
    assert (
        cli("schema", "create", "ev", "--class", "experienceevent", "-g", "identitymap", "-g", "web-details").code == 0
    )
    assert cli("dataset", "create", "ev", "--schema", "ev", "--profile-enabled").code == 0
    path = tmp_path / "e.json"
    path.write_text(json.dumps({"_id": "e1", "timestamp": "2026-01-01T00:00:00Z", "eventType": "x",
                                "identityMap": {"ECID": [{"id": ECID}], "Email": [{"id": "a@x.io"}]}}))  # fmt: skip
    assert cli("ingest", str(path), "-d", "ev").code == 0
    assert cli("identity", "build").code == 0
    rebuilt = cli("profile", "rebuild", "--json").json()
    assert rebuilt["graph"]["graphs"] == 1 and rebuilt["profiles"]["events"] == 1
    got = cli("profile", "get", "--namespace", "Email", "--id", "a@x.io", "--json").json()
    assert got["events"]["total"] == 1 and len(got["identities"]) == 2
    served = api.get("/profiles", params={"namespace": "ECID", "id": ECID})
    assert served.status_code == 200 and served.json()["graphId"] == got["graphId"]
    assert served.json()["events"]["total"] == 1 and served.json()["readFrom"] == "store"
    missing = cli("profile", "get", "--namespace", "Email", "--id", "b@x.io")
    assert missing.code == 3 and "no profile holds Email:b@x.io" in missing.stderr
    assert api.get("/profiles", params={"namespace": "Email", "id": "nobody@x.io"}).status_code == 404
    assert cli("mergepolicy", "create", "p1", "--stitching", "none", "--json").json()["default"] is True
    created = api.post("/mergepolicies", json={"name": "mp", "kind": "timestamp"})
    assert created.status_code == 201 and created.json()["default"] is False  # p1, made by the CLI, is
    assert [p["name"] for p in cli("mergepolicy", "list", "--json").json()] == ["mp", "p1"]
    rebuilt_by_api = api.post("/profiles/rebuild").json()
    assert rebuilt_by_api["graph"]["graphs"] == 1 and rebuilt_by_api["profiles"]["events"] == 1
    empty = api.post("/datasets/ev/records/delete", json={"ids": []})
    assert empty.status_code == 400 and "ids" in empty.json()["message"]
    gone = cli("dataset", "delete-records", "ev", "--id", "e1", "--json").json()
    assert gone["deletedRecords"] == 1 and gone["profilesRebuilt"]["graph"]["graphs"] == 0
    assert cli("profile", "get", "--namespace", "Email", "--id", "a@x.io").code == 3
    assert api.get("/profiles", params={"namespace": "ECID", "id": ECID}).status_code == 404
    assert api.get("/datasets/ev/preview").json()["rows"] == []


def test_expired_events_leave_profiles_and_can_be_purged(shop: Workspace, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    recent, old = (now - timedelta(days=3)).isoformat(), (now - timedelta(days=40)).isoformat()
    events = [{"_id": f"t{n}", "timestamp": ts, "identityMap": {"ECID": [{"id": ECID}]}}
              for n, ts in enumerate([recent, old, old])]  # fmt: skip
    (tmp_path / "recent.json").write_text("\n".join(json.dumps(e) for e in events))
    ingest_file(shop, "prod", IngestRequest("web", tmp_path / "recent.json"))
    assert profile.get_profile(shop, "prod", "CRMID", "C1")["events"]["total"] == 8  # 5 from 2026-01 + 3
    with shop.catalog.session() as session:
        assert lake.set_ttl(session, "prod", "web", 30)["ttlDays"] == 30
        with pytest.raises(InvalidInputError, match="events only"):
            lake.set_ttl(session, "prod", "crm", 30)
    assert profile.get_profile(shop, "prod", "CRMID", "C1")["events"]["total"] == 1  # only the recent one
    before = len(lake.preview(shop, "prod", "web", 1000))
    purged = lake.purge_expired(shop, "prod", "web")
    assert purged["purgedRecords"] == 7 and purged["batches"] == 2
    assert len(lake.preview(shop, "prod", "web", 1000)) == before - 7
    assert lake.purge_expired(shop, "prod", "web")["purgedRecords"] == 0
    with shop.catalog.session() as session:
        stats = lake.get_dataset(session, "prod", "web")
    assert stats["rowCount"] == 1


def test_the_engine_merge_agrees_with_the_lookup(shop: Workspace) -> None:
    import pyarrow.parquet as pq

    from accord.catalog import resolve_sandbox
    from accord.lake import jsonable
    from accord.profile.merge import flatten
    from accord.profile.store import store_folder

    summary = profile.build_profiles(shop, "prod")
    assert summary.profiles == 2 and summary.fragments == 3 and summary.events == 5
    with shop.catalog.session() as session:
        folder = store_folder(shop, resolve_sandbox(session, "prod").id)
    merged = {str(row.pop("graph")): row for row in pq.read_table(folder / "profiles.parquet").to_pylist()}
    for crm in ("C1", "C2"):
        found = profile.get_profile(shop, "prod", "CRMID", crm)
        assert flatten(jsonable(merged[found["graphId"]])) == flatten(found["attributes"])


def test_a_new_batch_makes_lookups_read_the_lake_until_the_next_rebuild(shop: Workspace, tmp_path: Path) -> None:
    (tmp_path / "more.csv").write_text("crm,first,city\nC2,Bobby,\n")
    ingest_file(shop, "prod", IngestRequest("loyalty", tmp_path / "more.csv", MAPPING))
    found = profile.get_profile(shop, "prod", "CRMID", "C2")
    assert found["readFrom"] == "lake" and found["attributes"]["person"]["name"]["firstName"] == "Bobby"
    profile.rebuild(shop, "prod")
    again = profile.get_profile(shop, "prod", "CRMID", "C2")
    assert again["readFrom"] == "store" and again["attributes"] == found["attributes"]


def test_deleting_a_batch_or_records_flows_through_to_profiles(shop: Workspace) -> None:
    with shop.catalog.session() as session:
        [loyalty] = lake.list_batches(session, "prod", "loyalty")
    done = profile.delete_batch(shop, "prod", loyalty["id"])
    assert done["status"] == "deleted" and done["profilesRebuilt"]["profiles"]["fragments"] == 2
    found = profile.get_profile(shop, "prod", "CRMID", "C1")
    assert found["readFrom"] == "store" and found["attributes"]["person"]["name"]["firstName"] == "Ann"
    assert {f["dataset"] for f in found["fragments"]} == {"crm"}

    web_ids = [e["_id"] for e in lake.preview(shop, "prod", "web", 10)]
    assert profile.delete_records(shop, "prod", "web", ["e0"])["deletedRecords"] == 1
    assert len(lake.preview(shop, "prod", "web", 10)) == len(web_ids) - 1
    # e0 was the only event linking the cookie to C1: the graph and the profile split
    assert profile.get_profile(shop, "prod", "CRMID", "C1")["events"]["total"] == 0
    assert profile.get_profile(shop, "prod", "ECID", ECID)["events"]["total"] == 4
    with pytest.raises(NotFoundError, match="none of these records"):
        profile.delete_records(shop, "prod", "web", ["e0"])
    with pytest.raises(InvalidInputError, match="record ids"):
        profile.delete_records(shop, "prod", "web", [])


def test_profile_get_for_people_says_how_many_events_and_shows_them(cli: Any, tmp_path: Path) -> None:
    assert cli("init").code == 0
    assert cli("schema", "create", "ev", "--class", "experienceevent", "-g", "identitymap").code == 0
    assert cli("schema", "create", "crm", "--class", "profile", "-g", "identitymap").code == 0
    for name in ("ev", "crm"):
        assert cli("dataset", "create", name, "--schema", name, "--profile-enabled").code == 0
    (tmp_path / "e.json").write_text(json.dumps({"_id": "e1", "timestamp": "2026-01-01T00:00:00Z", "eventType": "x",
                                                 "identityMap": {"Email": [{"id": "a@x.io"}]}}))  # fmt: skip
    (tmp_path / "p.json").write_text(json.dumps({"_id": "p1", "identityMap": {"Email": [{"id": "b@x.io"}]}}))
    assert cli("ingest", str(tmp_path / "e.json"), "-d", "ev").code == 0
    assert cli("ingest", str(tmp_path / "p.json"), "-d", "crm").code == 0
    assert cli("profile", "rebuild").code == 0
    with_event = cli("profile", "get", "--namespace", "Email", "--id", "a@x.io").stdout
    assert "1 event; the latest 1:" in with_event and "2026-01-01" in with_event
    without = cli("profile", "get", "--namespace", "Email", "--id", "b@x.io").stdout
    assert without.rstrip().endswith("0 events")


def test_within_one_batch_the_greatest_record_id_wins(shop: Workspace, tmp_path: Path) -> None:
    """The documented tie: fragments of one batch are preferred by record id compared as text."""
    (tmp_path / "twelve.csv").write_text("crm,first,city\n" + "".join(f"C3,n{i},\n" for i in range(12)))
    ingest_file(shop, "prod", IngestRequest("loyalty", tmp_path / "twelve.csv", MAPPING))
    for read_from in ("lake", "store"):
        if read_from == "store":
            profile.rebuild(shop, "prod")
        found = profile.get_profile(shop, "prod", "CRMID", "C3")
        assert found["readFrom"] == read_from
        records = [f["record"] for f in found["fragments"]]
        assert len(records) == 12 and max(records).endswith("/9")  # text: '.../9' sorts after '.../11'
        assert found["sources"]["person.name.firstName"]["record"] == max(records)
    import pyarrow.parquet as pq

    from accord.catalog import resolve_sandbox
    from accord.profile.store import store_folder

    with shop.catalog.session() as session:
        folder = store_folder(shop, resolve_sandbox(session, "prod").id)
    merged = {str(r["graph"]): r for r in pq.read_table(folder / "profiles.parquet").to_pylist()}
    engine = merged[found["graphId"]]["person"]["name"]["firstName"]  # the engine's merge, for segmentation
    assert engine == found["attributes"]["person"]["name"]["firstName"]


def test_the_store_summary_says_what_the_last_build_made(shop: Workspace) -> None:
    summary = profile.build_profiles(shop, "prod")
    said = profile.store_summary(shop, "prod")
    assert said is not None
    assert (said["profiles"], said["fragments"]) == (summary.profiles, summary.fragments)
    assert said["events"] == summary.events
    assert said["policy"] and said["builtAt"].endswith("+00:00")


def test_no_store_summary_before_the_first_build(workspace: Workspace) -> None:
    assert profile.store_summary(workspace, "prod") is None
