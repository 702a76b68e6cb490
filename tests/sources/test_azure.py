"""The Azure Blob Storage connector against azurite."""

from __future__ import annotations

import gzip
import time
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from accord import sources
from accord.workspace import Workspace
from tests.servers import AZURITE_ACCOUNT, AZURITE_KEY, AzuriteServer
from tests.sources.conftest import box, connect, firsts, flow, run

pytestmark = pytest.mark.integration


def service(azurite: AzuriteServer) -> BlobServiceClient:
    return BlobServiceClient(azurite.endpoint, credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY})


def config(azurite: AzuriteServer, container: str, **extra: Any) -> dict[str, Any]:
    return {"accountName": AZURITE_ACCOUNT, "accountKey": AZURITE_KEY, "endpoint": azurite.endpoint,
            "container": container, **extra}  # fmt: skip


@pytest.fixture
def container(azurite: AzuriteServer, request: pytest.FixtureRequest) -> str:
    name = f"landing{abs(hash(request.node.name)) % 10**8}"
    service(azurite).create_container(name)
    return name


def test_connection_test_names_the_failing_step(
    ws: Workspace, azurite: AzuriteServer, container: str, closed_port: int
) -> None:
    connect(ws, "good", "azure-blob", config(azurite, container))
    connect(ws, "badkey", "azure-blob", config(azurite, container, accountKey="d3Jvbmcta2V5LXdyb25nLWtleQ=="))
    connect(ws, "nocontainer", "azure-blob", config(azurite, "missing-container"))
    connect(ws, "refused", "azure-blob",
            config(azurite, container, endpoint=f"http://127.0.0.1:{closed_port}/{AZURITE_ACCOUNT}"))  # fmt: skip
    results = {}
    for name in ("good", "badkey", "nocontainer", "refused"):
        with ws.catalog.session() as session:
            results[name] = sources.test_connection(session, box(ws), "prod", name)
    assert results["good"]["ok"]
    assert [s["step"] for s in results["good"]["steps"]] == ["endpoint", "credentials", "container", "list files"]
    expected = {"badkey": ("credentials", "refused"), "nocontainer": ("container", "does not exist"),
                "refused": ("endpoint", "connection refused")}  # fmt: skip
    for name, (step, words) in expected.items():
        last = results[name]["steps"][-1]
        assert (last["step"], last["ok"]) == (step, False) and words in last["message"] and last["hint"], name


def test_blobs_are_ingested_once(ws: Workspace, azurite: AzuriteServer, container: str) -> None:
    client = service(azurite).get_container_client(container)
    client.upload_blob("crm/a.csv.gz", gzip.compress(b"id,first,email\n1,Ann,ann@x.io\n"))
    connect(ws, "blob", "azure-blob", config(azurite, container))
    flow(ws, name="f", connection="blob", source={"path": "crm", "glob": "*.csv.gz"})
    assert run(ws, "f")["recordsIngested"] == 1
    assert run(ws, "f")["files"] == 0
    time.sleep(1.1)
    client.upload_blob("crm/b.csv.gz", gzip.compress(b"id,first,email\n2,Bob,bob@x.io\n"))
    assert run(ws, "f")["recordsIngested"] == 1
    assert firsts(ws) == ["Ann", "Bob"]
