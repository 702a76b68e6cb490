"""One conformance suite for every file destination the registry knows, each against its real server.

The destinations are not listed here: the suite asks the registry for every destination that takes
batch files (its spec has file options; the `case` fixture) and runs each rule against each, on a store of the test's
own, reading back what the server holds with the server's own client. A file destination without a
case in tests/destinations/stores.py fails the suite rather than being passed over."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import pytest

from accord import destinations, sources
from accord.access import AllowedRoots
from accord.destinations.exceptions import DestinationRefusedError, DestinationUnavailableError
from accord.errors import InvalidInputError
from accord.workspace import Workspace
from tests.destinations.conftest import FILE_DESTINATIONS, FLOW, create_flow, export_file, open_account
from tests.destinations.stores import PREFIX, Case

pytestmark = pytest.mark.integration

BIG = 12 * 2**20
"""Larger than the object stores' part size (8 MiB): S3 and Azure send it in parts, committed once."""


def test_the_suite_walks_the_built_in_file_destinations() -> None:
    assert {"local", "s3", "azure-blob", "sftp"} <= set(FILE_DESTINATIONS)


def test_a_good_account_passes_its_check_and_leaves_nothing_behind(workspace: Workspace, case: Case) -> None:
    steps = open_account(workspace, case.id, case.config()).check()
    assert steps and all(s.ok for s in steps), steps
    assert case.held() == {}  # the probe a check writes is gone again


def test_files_land_whole_under_their_names(workspace: Workspace, case: Case, tmp_path: Path) -> None:
    files = {
        "audience.csv": b"email,firstName\nann@x.io,Ann\nbob@x.io,Bob\n",
        "2026/07/audience_2.csv": b"email,firstName\ncy@x.io,Cy\n",
        "big.parquet": os.urandom(BIG),
    }
    destination = open_account(workspace, case.id, case.config())
    landed = {name: destination.write(export_file(tmp_path / "out", name, content)) for name, content in files.items()}
    assert landed == {name: case.location(name) for name in files}
    assert case.held() == {f"{PREFIX}/{name}": content for name, content in files.items()}
    destination.close()


def test_writing_a_name_again_replaces_the_file(workspace: Workspace, case: Case, tmp_path: Path) -> None:
    destination = open_account(workspace, case.id, case.config())
    destination.write(export_file(tmp_path / "out", "audience.csv", b"first run\n"))
    destination.write(export_file(tmp_path / "out", "audience.csv", b"second run, longer than the first\n"))
    assert case.held() == {f"{PREFIX}/audience.csv": b"second run, longer than the first\n"}
    destination.close()


def test_exists_says_which_files_are_in_place(workspace: Workspace, case: Case, tmp_path: Path) -> None:
    destination = open_account(workspace, case.id, case.config())
    assert not destination.exists("2026/audience.csv")
    destination.write(export_file(tmp_path / "out", "2026/audience.csv", b"a\n"))
    assert destination.exists("2026/audience.csv")
    assert not destination.exists("2026")  # a folder (or a key prefix) is no file
    assert not destination.exists("2026/other.csv")
    destination.close()


@pytest.mark.parametrize("name", ["../outside.csv", "/etc/outside.csv", "a/../../outside.csv", "a//b.csv", ""])
def test_a_name_that_leaves_the_folder_is_refused(workspace: Workspace, case: Case, tmp_path: Path, name: str) -> None:
    destination = open_account(workspace, case.id, case.config())
    with pytest.raises(InvalidInputError) as caught:
        destination.write(export_file(tmp_path / "out", name, b"nope\n"))
    assert caught.value.code == "DEST-0400-400" and repr(name) in caught.value.message
    with pytest.raises(InvalidInputError):
        destination.exists(name)
    assert case.held() == {}
    destination.close()


def test_a_failing_write_leaves_the_file_as_it_was(workspace: Workspace, case: Case, tmp_path: Path) -> None:
    """The server refuses the write, or breaks it off midway: under the name stays what was there, and
    nothing half-written shows beside it."""
    good = open_account(workspace, case.id, case.config())
    good.write(export_file(tmp_path / "out", "audience.csv", b"yesterday's audience\n"))
    good.close()
    today = export_file(tmp_path / "out", "audience.csv", os.urandom(BIG))
    with case.failing() as config:
        failing = open_account(workspace, case.id, config)
        with pytest.raises((DestinationRefusedError, DestinationUnavailableError)) as caught:
            failing.write(today)
        failing.close()
    assert "audience.csv" in caught.value.message
    assert case.held() == {f"{PREFIX}/audience.csv": b"yesterday's audience\n"}


def test_every_file_destination_declares_what_it_takes() -> None:
    for destination_id in FILE_DESTINATIONS:
        document: dict[str, Any] = destinations.destination_spec(destination_id).to_document()
        assert document["delivery"] == "batch" and document["files"]["formats"], destination_id
        assert document["config"]["properties"], destination_id


def test_a_sync_flow_lands_its_operations_in_every_file_destination(people: Workspace, case: Case) -> None:
    """Every file destination says it takes the sync modes: each gets the `operation` column, as a reader sees it."""
    assert destinations.destination_spec(case.id).sync_modes == ("insert", "update", "upsert", "mirror")
    with people.catalog.session() as s:
        destinations.create_account(s, sources.SecretBox(people.settings.home), "prod", "store", case.id,
                                    case.config(), AllowedRoots.from_settings(people.settings))  # fmt: skip
    daily = [{"segment": "parisians", "schedule": {"frequency": "daily", "time": "06:00"}}]
    create_flow(people, "sync", {**FLOW, "audiences": daily, "dedupKey": ["email"], "syncMode": "upsert",
                                 "file": {"nameTemplate": "records"}}, account="store")  # fmt: skip
    run = destinations.run_activation(people, "prod", "sync")
    assert run["status"] == "success", run
    [(name, content)] = [(n, c) for n, c in case.held().items() if n.endswith("records.csv")]
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert rows and {r["operation"] for r in rows} == {"insert"}, name
    assert {r["email"] for r in rows} <= {
        "ann@example.com",
        "bob@example.com",
        "eve@example.com",
        "ann.other@example.com",
    }
