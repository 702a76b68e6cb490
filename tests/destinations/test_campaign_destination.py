"""The Accord Campaign destination: the reference fields (name, instance, target mapping), its batch schedules,
CSV files only, its limits of 25 audiences and 20 fields, and audiences landing whole in the instance's folder."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from accord import destinations, sources
from accord.access import AllowedRoots
from accord.errors import DocumentError, InvalidInputError
from accord.workspace import Workspace
from tests.destinations.conftest import FLOW, create_flow


@pytest.fixture
def landing(people: Workspace, tmp_path: Path) -> Path:
    folder = tmp_path / "campaign" / "mkt" / "incoming"
    folder.mkdir(parents=True)
    connect(people, {"instance": "mkt", "targetMapping": "recipient", "root": str(folder)})
    return folder


def connect(workspace: Workspace, config: dict[str, Any]) -> None:
    with workspace.catalog.session() as s:
        box, roots = sources.SecretBox(workspace.settings.home), AllowedRoots.from_settings(workspace.settings)
        destinations.create_account(s, box, "prod", "campaign", "accord-campaign", config, roots)


def test_the_spec_says_what_the_reference_says() -> None:
    spec = destinations.destination_spec("accord-campaign").to_document()
    assert (spec["exportType"], spec["delivery"], spec["category"]) == ("profile", "batch", "email marketing")
    assert spec["schedules"] == ["3h", "6h", "8h", "12h", "daily"]  # every 3, 6, 8, 12 or 24 hours
    assert spec["files"]["formats"] == ["csv"]
    assert (spec["limits"]["audiencesPerFlow"], spec["limits"]["attributesPerFlow"]) == (25, 20)
    assert set(spec["config"]["properties"]) == {"instance", "targetMapping", "root"}


def test_an_account_names_an_instance_and_a_known_target_mapping(people: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as caught:
        connect(people, {"instance": "../x", "targetMapping": "orders", "root": str(tmp_path)})
    said = str(caught.value.details)
    assert "instance" in said and "targetMapping" in said


def test_audiences_land_as_csv_in_the_instance_folder(people: Workspace, landing: Path) -> None:
    every_day = [{"segment": "parisians", "schedule": {"frequency": "daily", "time": "06:00"}}]
    create_flow(people, "to-campaign", {**FLOW, "audiences": every_day}, account="campaign")
    run = destinations.run_activation(people, "prod", "to-campaign")
    assert run["status"] == "success"
    [landed] = list(landing.iterdir())
    rows = list(csv.DictReader(io.StringIO(landed.read_text())))
    assert sorted(r["first_name"] for r in rows) == ["Ann", "Ann", "Cid", "Eve"]  # Bob refused e-mail
    assert run["excluded"] == {"consent": 1}


def test_what_the_instance_cannot_take_is_refused_with_the_flow(people: Workspace, landing: Path) -> None:
    many = [{"source": "person.name.firstName", "target": f"f{i}"} for i in range(21)]
    once = [{"segment": "parisians", "schedule": {"frequency": "once"}}]
    bad = {**FLOW, "audiences": once, "mapping": many, "file": {"format": "parquet"}}
    with pytest.raises(DocumentError) as caught:
        create_flow(people, "bad", bad, account="campaign")
    paths = {p["path"]: p["message"] for p in caught.value.details["problems"]}
    assert {"audiences[0].schedule.frequency", "file.format", "mapping"} <= set(paths), paths
    assert "3h, 6h, 8h, 12h, daily" in paths["audiences[0].schedule.frequency"]


def test_a_flow_that_names_no_schedule_takes_the_most_frequent_one_the_instance_takes(
    people: Workspace, landing: Path, cli: Any, tmp_path: Path
) -> None:
    create_flow(people, "plain", {**FLOW, "audiences": [{"segment": "parisians"}]}, account="campaign")
    with people.catalog.session() as s:
        assert destinations.get_flow(s, "prod", "plain")["audiences"][0]["schedule"]["frequency"] == "3h"
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("mapping:\n  - {source: person.name.firstName, target: first_name}\n")
    made = cli("activate", "by-cli", "--destination", "campaign", "--segment", "parisians", "--mapping",
               str(mapping), "--json")  # fmt: skip
    assert made.code == 0, made.stderr
    assert made.json()["audiences"][0]["schedule"]["frequency"] == "3h"
