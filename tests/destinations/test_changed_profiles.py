"""Incremental runs read only the profiles that changed: the profile store fingerprints every profile at each
build, a snapshot keeps them under the flow's digest, and a run builds rows for the members whose fingerprint
moved (and for those who left) alone, with the same outcome as comparing the whole audience."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pyarrow.parquet as pq

from accord import destinations, profile, segment
from accord.catalog import resolve_sandbox
from accord.destinations.changed import FINGERPRINT, flow_digest, only_changed, read_fingerprints
from accord.destinations.flows import definition_of
from accord.destinations.runs import snapshots_folder
from accord.engine import connect
from accord.profile.store import FINGERPRINTS
from accord.workspace import Workspace
from tests.destinations.conftest import FLOW, create_flow, evaluate, ingest_people
from tests.destinations.test_activation import csv_rows


def graphs(workspace: Workspace, *crm: str) -> list[int]:
    return sorted(int(profile.get_profile(workspace, "prod", "CRMID", c)["graphId"]) for c in crm)


def incremental_flow_run_once(workspace: Workspace) -> Path:
    """The incremental flow `paris`, run once; the folder where it keeps its snapshots."""
    create_flow(workspace, "paris", {**FLOW, "exportMode": "incremental"})
    destinations.run_activation(workspace, "prod", "paris")
    with workspace.catalog.session() as s:
        flow = destinations.find_flow(s, resolve_sandbox(s, "prod").id, "paris")
        return snapshots_folder(workspace, flow.sandbox_id, flow.id)


def test_an_incremental_run_reads_only_the_profiles_that_changed(
    people: Workspace, outbox: Path, tmp_path: Path
) -> None:
    create_flow(people, "paris", {**FLOW, "exportMode": "incremental"})
    assert destinations.run_activation(people, "prod", "paris")["audiences"][0]["changes"] == {"added": 5}
    with people.catalog.session() as s:
        sandbox_id = resolve_sandbox(s, "prod").id
        flow = destinations.find_flow(s, sandbox_id, "paris")
        flow_id, definition = flow.id, definition_of(flow)
    [snapshot_path] = snapshots_folder(people, sandbox_id, flow_id).glob("*.parquet")
    snapshot = pq.read_table(snapshot_path)
    assert snapshot.num_rows == 5 and snapshot[FINGERPRINT].null_count == 0

    # Eve consents (a field the flow does not send: her profile changed, her row did not); Ann moves to Oslo
    ingest_people(people, tmp_path, "crm,first,email,city,consent\nC1,Ann,ann@example.com,Oslo,y\n"
                  "C5,Eve,eve@example.com,Paris,y\n", "moves.csv")  # fmt: skip
    evaluate(people)
    members = segment.membership_table(people, sandbox_id, definition.audiences[0].segment_id or "")
    prints = read_fingerprints(profile.store_folder(people, sandbox_id) / FINGERPRINTS)
    assert members is not None and prints is not None
    digest = flow_digest(definition, destinations.destination_spec("local"))
    con = connect(people.settings)
    try:
        changed, touched = only_changed(con, members, snapshot, prints, digest)
        assert changed["graph"].to_pylist() == graphs(people, "C5")  # Bob, Cid and the other Ann did not change
        assert sorted(touched["graph"].to_pylist()) == graphs(people, "C1", "C5")  # Eve's last row; Ann, who left
        everyone, _ = only_changed(con, members, snapshot, prints, digest ^ 1)  # what another flow would send
        assert sorted(everyone["graph"].to_pylist()) == graphs(people, "C2", "C3", "C5", "C7")
    finally:
        con.disconnect()

    second = destinations.run_activation(people, "prod", "paris")
    assert second["audiences"][0]["changes"] == {"removed": 1} and second["profilesReceived"] == 4
    rows = csv_rows(Path(second["files"][0]["sinkPath"]))
    assert [(r["first_name"], r["segmentMembership.status"]) for r in rows] == [("Ann", "exited")]
    after = pq.read_table(snapshot_path)  # the four who stay, each with its fingerprint as it is now
    assert sorted(after["graph"].to_pylist()) == graphs(people, "C2", "C3", "C5", "C7")
    assert after[FINGERPRINT].null_count == 0
    third = destinations.run_activation(people, "prod", "paris")
    assert third["audiences"][0]["changes"] == {} and third["profilesReceived"] == 4


def test_a_snapshot_made_before_fingerprints_compares_the_whole_audience(people: Workspace, outbox: Path) -> None:
    folder = incremental_flow_run_once(people)
    [path] = folder.glob("*.parquet")
    pq.write_table(pq.read_table(path).drop_columns([FINGERPRINT]), path)  # as an older Accord left it
    again = destinations.run_activation(people, "prod", "paris")
    assert again["audiences"][0]["changes"] == {} and again["profilesReceived"] == 5
    assert FINGERPRINT in pq.read_table(path).column_names  # kept from now on


def test_a_run_removes_what_a_killed_run_half_wrote_and_nothing_else(people: Workspace, outbox: Path) -> None:
    folder = incremental_flow_run_once(people)
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = folder / f".events.json.{gone.pid}.1"  # a follower killed as it saved where it stood
    alive = folder / f".events.json.{os.getpid()}.1"  # one writing now, in this process
    for partial in (dead, alive):
        partial.write_text("{")
    destinations.run_activation(people, "prod", "paris")
    assert not dead.exists() and alive.exists()
    assert [p.name for p in folder.iterdir() if not p.name.startswith(".")] == [next(folder.glob("*.parquet")).name]
