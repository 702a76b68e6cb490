"""A dataflow drafted part by part (the workspace's wizard): its parts checked as given, the fields a mapping may
fill, and its mapping tried on what its connection would deliver, with nothing ingested."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord import lake, sources
from accord.access import AllowedRoots
from accord.errors import PermissionDeniedError
from accord.workspace import Workspace
from tests.sources.conftest import MAPPING, connect, flow


def problems(ws: Workspace, **draft: object) -> dict[str, str]:
    with ws.catalog.session() as session:
        return {p["path"]: p["message"] for p in sources.draft_problems(session, "prod", draft)}


def test_the_parts_given_so_far_are_checked_and_only_those(ws: Workspace, tmp_path: Path) -> None:
    connect(ws, "folder", "local", {"root": str(tmp_path)})
    assert problems(ws, name="crm-files", connection="folder") == {}
    assert problems(ws, name="crm-files", connection="folder", dataset="crm", source={"glob": "*.csv"},
                    readOptions={"delimiter": ";"}, mapping=MAPPING, schedule={"frequency": "day"}) == {}  # fmt: skip
    assert set(problems(ws, name="-bad name")) == {"name"}
    assert "did you mean folder" in problems(ws, connection="foldr")["connection"]
    assert set(problems(ws, dataset="nope")) == {"dataset"}
    found = problems(ws, connection="folder", source={"glob": "*.csv", "path": "../etc", "groupFiles": 0})
    assert set(found) == {"source.path", "source.groupFiles"}
    assert set(problems(ws, readOptions={"delimiter": ";;"})) == {"readOptions.delimiter"}
    assert set(problems(ws, mapping={"mappings": [{"destination": "x"}]})) == {"mapping.mappings[0]"}
    assert set(problems(ws, schedule={"frequency": "fortnight", "interval": 0})) == {"schedule.frequency",
                                                                                     "schedule.interval"}  # fmt: skip
    flow(ws, name="taken", connection="folder", source={"glob": "*.csv"})
    assert "already exists" in problems(ws, name="taken")["name"]


def test_the_fields_a_mapping_may_fill_are_the_schemas_values(ws: Workspace) -> None:
    with ws.catalog.session() as session:
        fields = sources.target_fields(session, "prod", "crm")
    assert {"_tenant.crmId", "person.name.firstName", "personalEmail.address"} <= set(fields)
    assert "person.name" not in fields  # an object holds no value of its own


def test_a_drafted_mapping_is_tried_on_the_first_file_with_nothing_ingested(ws: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text("id,first,email\n1,Ann,ANN@x.io\n2,Bob,bob@x.io\n")
    (inbox / "b.csv").write_text("id,first,email\n3,Cy,cy@x.io\n")
    connect(ws, "folder", "local", {"root": str(inbox)})
    draft = {"connection": "folder", "dataset": "crm", "source": {"glob": "*.csv"}, "mapping": MAPPING}
    shown = sources.preview_dataflow(ws, "prod", draft, AllowedRoots.from_settings(ws.settings))
    assert shown["item"] in ("a.csv", "b.csv") and shown["columns"] == ["id", "first", "email"]
    assert not shown["problems"] and shown["rows"]
    firsts = {r["values"]["person.name.firstName"] for r in shown["rows"]}
    assert firsts in ({"Ann", "Bob"}, {"Cy"})  # one file, not both
    assert all(r["values"]["personalEmail.address"].islower() for r in shown["rows"])  # the mapping's lower()
    with ws.catalog.session() as session:
        assert lake.list_batches(session, "prod", "crm", 10) == []
    nothing = {**draft, "source": {"glob": "*.json"}}
    assert sources.preview_dataflow(ws, "prod", nothing, AllowedRoots.from_settings(ws.settings))["item"] is None


def test_a_preview_reads_only_the_folders_its_caller_may_read(ws: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text("id,first,email\n1,Ann,ann@x.io\n")
    connect(ws, "folder", "local", {"root": str(inbox)})
    draft = {"connection": "folder", "dataset": "crm", "source": {"glob": "*.csv"}}
    with pytest.raises(PermissionDeniedError, match="outside the folders"):
        sources.preview_dataflow(ws, "prod", draft, AllowedRoots.nothing())
