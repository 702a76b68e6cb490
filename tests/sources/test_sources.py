"""Sources: connector catalog, encrypted connections, dataflows and runs over local folders and databases."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from accord import lake, sources
from accord.errors import DocumentError, NotFoundError
from accord.sources import SecretBox
from accord.sources.exceptions import DataflowRunningError, SecretKeyError
from accord.workspace import Workspace
from tests.sources.conftest import MAPPING, box, check, connect, firsts, flow, run

HEADER = "id,first,email\n"


def write_csv(folder: Path, name: str, rows: list[str], mtime: int | None = None) -> Path:
    path = folder / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    if mtime is not None:
        os.utime(path, ns=(mtime, mtime))
    return path


def test_catalog_lists_connectors_with_specs() -> None:
    ids = sources.connector_ids()
    assert {"local", "database"} <= set(ids)
    database = sources.connector_spec("database").to_document()
    assert database["category"] == "database" and database["secretFields"] == ["password"]
    assert database["config"]["properties"]["password"]["secret"] is True
    assert database["capabilities"]["supports_incremental"] is True
    with pytest.raises(NotFoundError, match="did you mean local"):
        sources.connector_spec("locall")


def test_secrets_are_encrypted_at_rest_and_never_shown(ws: Workspace, tmp_path: Path) -> None:
    connect(
        ws,
        "db",
        "database",
        {"dialect": "postgresql", "host": "127.0.0.1", "database": "x", "username": "u", "password": "hunter2-secret"},
    )
    with ws.catalog.engine.connect() as connection:
        stored = " ".join(str(v) for row in connection.execute(text("SELECT * FROM connections")) for v in row)
    assert "hunter2-secret" not in stored
    with ws.catalog.session() as session:
        shown = sources.list_connections(session, "prod")
    assert "hunter2-secret" not in str(shown) and shown[0]["secretFields"] == ["password"]
    from accord.catalog import resolve_sandbox

    with ws.catalog.session() as session:
        record = sources.find_connection(session, resolve_sandbox(session, "prod").id, "db")
        assert sources.connections.open_source(record, box(ws)).config.password == "hunter2-secret"
        from cryptography.fernet import Fernet

        with pytest.raises(SecretKeyError, match="not the one they were stored with"):
            sources.connections.open_source(record, SecretBox(tmp_path, key=Fernet.generate_key().decode()))


def test_bad_connection_configs_are_refused_whole(ws: Workspace) -> None:
    with pytest.raises(DocumentError) as caught, ws.catalog.session() as session:
        sources.create_connection(session, box(ws), "prod", "db", "database", {"dialect": "oracle", "port": 99999})
    assert {p["path"] for p in caught.value.problems} >= {"config.dialect", "config.port", "config.database"}


def test_local_folder_picks_up_new_files_once(ws: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_csv(inbox, "a.csv", ["1,Ann,ann@x.io"], mtime=1_000_000_000_000_000_000)
    connect(ws, "folder", "local", {"root": str(inbox)})
    flow(ws, name="crm-files", connection="folder", source={"glob": "*.csv"})
    first = run(ws, "crm-files")
    assert (first["status"], first["files"], first["recordsIngested"]) == ("success", 1, 1)
    assert run(ws, "crm-files")["files"] == 0  # nothing new: nothing ingested twice
    write_csv(inbox, "b.csv", ["2,Bob,bob@x.io", "3,Cy,cy@x.io"], mtime=1_000_000_000_000_000_001)
    write_csv(inbox, "a.csv", ["1,Ann,ann@x.io", "4,Dee,dee@x.io"], mtime=1_000_000_000_000_000_002)  # changed
    third = run(ws, "crm-files")
    assert (third["files"], third["recordsIngested"]) == (1, 2)  # only b.csv: a changed file needs asking
    assert firsts(ws) == ["Ann", "Bob", "Cy"]
    with ws.catalog.session() as session:
        runs = sources.list_runs(session, "prod", "crm-files")
    assert [r["status"] for r in runs] == ["success"] * 3 and runs[0]["durationSeconds"] is not None


def test_changed_files_are_taken_again_only_when_asked(ws: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_csv(inbox, "a.csv", ["1,Ann,ann@x.io"], mtime=10**18)
    connect(ws, "folder", "local", {"root": str(inbox)})
    flow(ws, name="f", connection="folder", source={"glob": "*.csv", "reingestChanged": True})
    run(ws, "f")
    write_csv(inbox, "a.csv", ["1,Ann,ann@x.io", "2,Bob,bob@x.io"], mtime=10**18 + 5)
    assert run(ws, "f")["recordsIngested"] == 2


def test_without_backfill_only_later_files_are_taken(ws: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_csv(inbox, "old.csv", ["1,Old,o@x.io"], mtime=10**18)
    connect(ws, "folder", "local", {"root": str(inbox)})
    flow(ws, name="f", connection="folder", source={"glob": "*.csv"}, backfill=False)
    assert run(ws, "f")["files"] == 0
    write_csv(inbox, "new.csv", ["2,New,n@x.io"], mtime=10**18 + 1)
    assert run(ws, "f")["files"] == 1 and firsts(ws) == ["New"]


def test_a_bad_file_fails_alone_and_the_run_is_partial(ws: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_csv(inbox, "a.csv", ["1,Ann,ann@x.io"], mtime=10**18)
    (inbox / "b.csv").write_text("")
    os.utime(inbox / "b.csv", ns=(10**18 + 1, 10**18 + 1))
    connect(ws, "folder", "local", {"root": str(inbox)})
    flow(ws, name="f", connection="folder", source={"glob": "*.csv"})
    result = run(ws, "f")
    assert result["status"] == "partial" and result["files"] == 2 and result["recordsIngested"] == 1
    assert result["errors"][0]["item"] == "b.csv" and "empty" in result["errors"][0]["message"]
    assert run(ws, "f")["files"] == 0  # the bad file is not retried forever


def _hold_lock(ws: Workspace, pid: int, heartbeat_age_seconds: int = 0) -> str:
    """Pretend another process is running the dataflow: a running run record holding its lock."""
    import socket
    from datetime import UTC, datetime, timedelta

    from accord.catalog import DataflowRecord, FlowRunRecord

    with ws.catalog.session() as session:
        flow = session.query(DataflowRecord).one()
        beat = datetime.now(UTC) - timedelta(seconds=heartbeat_age_seconds)
        run = FlowRunRecord(
            sandbox_id=flow.sandbox_id,
            dataflow_id=flow.id,
            status="running",
            started_at=beat,
            heartbeat_at=beat,
            host=socket.gethostname(),
            pid=pid,
        )
        session.add(run)
        session.flush()
        flow.running_run_id = run.id
        return run.id


def test_runs_never_overlap(ws: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_csv(inbox, "a.csv", ["1,Ann,ann@x.io"], mtime=10**18)
    connect(ws, "folder", "local", {"root": str(inbox)})
    flow(ws, name="f", connection="folder", source={"glob": "*.csv"})
    holder = _hold_lock(ws, os.getpid())  # a live process, beating
    with pytest.raises(DataflowRunningError, match=f"already running \\(run {holder}\\)"):
        run(ws, "f")
    with ws.catalog.session() as session:
        assert sources.get_run(session, "prod", holder)["status"] == "running"


def test_a_killed_run_is_taken_over_and_the_next_run_resumes(ws: Workspace, tmp_path: Path) -> None:
    import subprocess
    import sys

    from accord.catalog import BatchRecord, DatasetRecord

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_csv(inbox, "a.csv", ["1,Ann,ann@x.io"], mtime=10**18)
    connect(ws, "folder", "local", {"root": str(inbox)})
    flow(ws, name="f", connection="folder", source={"glob": "*.csv"})
    run(ws, "f")
    write_csv(inbox, "b.csv", ["2,Bob,bob@x.io"], mtime=10**18 + 1)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    holder = _hold_lock(ws, int(dead.stdout))
    with ws.catalog.session() as session:  # the killed run had started a batch of b.csv
        dataset = session.query(DatasetRecord).one()
        flow_id = session.query(BatchRecord).one().source_key.split(":")[0]
        half = BatchRecord(
            sandbox_id=dataset.sandbox_id,
            dataset_id=dataset.id,
            status="loading",
            source_key=f"{flow_id}:b.csv@{10**18 + 1}",
        )
        session.add(half)
        session.flush()
        half_id = half.id
    resumed = run(ws, "f")
    assert (resumed["status"], resumed["files"]) == ("success", 1)
    assert firsts(ws) == ["Ann", "Bob"]
    with ws.catalog.session() as session:
        assert sources.get_run(session, "prod", holder)["status"] == "failed"
        assert session.get(BatchRecord, half_id).status == "failed"
    with ws.catalog.engine.begin() as connection:  # a crash after a batch committed, before the state did
        connection.execute(text("UPDATE dataflows SET state = '{}'"))
    assert run(ws, "f")["files"] == 0 and firsts(ws) == ["Ann", "Bob"]


def test_a_silent_run_is_taken_over_after_the_stale_delay(ws: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    connect(ws, "folder", "local", {"root": str(inbox)})
    flow(ws, name="f", connection="folder", source={"glob": "*.csv"})
    _hold_lock(ws, os.getpid(), heartbeat_age_seconds=ws.settings.stale_run_seconds + 60)
    assert run(ws, "f")["status"] == "success"


def test_paths_cannot_leave_the_connection_root(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    connect(ws, "folder", "local", {"root": str(tmp_path / "inbox")})
    with pytest.raises(DocumentError) as caught:
        flow(ws, name="f", connection="folder", source={"path": "../..", "glob": "*"})
    assert caught.value.problems[0]["path"] == "source.path" and "without '..'" in caught.value.message


def test_connection_test_says_which_step_failed(ws: Workspace, tmp_path: Path) -> None:
    connect(ws, "missing", "local", {"root": str(tmp_path / "nope")})
    missing = check(ws, "missing")
    assert not missing["ok"] and missing["steps"][0]["step"] == "folder exists"


def test_small_files_are_grouped_and_row_errors_keep_file_and_line(ws: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_csv(inbox, "a.csv", ["1,Ann,ann@x.io", "2,Bad,not-an-email", "3,Cy,cy@x.io"], mtime=10**18)
    write_csv(inbox, "b.csv", ["4,Dee,dee@x.io", "5,Eve,eve@x.io", "6,Fay,fay@x.io", "7,Gus,broken"], mtime=10**18 + 1)
    connect(ws, "folder", "local", {"root": str(inbox)})
    flow(ws, name="f", connection="folder", source={"glob": "*.csv"}, errorThreshold=50)
    result = run(ws, "f")
    assert (result["files"], len(result["batches"]), result["recordsIngested"], result["recordsFailed"]) == (2, 1, 5, 2)
    found = [
        (e["file"], e["lineNumber"], e["record"]["id"]) for e in lake.batch_errors(ws, "prod", result["batches"][0])
    ]
    assert found == [("a.csv", 3, "2"), ("b.csv", 5, "7")]


def test_a_group_whose_files_disagree_falls_back_to_one_batch_each(ws: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_csv(inbox, "a.csv", ["1,Ann,ann@x.io"], mtime=10**18)
    (inbox / "b.csv").write_text("first,id,email\nBob,2,bob@x.io\n")  # other column order
    os.utime(inbox / "b.csv", ns=(10**18 + 1, 10**18 + 1))
    connect(ws, "folder", "local", {"root": str(inbox)})
    flow(ws, name="f", connection="folder", source={"glob": "*.csv"})
    result = run(ws, "f")
    assert (result["status"], result["files"], len(result["batches"])) == ("success", 2, 2)
    assert firsts(ws) == ["Ann", "Bob"]


def test_archives_with_several_files_keep_member_names_and_lines(ws: Workspace, tmp_path: Path) -> None:
    import zipfile

    from accord.ingest import IngestRequest, ingest_file, parse_mapping

    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("one.csv", HEADER + "1,Ann,ann@x.io\n2,Bad,nope\n")
        handle.writestr("two.csv", HEADER + "3,Bob,bob@x.io\n4,Cy,cy@x.io\n5,Bad,nah\n")
    batch = ingest_file(ws, "prod", IngestRequest("crm", archive, parse_mapping(MAPPING), 50))
    assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (3, 2)
    found = [(e["file"], e["lineNumber"]) for e in lake.batch_errors(ws, "prod", batch["id"])]
    assert found == [("export.zip#1", 3), ("export.zip#2", 4)]


def test_a_dataflow_can_be_edited_but_not_moved(ws: Workspace, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_csv(inbox, "a.csv", ["1,Ann,ann@x.io"], mtime=10**18)
    write_csv(inbox, "b.txt", ["2,Bob,bob@x.io"], mtime=10**18 + 1)
    connect(ws, "folder", "local", {"root": str(inbox)})
    flow(ws, name="f", connection="folder", source={"glob": "*.csv"})
    assert run(ws, "f")["files"] == 1
    with ws.catalog.session() as session:
        change = {"source": {"glob": "*.txt"}, "schedule": {"frequency": "day", "interval": 2}}
        changed = sources.update_dataflow(session, "prod", "f", change)
    assert changed["source"]["glob"] == "*.txt" and changed["schedule"]["frequency"] == "day"
    assert run(ws, "f")["files"] == 1 and firsts(ws) == ["Ann", "Bob"]
    with pytest.raises(DocumentError) as caught, ws.catalog.session() as session:
        sources.update_dataflow(session, "prod", "f", {"dataset": "other", "connection": "x"})
    assert [p["path"] for p in caught.value.problems] == ["connection", "dataset"]
    with pytest.raises(DocumentError, match=r"schedule\.frequency"), ws.catalog.session() as session:
        sources.update_dataflow(session, "prod", "f", {"schedule": {"frequency": "yearly"}})


def test_third_party_connectors_register_through_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A package that declares an `accord.sources` entry point appears in the catalog."""
    package = tmp_path / "acme_source"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from accord.sources.connectors.local import LocalFolderSource\n"
        "from accord.sources.spec import ConnectorSpec\n"
        "class AcmeSource(LocalFolderSource):\n"
        "    spec = ConnectorSpec(id='acme', name='Acme drive', category='cloud storage', description='Acme',\n"
        "                         config=LocalFolderSource.spec.config, source=LocalFolderSource.spec.source,\n"
        "                         capabilities=LocalFolderSource.spec.capabilities)\n"
    )
    info = tmp_path / "acme_source-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-source\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[accord.sources]\nacme = acme_source:AcmeSource\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from accord.sources import registry

    registry._entry_points.cache_clear()
    try:
        assert "acme" in sources.connector_ids()
        assert sources.connector_spec("acme").name == "Acme drive"
    finally:
        monkeypatch.undo()
        registry._entry_points.cache_clear()
    assert "acme" not in sources.connector_ids()
