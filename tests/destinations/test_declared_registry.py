"""Declared destinations are found in the folder the settings name (`destinations_path`) as a workspace opens;
a broken document, or one taking a built-in's id, is left out and said, and the built-ins stay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.destinations import destination_ids, destination_spec, list_destinations
from accord.destinations.registry import register_declared
from accord.settings import Settings
from accord.workspace import Workspace, initialise
from tests.destinations.conftest import document


@pytest.fixture
def forget(tmp_path: Path) -> Iterator[None]:
    yield
    register_declared(tmp_path / "nothing-here")


@pytest.mark.usefixtures("forget")
def test_the_folder_of_declared_destinations_is_read_when_a_workspace_opens(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "declared"
    folder.mkdir()
    (folder / "crm.json").write_text(json.dumps(document(id="acme-crm", name="Acme CRM", category="email marketing")))
    (folder / "clash.yaml").write_text(json.dumps(document(id="http")))
    (folder / "broken.yaml").write_text("id: [")
    (folder / "notes.txt").write_text("not a document")
    settings = settings.model_copy(update={"destinations_path": folder})
    initialise(settings)
    Workspace.open(settings).close()
    assert "acme-crm" in destination_ids() and {"http", "ads", "local"} <= set(destination_ids())
    spec = destination_spec("acme-crm")
    assert (spec.name, spec.category, spec.delivery) == ("Acme CRM", "email marketing", "streaming")
    assert destination_spec("http").name == "HTTP API"  # the built-in keeps its id
    assert "acme-crm" in {s.id for s in list_destinations()}
    said = caplog.text
    assert "clash.yaml left out: destination id 'http' is taken" in said and "broken.yaml left out" in said


def test_every_streaming_destination_declares_how_it_gathers_and_tries() -> None:
    streaming = [s for s in list_destinations() if s.delivery == "streaming"]
    assert {"http", "ads"} <= {s.id for s in streaming}
    for spec in streaming:
        document_ = spec.to_document()
        assert document_["aggregation"]["maxProfilesPerRequest"] >= 1 and document_["retry"]["attempts"] >= 1
        assert spec.files is None and "timeoutSeconds" in document_["config"]["properties"]
