"""The profile store is built within the engine's memory limit: in partitions of graph ids when its rows
would not fit at once, and then it is the same store as one pass builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accord import identity, lake, profile, schema
from accord.catalog import resolve_sandbox
from accord.ingest import IngestRequest, ingest_file, parse_mapping
from accord.profile.partitions import bounds, partition_cuts
from accord.profile.store import ProfileSummary, store_folder
from accord.workspace import Workspace

PEOPLE = 12_000
NOTES = 3_000
"""Characters of free text on each CRM record and each event: wide rows, so that a store larger than a
small memory limit takes few rows to ingest."""
BATCHES = 6
"""Batches of each dataset with free text: a batch is a Parquet file whose pages the engine reads whole."""
SMALL_LIMIT = "64MB"
"""Less than the store's rows take in memory (the builds run on one engine thread)."""


def _columns(pairs: list[tuple[str, str]]) -> Any:
    return parse_mapping({"mappings": [{"source": a, "destination": b} for a, b in pairs]})


@pytest.fixture
def wide_shop(workspace: Workspace, tmp_path: Path) -> Workspace:
    """CRM, web and loyalty profiles and web events of 12,000 people, their graphs built: about 40 MB of
    fragments and 36 MB of events in the store, most of it free text."""
    with workspace.catalog.session() as s:
        tenant = {name: {"type": "string"} for name in ("crm", "ecid", "notes")}
        fields = {"_tenant": {"type": "object", "properties": tenant}}
        schema.create_field_group(
            s, "prod", {"name": "ids", "classes": ["profile", "experienceevent"], "fields": fields}
        )
        groups = ["personal-contact-details", "demographic-details", "ids"]
        for name, ids in [("crm", [("_tenant.crm", "CRMID"), ("personalEmail.address", "Email")]),
                          ("web", [("_tenant.ecid", "ECID"), ("personalEmail.address", "Email")]),
                          ("loyalty", [("_tenant.crm", "CRMID"), ("mobilePhone.number", "Phone_E164")])]:  # fmt: skip
            schema.create_schema(s, "prod", {"name": name, "class": "profile", "fieldGroups": groups,
                                             "identities": [{"path": p, "namespace": n} for p, n in ids]})  # fmt: skip
            lake.create_dataset(s, "prod", name, name, profile_enabled=True)
        schema.create_schema(s, "prod", {"name": "events", "class": "experienceevent", "fieldGroups": ["ids"],
                                         "identities": [{"path": "_tenant.ecid", "namespace": "ECID"}]})  # fmt: skip
        lake.create_dataset(s, "prod", "events", "events", profile_enabled=True)
        identity.set_rules(s, "prod", ["CRMID"], None)
    email = "CASE WHEN i % 20 = 0 THEN 'household' || (i // 40) || '@x.io' ELSE 'p' || i || '@x.io' END"
    con = duckdb.connect()
    files = {
        "crm": f"SELECT 'C' || i AS crm, {email} AS email, 'First' || i AS first, "
               f"repeat(chr((97 + i % 26)::INTEGER), {NOTES}) || i AS notes FROM range({{start}}, {{end}}) t(i)",
        "web": f"SELECT lpad(i::VARCHAR, 38, '0') AS ecid, CASE WHEN i % 10 < 7 THEN {email} END AS email, "
               f"CASE WHEN i % 2 = 0 THEN 'Web' || i END AS city FROM range({{start}}, {{end}}) t(i)",
        "loyalty": "SELECT 'C' || i AS crm, '+1' || (2000000000 + i)::VARCHAR AS phone, "
                   "CASE WHEN i % 10 < 3 THEN 'Newer' || i END AS first FROM range({start}, {end}) t(i)",
        "events": f"SELECT 'E' || j AS id, lpad((j % {PEOPLE})::VARCHAR, 38, '0') AS ecid, "
                  f"TIMESTAMPTZ '2026-11-01 00:00:00+00' - to_seconds(j * 7) AS ts, "
                  f"repeat(chr((97 + j % 26)::INTEGER), {NOTES}) || j AS notes FROM range({{start}}, {{end}}) t(j)",
    }  # fmt: skip
    mappings = {
        "crm": [
            ("crm", "_tenant.crm"),
            ("email", "personalEmail.address"),
            ("first", "person.name.firstName"),
            ("notes", "_tenant.notes"),
        ],
        "web": [("ecid", "_tenant.ecid"), ("email", "personalEmail.address"), ("city", "homeAddress.city")],
        "loyalty": [("crm", "_tenant.crm"), ("phone", "mobilePhone.number"), ("first", "person.name.firstName")],
        "events": [("id", "_id"), ("ecid", "_tenant.ecid"), ("ts", "timestamp"), ("notes", "_tenant.notes")],
    }
    for name, query in files.items():
        size = PEOPLE // BATCHES if "notes" in query else PEOPLE
        for start in range(0, PEOPLE, size):
            path = tmp_path / f"{name}-{start}.csv"
            con.execute(f"COPY ({query.format(start=start, end=start + size)}) TO '{path}' (HEADER)")
            ingest_file(workspace, "prod", IngestRequest(name, path, _columns(mappings[name])))
    identity.build_graph(workspace, "prod")
    return workspace


def _build(workspace: Workspace, memory_limit: str) -> tuple[ProfileSummary, dict[str, pa.Table]]:
    """Build the store with this memory limit, on one engine thread; every file of it, rows in a stable order."""
    limits = {"duckdb_memory_limit": memory_limit, "duckdb_threads": 1}
    limited = Workspace.open(workspace.settings.model_copy(update=limits))
    try:
        summary = profile.build_profiles(limited, "prod")
        with limited.catalog.session() as session:
            folder = store_folder(limited, resolve_sandbox(session, "prod").id)
    finally:
        limited.close()
    files: dict[str, pa.Table] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".parquet":
            files[path.name] = pq.read_table(path)  # one row per graph, sorted by graph: compared as it is
        elif path.suffix == ".arrow":
            table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
            order = table["key" if path.name == "identities.arrow" else "graph"].to_numpy()
            assert (np.diff(order) >= 0).all(), f"{path.name} is not sorted"
            # the rows of one graph come in no set order (events: newest first, ties in no set order)
            keys = [c for c in ("graph", "key", "node", "_acc_record", "_id") if c in table.column_names]
            files[path.name] = table.sort_by([(k, "ascending") for k in keys])
    return summary, files


def test_a_store_larger_than_the_memory_limit_is_built_in_partitions_and_is_the_same(wide_shop: Workspace) -> None:
    small, partitioned = _build(wide_shop, SMALL_LIMIT)
    assert small.partitions["merged"] > 1 and small.partitions["fragments"] > 1 and small.partitions["events"] > 1
    whole, one_pass = _build(wide_shop, "4GB")
    assert set(whole.partitions.values()) == {1}
    assert (small.profiles, small.fragments, small.events) == (whole.profiles, whole.fragments, whole.events)
    assert small.profiles == PEOPLE * 13 // 10 and small.events == PEOPLE  # 30 % of web profiles have no e-mail
    assert partitioned.keys() == one_pass.keys()
    for name, table in partitioned.items():
        assert table.schema == one_pass[name].schema, name
        assert table.equals(one_pass[name]), name
    # and it is the right store: the newer loyalty first name wins (a name in a struct in a struct, which
    # the engine misread in slices of Arrow files), else the CRM one
    by_graph = {row["graph"]: row for row in partitioned["profiles.parquet"].to_pylist()}
    for person in (0, 1, 3, PEOPLE - 1):
        found = profile.get_profile(wide_shop, "prod", "CRMID", f"C{person}")
        assert found["readFrom"] == "store"
        first = f"Newer{person}" if person % 10 < 3 else f"First{person}"
        assert by_graph[int(found["graphId"])]["person"]["name"]["firstName"] == first
        assert found["attributes"]["person"]["name"]["firstName"] == first


def test_partition_cuts_split_the_people_evenly_and_keep_every_graph_whole() -> None:
    people = np.array([-9, -4, 0, 3, 8, 15, 16, 42, 77, 90])
    cuts = partition_cuts(people, 3)
    assert cuts.tolist() == [3, 16]
    rows = np.array([-9, -9, -4, 0, 3, 3, 3, 8, 15, 16, 16, 42, 90])  # a sorted file's graph column
    edges = bounds(rows, cuts)
    parts = [rows[edges[i] : edges[i + 1]].tolist() for i in range(len(edges) - 1)]
    assert parts == [[-9, -9, -4, 0], [3, 3, 3, 8, 15], [16, 16, 42, 90]]
    assert partition_cuts(people, 1).tolist() == [] and partition_cuts(people[:2], 5).tolist() == [-4]
    assert partition_cuts(people[:0], 4).tolist() == []


def test_only_attributes_with_a_value_are_merged() -> None:
    from accord.profile.store import filled_paths

    person = pa.StructArray.from_arrays(
        [pa.array(["Ann", None, "Bob"]), pa.array([None, None, None], pa.string())],
        names=["first", "last"],
        mask=pa.array([False, False, True]),  # the third person is null: Bob, below it, is no value
    )
    table = pa.table({"graph": [1, 2, 3], "person": person, "city": pa.array([None, None, None], pa.string())})
    assert filled_paths(table) == {("graph",), ("person", "first")}
    assert filled_paths(table.slice(1)) == {("graph",)}
