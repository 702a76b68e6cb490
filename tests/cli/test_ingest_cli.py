"""`accord ingest` with bad input: the answer is always a document (`--json`), never a stack trace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

MAPPING = """mappings:
  - source: first
    destination: person.name.firstName
  - expression: lower(email)
    destination: personalEmail.address
"""


@pytest.fixture
def crm(cli: Any, tmp_path: Path) -> Any:
    assert cli("init").code == 0
    created = cli("schema", "create", "crm", "--class", "profile", "-g", "demographic-details",
                  "-g", "personal-contact-details")  # fmt: skip
    assert created.code == 0, created.stderr
    assert cli("dataset", "create", "crm", "--schema", "crm").code == 0
    (tmp_path / "map.yaml").write_text(MAPPING)
    return cli


def deep_text(levels: int) -> str:
    return '{"a":' * (levels - 1) + '{"v":1}' + "}" * (levels - 1)


@pytest.mark.parametrize("levels", [200, 100_000])
def test_a_deeply_nested_record_is_a_row_error_and_json_output_stays_json(
    crm: Any, tmp_path: Path, levels: int
) -> None:
    lines = [
        json.dumps({"first": "Ann", "email": "ann@example.com"}),
        '{"first": "Deep", "email": "d@example.com", "junk": ' + deep_text(levels) + "}",
        json.dumps({"first": "Bob", "email": "bob@example.com"}),
    ]
    (tmp_path / "people.json").write_text("\n".join(lines) + "\n")
    result = crm("ingest", str(tmp_path / "people.json"), "-d", "crm", "-m", str(tmp_path / "map.yaml"),
                 "--error-threshold", "50", "--json")  # fmt: skip
    assert result.code == 0, (result.stdout, result.stderr[-2000:])
    batch = result.json()
    assert (batch["status"], batch["outputRecordCount"], batch["failedRecordCount"]) == ("success", 2, 1)
    assert "Traceback" not in result.stderr
    listed = crm("batch", "errors", batch["id"])
    assert listed.code == 0, listed.stderr[-2000:]
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["lineNumber"], row["_errors"][0]["code"]) == (2, "INGEST-1221-400")
    assert row["_corrupt_record"].startswith('{"first": "Deep"')
    human = crm("ingest", str(tmp_path / "people.json"), "-d", "crm", "-m", str(tmp_path / "map.yaml"),
                "--error-threshold", "50")  # fmt: skip
    assert human.code == 0 and "1 failed" in human.stdout


def test_a_mapping_file_nested_too_deeply_is_a_clear_error(crm: Any, tmp_path: Path) -> None:
    (tmp_path / "people.json").write_text(json.dumps({"first": "Ann", "email": "ann@example.com"}) + "\n")
    for name, text in [("deep.json", '{"mappings": ' + "[" * 100_000 + "]" * 100_000 + "}"),
                       ("deep.yaml", "mappings: " + "[" * 100_000 + "]" * 100_000 + "\n")]:  # fmt: skip
        (tmp_path / name).write_text(text)
        result = crm("ingest", str(tmp_path / "people.json"), "-d", "crm", "-m", str(tmp_path / name), "--json")
        assert result.code == 2, result.stderr[-2000:]
        assert "nested too deeply" in result.json()["error"]["message"]


def test_the_same_file_twice_warns_and_can_be_skipped(crm: Any, tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("first,email\nAnn,ann@example.com\nBob,bob@example.com\n")
    args = ["ingest", str(tmp_path / "people.csv"), "-d", "crm", "-m", str(tmp_path / "map.yaml")]
    first = crm(*args, "--json").json()
    assert first["warnings"] == []
    again = crm(*args)
    assert again.code == 0 and "warning INGEST-1007-200" in again.stdout and first["id"] in again.stdout
    as_json = crm(*args, "--json").json()
    assert as_json["warnings"][0]["code"] == "INGEST-1007-200" and as_json["warnings"][0]["batchId"] == first["id"]
    skipped = crm(*args, "--skip-duplicate-files")
    assert skipped.code == 0 and skipped.stdout.startswith("skipped: the same content was ingested into crm")
    skipped_json = crm(*args, "--skip-duplicate-files", "--json").json()
    assert skipped_json["skipped"] is True and skipped_json["id"] == first["id"]
    assert len(crm("batch", "list", "--dataset", "crm", "--json").json()) == 3  # skips record no batch


def test_a_file_that_is_not_there_records_no_batch(crm: Any, tmp_path: Path) -> None:
    for missing, words in ((tmp_path / "nofile.csv", "nofile.csv: cannot open the file (No such file or directory)"),
                           (tmp_path, "cannot open the file (it is a folder)")):  # fmt: skip
        refused = crm("ingest", str(missing), "--dataset", "crm", "--json")
        assert refused.code == 2 and refused.json()["error"]["code"] == "INGEST-1003-400", refused.stdout
        assert words in refused.json()["error"]["message"]
    assert crm("batch", "list", "--dataset", "crm", "--json").json() == []
