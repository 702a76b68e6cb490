"""One record at a time and a full rebuild from the lake must give the same graphs."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord import identity, lake, schema
from accord.catalog import resolve_sandbox
from accord.identity import IdentityRecord, add_record, add_records, graph_folder, records_of_batch
from accord.ingest import IngestRequest, ingest_file
from accord.workspace import Workspace

IDENTITIES = [
    *[("CRMID", f"C{n}") for n in range(3)],
    *[("Email", f"e{n}@x.io") for n in range(4)],
    *[("ECID", str(n) * 38) for n in range(1, 4)],
    *[("GAID", f"6f1e2d3c-4b5a-4697-8877-66554433221{n}") for n in range(2)],
    ("Phone_E164", "+15550100100"),
]


@pytest.fixture
def graphs(workspace: Workspace) -> Workspace:
    workspace.settings = workspace.settings.model_copy(update={"identity_graph_limit": 4})
    with workspace.catalog.session() as session:
        schema.create_schema(session, "prod", {"name": "events", "class": "experienceevent",
                                               "fieldGroups": ["identitymap"]})  # fmt: skip
        lake.create_dataset(session, "prod", "events", "events", profile_enabled=True)
        identity.set_rules(session, "prod", ["CRMID"], None)
    return workspace


def ingest(ws: Workspace, folder: Path, name: str, records: list[tuple[list[int], int]]) -> str:
    lines = []
    for n, (picked, second) in enumerate(records):
        ids: dict[str, list[dict[str, str]]] = {}
        for index in picked:
            namespace, value = IDENTITIES[index]
            ids.setdefault(namespace, []).append({"id": value})
        lines.append(
            json.dumps({"_id": f"{name}-{n}", "timestamp": f"2026-01-01T00:00:{second:02d}Z", "identityMap": ids})
        )
    path = folder / f"{name}.json"
    path.write_text("\n".join(lines) + "\n")
    return str(ingest_file(ws, "prod", IngestRequest("events", path))["id"])


def state(ws: Workspace) -> dict[tuple[str, str], Any]:
    """For every identity: its graph's members, active links and dropped links (with why and their first record)."""
    out = {}
    for namespace, value in IDENTITIES:
        try:
            graph = identity.graph_of(ws, "prod", namespace, value)
        except identity.NotFoundError:
            continue

        def ends(link: dict[str, Any]) -> tuple[str, ...]:
            seen = (link["lastSeen"], link["firstSeen"], str(link["records"]), link["record"], link["batch"])
            return (link["from"]["id"], link["to"]["id"], *seen)

        out[(namespace, value)] = (
            frozenset((i["namespace"], i["id"]) for i in graph["identities"]),
            frozenset(ends(link) for link in graph["links"]),
            frozenset((*ends(link), link["droppedBy"]) for link in graph["droppedLinks"]),
        )
    return out


def folder_of(ws: Workspace) -> Path:
    with ws.catalog.session() as session:
        return graph_folder(ws, resolve_sandbox(session, "prod").id)


records_strategy = st.lists(
    st.tuples(st.lists(st.integers(0, len(IDENTITIES) - 1), min_size=1, max_size=4, unique=True), st.integers(0, 4)),
    min_size=1, max_size=14,
)  # fmt: skip


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(first=records_strategy, second=records_strategy, order=st.randoms(use_true_random=False))
def test_one_record_at_a_time_equals_a_full_rebuild(
    graphs: Workspace, tmp_path_factory: Any, first: list[Any], second: list[Any], order: Any
) -> None:
    with graphs.catalog.session() as session:
        for batch in lake.list_batches(session, "prod", "events", 1000):
            if batch["status"] == "success":
                lake.delete_batch(graphs, "prod", batch["id"])
    folder = tmp_path_factory.mktemp("records")
    one = ingest(graphs, folder, "one", first)
    identity.build_graph(graphs, "prod")  # the snapshot holds the first batch
    two = ingest(graphs, folder, "two", second)
    for record in records_of_batch(graphs, "prod", two):  # the second arrives one record at a time
        add_record(graphs, "prod", record)
    incremental = state(graphs)

    shutil.rmtree(folder_of(graphs))  # from nothing, every record one at a time, in any order
    replay = records_of_batch(graphs, "prod", one) + records_of_batch(graphs, "prod", two)
    order.shuffle(replay)
    for record in replay:
        add_record(graphs, "prod", record)
    from_nothing = state(graphs)

    shutil.rmtree(folder_of(graphs))  # from nothing again, all the records in one call (as streaming applies them)
    order.shuffle(replay)
    add_records(graphs, "prod", replay + replay[: len(replay) // 2])  # some twice: applied once
    all_at_once = state(graphs)

    identity.build_graph(graphs, "prod")
    rebuilt = state(graphs)
    assert incremental == rebuilt
    assert from_nothing == rebuilt
    assert all_at_once == rebuilt


def test_a_record_updates_the_graph_and_can_be_replayed(graphs: Workspace) -> None:
    seen = datetime(2026, 1, 1, tzinfo=UTC)

    def record(name: str, second: int, *pairs: tuple[str, str]) -> IdentityRecord:
        return IdentityRecord(name, "dataset", "batch", seen.replace(second=second), pairs)

    assert add_record(graphs, "prod", record("r1", 1, ("CRMID", "C1"), ("Email", "home@x.io")))["identities"] == 2
    add_record(graphs, "prod", record("r2", 2, ("CRMID", "C2"), ("Email", "home@x.io")))
    # CRMID is unique: the newer link wins, and the older one is kept with why it was dropped
    graph = identity.graph_of(graphs, "prod", "Email", "home@x.io")
    assert {i["id"] for i in graph["identities"]} == {"C2", "home@x.io"}
    assert [d["droppedBy"] for d in graph["droppedLinks"]] == ["unique namespace CRMID"]
    again = add_record(graphs, "prod", record("r2", 2, ("CRMID", "C2"), ("Email", "home@x.io")))
    assert again["alreadyApplied"]
    [link] = identity.graph_of(graphs, "prod", "CRMID", "C2")["links"]
    assert link["records"] == 1 and link["record"] == "r2"
    store_note = add_record(graphs, "prod", record("r3", 3, ("Unknown", "x")))
    assert store_note["identities"] == 0  # namespaces that are not known or build no graph link nothing
