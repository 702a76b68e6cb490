"""Sources through the CLI and the REST API, as a user drives them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import Api, setup_crm

MAPPING = {
    "mappings": [
        {"source": "first", "destination": "person.name.firstName"},
        {"expression": "lower(email)", "destination": "personalEmail.address"},
    ]
}


def test_cli_connection_dataflow_and_runs(cli: Any, tmp_path: Path) -> None:
    assert cli("init").code == 0
    assert (
        cli(
            "schema",
            "create",
            "crm",
            "--class",
            "profile",
            "-g",
            "demographic-details",
            "-g",
            "personal-contact-details",
        ).code
        == 0
    )
    assert cli("dataset", "create", "crm", "--schema", "crm").code == 0
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text("first,email\nAnn,ANN@x.io\nBob,bob@x.io\n")
    (tmp_path / "conn.yaml").write_text(f"root: {inbox}\n")
    (tmp_path / "map.json").write_text(json.dumps(MAPPING))
    listed = cli("sources", "list", "--json").json()
    assert {"local", "database"} <= {c["id"] for c in listed}
    assert (
        cli("connection", "create", "landing", "--connector", "local", "--config", str(tmp_path / "conn.yaml")).code
        == 0
    )
    tested = cli("connection", "test", "landing")
    assert tested.code == 0 and "ok folder exists" in tested.stdout
    created = cli(
        "dataflow",
        "create",
        "files",
        "--connection",
        "landing",
        "--dataset",
        "crm",
        "--mapping",
        str(tmp_path / "map.json"),
        "--every",
        "15 minutes",
        "--json",
    ).json()
    assert created["schedule"]["frequency"] == "minute" and created["schedule"]["interval"] == 15
    ran = cli("dataflow", "run", "files", "--json")
    assert ran.code == 0 and ran.json()["recordsIngested"] == 2
    runs = cli("runs", "list", "--dataflow", "files", "--json").json()
    assert [r["status"] for r in runs] == ["success"]
    assert cli("runs", "show", runs[0]["id"], "--json").json()["files"] == 1
    edited = cli("dataflow", "edit", "files", "--every", "1 day", "--json").json()
    assert edited["schedule"] == {"frequency": "day", "interval": 1, "startTime": None}
    assert cli("dataflow", "disable", "files").code == 0
    refused = cli("dataflow", "run", "files")
    assert refused.code == 4 and "disabled" in refused.stderr
    used = cli("connection", "delete", "landing")
    assert used.code == 4 and "dataflows use connection 'landing': files" in used.stderr
    assert [c["name"] for c in cli("connection", "list", "--json").json()] == ["landing"]  # refused: still there
    assert cli("dataflow", "delete", "files").code == 0
    assert cli("dataflow", "list", "--json").json() == []
    assert cli("dataflow", "run", "files").code == 3
    assert cli("runs", "show", runs[0]["id"]).code == 3  # its run history went with it
    assert cli("dataset", "stats", "crm", "--json").json()["rowCount"] == 2  # its data is kept
    assert cli("connection", "delete", "landing").code == 0
    assert cli("connection", "list", "--json").json() == []
    bad = cli("dataflow", "create", "x", "--connection", "nope", "--dataset", "crm")
    assert bad.code == 3 and "no connection named 'nope'" in bad.stderr
    wrong = cli("dataflow", "create", "x", "--connection", "landing", "--dataset", "crm", "--every", "soon")
    assert wrong.code == 2 and "--every" in wrong.stderr


def test_api_connections_never_return_secrets(api: Api, tmp_path: Path) -> None:
    setup_crm(api)
    connectors = api.get("/connectors").json()
    assert any(c["id"] == "database" and c["secretFields"] == ["password"] for c in connectors)
    created = api.post(
        "/connections",
        json={
            "name": "db",
            "connector": "database",
            "config": {"dialect": "sqlite", "database": str(tmp_path / "x.sqlite"), "password": "do-not-return"},
        },
    )
    assert created.status_code == 201 and "do-not-return" not in created.text
    assert "do-not-return" not in api.get("/connections").text
    check = api.post("/connections/db/test").json()
    assert check["ok"] is False and check["steps"][0]["hint"]
    bad = api.post("/connections", json={"name": "x", "connector": "ftpp", "config": {}})
    assert bad.status_code == 404 and bad.json()["code"] == "SOURCE-0404-404" and "local" in bad.json()["message"]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text("first,email\nAnn,ann@x.io\n")
    assert (
        api.post(
            "/connections", json={"name": "landing", "connector": "local", "config": {"root": str(inbox)}}
        ).status_code
        == 201
    )
    flow = api.post("/dataflows", json={"name": "f", "connection": "landing", "dataset": "crm", "mapping": MAPPING})
    assert flow.status_code == 201, flow.text
    run = api.post("/dataflows/f/runs")
    assert run.status_code == 201 and run.json()["recordsIngested"] == 1
    assert api.get("/runs", params={"dataflow": "f"}).json()[0]["id"] == run.json()["id"]
    patched = api.patch("/dataflows/f", json={"enabled": False, "schedule": {"frequency": "hour", "interval": 3}})
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert patched.json()["schedule"]["interval"] == 3
    assert api.patch("/dataflows/f", json={"dataset": "x"}).status_code == 400
    invalid = api.post(
        "/dataflows",
        json={
            "name": "g",
            "connection": "landing",
            "dataset": "crm",
            "source": {"glob": 5},
            "schedule": {"frequency": "yearly"},
        },
    )
    assert invalid.status_code == 400
    assert {p["path"] for p in invalid.json()["details"]["problems"]} >= {"schedule.frequency"}
    refused = api.delete("/connections/landing")
    assert refused.status_code == 409 and "dataflows use connection 'landing': f" in refused.json()["message"]
    assert {c["name"] for c in api.get("/connections").json()} == {"db", "landing"}  # refused: still there
    assert api.delete("/dataflows/f").status_code == 204
    assert api.get("/dataflows/f").status_code == 404 and api.get("/dataflows").json() == []
    assert api.delete("/connections/landing").status_code == 204
    assert {c["name"] for c in api.get("/connections").json()} == {"db"}
    assert api.delete("/connections/landing").status_code == 404
