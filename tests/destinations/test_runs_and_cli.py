"""Activation runs that are killed or refused, and the CLI as a user types it, bad input included."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

from accord import destinations
from accord.workspace import Workspace
from tests.destinations.conftest import FLOW, create_flow
from tests.processes import environment, start


def run_states(home: Path) -> list[str]:
    with sqlite3.connect(home / "catalog.db") as db:
        return [row[0] for row in db.execute("SELECT status FROM activation_runs ORDER BY created_at")]


def test_a_killed_run_leaves_no_visible_file_and_the_next_run_completes(people: Workspace, outbox: Path,
                                                                         tmp_path: Path) -> None:  # fmt: skip
    create_flow(people, "paris", FLOW)
    home = people.settings.home
    process = start(environment(home, allowed_roots=str(tmp_path)), "activation", "run", "paris", "--json")
    deadline = time.monotonic() + 120
    while "running" not in run_states(home):  # killed while its run is under way
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.stderr else ""
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    assert sorted(p.name for p in outbox.rglob("*") if not p.name.startswith(".")) == []  # nothing half-made shows

    run = destinations.run_activation(people, "prod", "paris")  # its lock is free: its holder is gone
    assert run["status"] == "success"
    assert sorted(p.name for p in outbox.rglob("*")) == [run["files"][0]["name"]]  # and no partial is left
    runs = destinations.list_runs(people, "prod", "paris")
    assert [(r["status"], r["errors"][0]["message"] if r["errors"] else None) for r in runs] == [
        ("success", None), ("failed", "interrupted: the process running it stopped")]  # fmt: skip
    assert not list((people.lake.staging_root).glob("activation*"))  # its scratch folder was swept


def cli_json(cli: Any, *args: str) -> Any:
    result = cli(*args, "--json")
    assert result.code == 0, (args, result.stdout, result.stderr)
    return result.json()


def test_the_cli_from_account_to_runs(people: Workspace, cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (tmp_path / "drop.yaml").write_text(f"root: {folder}\n")
    (tmp_path / "emails.yaml").write_text(
        "mapping:\n- {source: identityMap.Email, target: email}\n- {source: person.name.firstName, target: first}\n"
        "mandatory: [email]\nconsentChannel: email\nfile: {format: jsonl, compression: gzip}\n")  # fmt: skip
    made = cli_json(
        cli, "destination", "connect", "drop", "--destination", "local", "--config", str(tmp_path / "drop.yaml")
    )
    assert made["config"] == {"root": str(folder)} and made["secretFields"] == []
    assert cli_json(cli, "destination", "test", "drop")["ok"]
    emails = str(tmp_path / "emails.yaml")
    flow = cli_json(cli, "activate", "emails", "--destination", "drop", "--segment", "parisians",
                    "--mapping", emails, "--schedule", "6h", "--start", "2026-12-01")  # fmt: skip
    assert flow["audiences"][0]["schedule"] == {"frequency": "6h", "time": None, "start": "2026-12-01", "end": None}
    dry = cli_json(cli, "activation", "run", "emails", "--dry-run")
    assert dry["dryRun"] and dry["files"] == [] and dry["audiences"][0]["changes"] == {"added": 3}
    assert list(folder.iterdir()) == []
    run = cli_json(cli, "activation", "run", "emails")
    assert run["excluded"] == {"consent": 1, "missingMandatoryAttribute": 1} and len(run["files"]) == 1
    assert [r["id"] for r in cli_json(cli, "activation", "runs", "emails")] == [run["id"], dry["id"]]
    shown = cli("activation", "run", "emails")
    assert (
        shown.code == 0 and "parisians: sent 3 added; left out 1 consent, 1 missingMandatoryAttribute" in shown.stdout
    )
    busy = cli("destination", "delete", "drop", "--json")
    assert (
        busy.code == 4 and "activation flows use destination account 'drop': emails" in busy.json()["error"]["message"]
    )
    assert cli_json(cli, "activation", "delete", "emails") == {"deleted": "emails"}
    assert cli_json(cli, "destination", "delete", "drop") == {"deleted": "drop"}


def test_bad_input_is_said_plainly(people: Workspace, cli: Any, tmp_path: Path) -> None:
    (tmp_path / "box.yaml").write_text(f"root: {tmp_path}\n")
    cli_json(cli, "destination", "connect", "box", "--destination", "local", "--config", str(tmp_path / "box.yaml"))
    cases: list[tuple[tuple[str, ...], int, str]] = [
        (("destination", "connect", "x", "--destination", "fax", "--config", str(tmp_path / "box.yaml")), 3,
         "no destination 'fax'"),
        (("destination", "connect", "y", "--destination", "local", "--config", str(tmp_path / "nowhere.yaml")), 2,
         "cannot read"),
        (("activate", "f", "--destination", "box", "--segment", "parisians", "--mapping", str(tmp_path / "box.yaml"),
          "--schedule", "weekly"), 2, "audiences[0].schedule.frequency"),
        (("activate", "f", "--destination", "box", "--segment", "parisians", "--mapping", str(tmp_path / "box.yaml"),
          "--schedule", "daily@25:00"), 2, "audiences[0].schedule.time"),
        (("activation", "run", "nobody"), 3, "no activation flow named 'nobody'"),
        (("destination", "test", "nobody"), 3, "no destination account named 'nobody'"),
    ]  # fmt: skip
    for args, code, message in cases:
        result = cli(*args, "--json")
        assert result.code == code, (args, result.stdout, result.stderr)
        assert message in json.dumps(result.json()["error"]), (args, result.stdout)
        assert "Traceback" not in result.stdout + result.stderr
    (tmp_path / "bad.yaml").write_text("mapping: [{source: person.name, target: 'bad name'}]\nfile: {format: xml}\n")
    result = cli("activate", "f", "--destination", "box", "--segment", "parisians", "--mapping",
                 str(tmp_path / "bad.yaml"), "--json")  # fmt: skip
    assert result.code == 2
    problems = {p["path"] for p in result.json()["error"]["details"]["problems"]}
    assert "file.format" in problems, problems
    with people.catalog.session() as s:
        assert destinations.list_flows(s, "prod") == []
