"""The health of a sandbox's dataflows at a glance (the workspace's home page shows it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from accord import sources
from accord.workspace import Workspace
from tests.sources.conftest import connect, flow, run


def test_runs_are_counted_by_status_and_a_dataflow_failing_now_is_named(ws: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text("id,first,email\n1,Ann,ANN@example.com\n")
    connect(ws, "folder", "local", {"root": str(inbox)})
    connect(ws, "gone", "local", {"root": str(tmp_path / "nope")})
    connect(ws, "late", "local", {"root": str(tmp_path / "late")})
    flow(ws, name="good", connection="folder", source={"glob": "*.csv"})
    flow(ws, name="bad", connection="gone", source={"glob": "*.csv"})
    flow(ws, name="mended", connection="late", source={"glob": "*.csv"})
    assert run(ws, "bad")["status"] == "failed"
    assert run(ws, "mended")["status"] == "failed"
    assert run(ws, "good")["status"] == "success"
    (tmp_path / "late").mkdir()  # the folder appears: the next run succeeds
    assert run(ws, "mended")["status"] == "success"  # its latest run succeeded: no longer failing

    with ws.catalog.session() as session:
        health = sources.run_health(session, "prod", since=datetime.now(UTC) - timedelta(hours=1))
        later = sources.run_health(session, "prod", since=datetime.now(UTC) + timedelta(minutes=1))
    assert health["byStatus"] == {"failed": 2, "success": 2}
    assert [r["dataflow"] for r in health["failing"]] == ["bad"]
    assert "does not exist" in health["failing"][0]["errors"][0]["message"]
    assert later["byStatus"] == {} and [r["dataflow"] for r in later["failing"]] == ["bad"]  # failing whenever it ran
