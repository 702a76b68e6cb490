"""The README's tour, run line by line as a newcomer would from the root of the repository."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.servers import stop_child, wait_for_line

ROOT = Path(__file__).parents[1]


def tour_lines() -> list[str]:
    """The commands of the README's tour: its first `sh` block, continuation lines joined, comments kept."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## A short tour.*?```sh\n(.*?)```", readme, re.S)
    assert block, "the README has no tour"
    return block.group(1).replace("\\\n", " ").strip().splitlines()


def run(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
    return result


def documents(text: str) -> list[Any]:
    """The JSON documents printed one after the other."""
    decoder, at = json.JSONDecoder(), 0
    found: list[Any] = []
    while at < len(text.rstrip()):
        document, at = decoder.raw_decode(text, at)
        found.append(document)
        while at < len(text) and text[at].isspace():
            at += 1
    return found


def test_the_readme_tour_works_as_written(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # what `. .venv/bin/activate` does
    env["ACCORD_DUCKDB_THREADS"] = "2"
    lines = tour_lines()
    assert lines[0] == ". .venv/bin/activate" and lines[-1].startswith("accord serve")
    outputs = {}
    for line in lines[1:-1]:
        outputs[line] = run(line, tmp_path, env).stdout

    ingested = json.loads(next(out for line, out in outputs.items() if line.startswith("accord ingest")))
    assert ingested["status"] == "success" and ingested["failedRecordCount"] == 1  # the impossible 31/02/1990
    errors = next(out for line, out in outputs.items() if line.startswith("accord batch errors"))
    assert "31/02/1990" in errors and "INGEST-1217-400" in errors
    person = json.loads(next(out for line, out in outputs.items() if line.startswith("accord profile get")))
    assert person["attributes"]["person"]["name"]["firstName"] == "Ann" and person["events"]["total"] == 3
    job, members = documents(next(out for line, out in outputs.items() if line.startswith("accord segment run")))
    assert job["counts"]["buyers"]["qualified"] == 2 and members["total"] == 2  # Ann (3 orders) and Bob (2)
    activated = next(out for line, out in outputs.items() if line.startswith("accord activation run"))
    assert "buyers: sent 2 added" in activated
    (landed,) = (tmp_path / ".accord" / "landing" / "outbox").glob("*.csv.gz")
    rows = gzip.decompress(landed.read_bytes()).decode().splitlines()
    assert rows[0] == "first_name,last_name,email,segmentMembership.status" and len(rows) == 3

    serve, log = lines[-1].split("#")[0].split(), tmp_path / "serve.log"
    with log.open("wb") as output:  # the tour's port (8000) may be taken here: any free one, which it names
        server = subprocess.Popen([*serve, "--port", "0"], cwd=tmp_path, env=env, stderr=output)
    try:
        port = wait_for_line(server, log, "accord serve", r"Accord API on http://127\.0\.0\.1:(\d+)")
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/datasets", timeout=10).status_code == 401  # it wants a token
    finally:
        stop_child(server)


def test_every_connection_example_is_a_valid_configuration() -> None:
    import yaml

    from accord.destinations import destination_spec, parse_definition
    from accord.sources import connector_spec

    examples = {"landing.yaml": "local", "s3.yaml": "s3"}
    others = {"mapping.yaml", "outbox.yaml", "activation.yaml"}
    assert sorted(examples) == sorted(p.name for p in (ROOT / "examples").glob("*.yaml") if p.name not in others)
    for name, connector in examples.items():
        connector_spec(connector).config.model_validate(yaml.safe_load((ROOT / "examples" / name).read_text()))
    destination_spec("local").config.model_validate(yaml.safe_load((ROOT / "examples" / "outbox.yaml").read_text()))
    flow = yaml.safe_load((ROOT / "examples" / "activation.yaml").read_text())
    parse_definition({**flow, "audiences": [{"segment": "buyers"}]})
