"""A writer killed (SIGKILL) in the middle of a file leaves nothing under the file's name, at every file
destination the registry knows; where the file was on its way in under a hidden partial name (a folder,
SFTP), `sweep` removes that partial once its writer is dead, and leaves a live writer's alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accord.destinations.landing import partial_name
from accord.workspace import Workspace
from tests.destinations.conftest import export_file, open_account
from tests.destinations.stores import PREFIX, Case

pytestmark = pytest.mark.integration

WRITER = """
import json, sys
from accord.destinations.registry import destination_class
from accord.destinations.spec import ExportFile
from pathlib import Path

job = json.loads(sys.argv[1])
kind = destination_class(job["destination"])
destination = kind(kind.spec.config.model_validate(job["config"]))
destination.write(ExportFile(Path(job["path"]), job["name"], 0, Path(job["path"]).stat().st_size))
"""


def killed_midway(case: Case, source: Path, name: str) -> int:
    """Start a writer of `source` as `name` in a process of its own, SIGKILL it once the server shows the write
    under way, and return its process id."""
    job = {"destination": case.id, "config": case.config(), "path": str(source), "name": name}
    said = source.with_name("writer.err")
    with said.open("wb") as errors:
        writer = subprocess.Popen([sys.executable, "-c", WRITER, json.dumps(job)], stderr=errors)
    try:
        deadline = time.monotonic() + 60
        while not case.under_way(name):
            assert writer.poll() is None, f"the writer ended before it was killed: {said.read_text()}"
            assert time.monotonic() < deadline, "the write never showed on the server"
            time.sleep(0.01)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    return writer.pid


def test_a_writer_killed_midway_leaves_nothing_under_the_name(workspace: Workspace, case: Case, tmp_path: Path) -> None:
    source = tmp_path / "huge.csv"
    with source.open("wb") as handle:
        handle.truncate(4 * 2**30)  # sparse: read fast, written for seconds, never whole before the kill
    dead = killed_midway(case, source, "audience.csv")

    held = case.held()
    assert f"{PREFIX}/audience.csv" not in held
    partials = [path for path in held if path.endswith(".accord-partial")]
    assert held.keys() == set(partials) and all(f"-{dead}." in p for p in partials), held  # hidden, and its own

    destination = open_account(workspace, case.id, case.config())
    sweep = getattr(destination, "sweep", None)
    if partials:
        assert sweep is not None, f"{case.id} leaves partial files but cannot sweep them"
        live = partial_name("other.csv")  # this test's own process is a live writer
        case.put(live, b"a live writer's file on its way in")
        assert sweep() == 1
        assert case.held() == {f"{PREFIX}/{live}": b"a live writer's file on its way in"}
    destination.write(export_file(tmp_path / "out", "audience.csv", b"the run again, whole\n"))
    assert case.held().get(f"{PREFIX}/audience.csv") == b"the run again, whole\n"
    destination.close()
