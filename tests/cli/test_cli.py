"""The `accord` command as a user runs it: outputs, --json, exit codes, clear errors."""

from __future__ import annotations

import gzip
import json
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

CSV = "id,first,email\n1,Ann,ann@example.com\n2,Bob,bob@example.com\n3,Cy,nope\n"
MAPPING = """mappings:
  - source: first
    destination: person.name.firstName
  - expression: lower(email)
    destination: personalEmail.address
"""


@pytest.fixture
def ready(cli: Any, tmp_path: Path) -> Any:
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
            "--identity",
            "personalEmail.address=Email:primary",
        ).code
        == 0
    )
    assert cli("dataset", "create", "crm", "--schema", "crm", "--profile-enabled").code == 0
    (tmp_path / "crm.csv").write_text(CSV)
    (tmp_path / "map.yaml").write_text(MAPPING)
    return cli


def test_version_names_the_installed_release(cli: Any) -> None:
    shown = cli("--version")
    assert shown.code == 0 and shown.stdout.strip() == f"accord {metadata.version('accord')}"


def test_init_prints_the_token_once(cli: Any) -> None:
    first = cli("init", "--json")
    assert first.code == 0 and first.json()["token"].startswith("acc_")
    second = cli("init", "--json")
    assert second.code == 0 and second.json()["token"] is None
    human = cli("init")
    assert "Accord is ready" in human.stdout and "acc_" not in human.stdout


def test_ingest_exit_codes_and_batch_commands(ready: Any, tmp_path: Path) -> None:
    ok = ready(
        "ingest",
        str(tmp_path / "crm.csv"),
        "--dataset",
        "crm",
        "--mapping",
        str(tmp_path / "map.yaml"),
        "--error-threshold",
        "50",
        "--json",
    )
    assert ok.code == 0
    batch = ok.json()
    assert (batch["status"], batch["outputRecordCount"], batch["failedRecordCount"]) == ("success", 2, 1)
    failed = ready("ingest", str(tmp_path / "crm.csv"), "-d", "crm", "-m", str(tmp_path / "map.yaml"), "--json")
    assert failed.code == 1 and failed.json()["status"] == "failed"
    shown = ready("batch", "show", batch["id"], "--json")
    assert shown.json()["id"] == batch["id"]
    lines = ready("batch", "errors", batch["id"]).stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["lineNumber"] == 4
    preview = ready("dataset", "preview", "crm", "--json").json()
    assert sorted(r["person"]["name"]["firstName"] for r in preview) == ["Ann", "Bob"]
    listed = ready("batch", "list", "--dataset", "crm", "--json").json()
    assert [b["status"] for b in listed] == ["failed", "success"]
    table = ready("batch", "list", "--dataset", "crm").stdout  # 80 columns: ids whole, to copy into a command
    assert all(b["id"] in table for b in listed), table
    human = ready(
        "ingest", str(tmp_path / "crm.csv"), "-d", "crm", "-m", str(tmp_path / "map.yaml"), "--error-threshold", "50"
    )
    assert human.code == 0 and "success" in human.stdout and "accord batch errors" in human.stdout
    assert ready("batch", "delete", batch["id"], "--json").json()["status"] == "deleted"
    assert ready("batch", "show", batch["id"], "--json").json()["status"] == "deleted"
    left = ready("dataset", "preview", "crm", "--json").json()
    assert sorted(r["person"]["name"]["firstName"] for r in left) == ["Ann", "Bob"]  # the third batch's rows


def test_schema_delete(ready: Any) -> None:
    assert ready("schema", "create", "spare", "--class", "profile", "-g", "demographic-details").code == 0
    used = ready("schema", "delete", "crm")
    assert used.code == 4 and "datasets use it: crm" in used.stderr
    assert ready("schema", "show", "crm").code == 0  # refused: still there
    assert ready("schema", "delete", "spare", "--json").json() == {"deleted": "spare"}
    assert [s["name"] for s in ready("schema", "list", "--json").json()] == ["crm"]
    assert ready("schema", "delete", "spare").code == 3


def test_schema_show_json_and_json_schema(ready: Any) -> None:
    shown = ready("schema", "show", "crm", "--json").json()
    assert shown["identities"] == [{"path": "personalEmail.address", "namespace": "Email", "primary": True}]
    exported = ready("schema", "show", "crm", "--json-schema").json()
    assert exported["meta:class"].endswith("/profile")
    union = ready("schema", "union", "profile", "--json-schema").json()
    assert "personalEmail" in union["properties"] and union["meta:extends"][1:] == ["crm"]
    human = ready("schema", "show", "crm")
    assert "personalEmail.address" in human.stdout and "email" in human.stdout


def test_every_command_speaks_json(ready: Any, tmp_path: Path) -> None:
    for args in (
        ["schema", "list"],
        ["fieldgroup", "list"],
        ["dataset", "list"],
        ["dataset", "stats", "crm"],
        ["sandbox", "list"],
        ["token", "list"],
        ["functions"],
        ["schema", "union", "profile"],
    ):
        result = ready(*args, "--json")
        assert result.code == 0, (args, result.stderr)
        json.loads(result.stdout)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["schema", "show", "crn"], 3, "did you mean crm"),
        (["schema", "create", "x", "--class", "nope"], 2, "unknown class 'nope'"),
        (["schema", "create", "x", "--class", "profile", "--identity", "novalue"], 2, "PATH=NAMESPACE"),
        (["dataset", "create", "crm", "--schema", "crm"], 4, "already exists"),
        (["dataset", "create", "bad name!", "--schema", "crm"], 2, "dataset name"),
        (["ingest", "missing.csv", "-d", "crm"], 2, "cannot open the file"),
        (["ingest", "crm.csv", "-d", "nope"], 3, "no dataset named 'nope'"),
        (["ingest", "crm.csv", "-d", "crm", "--delimiter", "ab"], 2, "invalid read options"),
        (["ingest", "crm.csv", "-d", "crm", "--error-threshold", "-1"], 2, "between 0 and 100"),
        (["batch", "show", "0000"], 3, "no batch"),
        (["--sandbox", "nope", "schema", "list"], 3, "no sandbox named 'nope'"),
        (["schema", "update", "crm", "--file", "missing.yaml"], 2, "cannot read"),
        (["no-such-command"], 2, "No such command"),
    ],
)
def test_errors_are_clear_with_exit_codes_and_no_traceback(
    ready: Any, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    result = ready(*args)
    assert result.code == code, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    as_json = ready(*args, "--json")
    if args[0] != "no-such-command":
        assert json.loads(as_json.stdout)["error"]["code"]


def test_mapping_errors_show_a_caret(ready: Any, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "mappings:\n  - expression: lower(emial)\n    destination: personalEmail.address\n"
    )
    result = ready("ingest", str(tmp_path / "crm.csv"), "-d", "crm", "-m", str(tmp_path / "bad.yaml"))
    assert result.code == 2
    assert "mappings[0].expression (line 1, column 7): unknown column 'emial'" in result.stderr
    assert "lower(emial)\n" in result.stderr and "      ^" in result.stderr


def test_commands_before_init_say_what_to_do(cli: Any) -> None:
    result = cli("schema", "list")
    assert result.code == 2 and "accord init" in result.stderr


def test_demo_runs_end_to_end(cli: Any) -> None:
    result = cli("demo", "--rows", "300", "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    crm, web = summary["batches"]
    assert crm["status"] == "success" and crm["failedRecordCount"] > 0 and crm["outputRecordCount"] > 250
    assert web["status"] == "success" and web["outputRecordCount"] == 1500
    assert summary["sampleProfileRecord"]["_tenant"]["crmId"].startswith("C")
    crm_run, orders, more_orders = summary["runs"]
    assert crm_run["status"] == "partial" and crm_run["recordsFailed"] == crm["failedRecordCount"]
    assert (orders["recordsIngested"], more_orders["recordsIngested"]) == (300, 30)  # the second run: new rows only
    unified = summary["unifiedProfile"]
    assert {i["namespace"] for i in unified["identities"]} >= {"CRMID", "Email"}
    assert unified["attributes"]["_tenant"]["crmId"] == "C0000001" and unified["events"]["total"] > 0
    activation = summary["activation"]  # two audiences to a local folder, with the manifest
    assert activation["status"] == "success" and len(activation["files"]) == 3
    for file, audience in zip(activation["files"], activation["audiences"], strict=False):
        landed = gzip.decompress(Path(file["sinkPath"]).read_bytes()).decode().splitlines()
        assert landed[0] == "first_name,last_name,city,tier,email,segmentMembership.status"
        assert len(landed) - 1 == file["rows"] == audience["rows"] > 0
    manifest = json.loads(Path(activation["files"][2]["sinkPath"]).read_text())
    assert [r["rows"] for r in manifest["exportResults"]] == [f["rows"] for f in activation["files"][:2]]
    streamed = summary["streaming"]  # the newsletter readers, to the HTTP endpoint the demo starts
    assert streamed["run"]["status"] == "success" and streamed["requests"] >= 1
    assert streamed["received"] == activation["audiences"][0]["rows"] == streamed["run"]["profilesReceived"]
    ingested = summary["streamingIngestion"]  # web events through an inlet, into customer C0000001's profile
    assert ingested["accepted"] == ingested["processed"] == 200
    assert ingested["eventsAfter"] == ingested["eventsBefore"] + 200
    told = cli("demo", "--rows", "300").stdout  # for people: why the run is partial while its batch succeeded
    assert "run partial" in told and "under the 5 % error threshold, so the batch was committed without them" in told


def test_a_command_before_init_names_the_home_and_leaves_nothing_behind(tmp_path: Path, monkeypatch: Any) -> None:
    from tests.conftest import run_cli

    folder = tmp_path / "fresh"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for args in (["dataset", "list"], ["connection", "list", "--json"], ["segment", "run"]):
        result = run_cli(*args)
        assert result.code == 2, args
        message = result.stdout if "--json" in args else result.stderr
        assert "accord init" in message and str(folder / ".accord") in message
    assert list(folder.iterdir()) == []  # no .accord folder, no empty catalog.db


def test_documents_that_cannot_be_read_are_named_with_what_is_wrong(ready: Any, tmp_path: Path) -> None:
    """A missing or malformed document is named as the user wrote it, said once, without a library's words."""
    (tmp_path / "bad.yaml").write_text("root: [\n")
    cases = (
        (["connection", "create", "c", "--connector", "local", "--config", str(tmp_path / "none.yaml")],
         f"cannot read {tmp_path / 'none.yaml'}: No such file or directory"),
        (["connection", "create", "c", "--connector", "local", "--config", str(tmp_path / "bad.yaml")],
         f"{tmp_path / 'bad.yaml'} is not valid YAML: expected the node content, but found '<stream end>' (line 2"),
        (["ingest", str(tmp_path / "crm.csv"), "-d", "crm", "-m", str(tmp_path / "none.yaml")],
         "cannot read the file: No such file or directory"),
    )  # fmt: skip
    for args, words in cases:
        refused = ready(*args)
        assert refused.code != 0 and words in refused.stderr, (args, refused.stderr)
        assert (
            "<unicode string>" not in refused.stderr and "  - :" not in refused.stderr and "Errno" not in refused.stderr
        )
