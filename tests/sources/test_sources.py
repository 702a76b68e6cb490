"""Sources: connector catalog, encrypted connections, dataflows and runs over local folders and databases."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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


def _big_csv(folder: Path, name: str, rows: int, mtime: int) -> Path:
    """A CSV (gzip) long enough that a run ingesting it is caught mid-way."""
    import duckdb

    path = folder / name
    duckdb.connect().execute(f"COPY (SELECT 'B' || i AS id, 'Big' || i AS first, 'b' || i || '@x.io' AS email "
                             f"FROM range({rows}) t(i)) TO '{path}' (HEADER, COMPRESSION gzip)")  # fmt: skip
    os.utime(path, ns=(mtime, mtime))
    return path


def _holder_of(ws: Workspace, name: str) -> Any:
    from accord.catalog import DataflowRecord
    from accord.jobs import holder

    with ws.catalog.session() as session:
        flow = session.query(DataflowRecord).filter(DataflowRecord.name == name).one()
        return holder(session, f"dataflow:{flow.id}"), flow.running_run_id


def _running_run(ws: Workspace, name: str) -> str | None:
    from accord.catalog import DataflowRecord

    with ws.catalog.session() as session:
        return session.query(DataflowRecord).filter(DataflowRecord.name == name).one().running_run_id


def _runs_of(ws: Workspace, name: str) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return sources.list_runs(session, "prod", name)


def _loading_batch(ws: Workspace) -> Any:
    from accord.catalog import BatchRecord

    with ws.catalog.session() as session:
        return session.query(BatchRecord).filter(BatchRecord.status == "loading").one_or_none()


def _staged(ws: Workspace, batch_id: str) -> list[Path]:
    return [p for folder in (ws.lake.root / "_staging").glob(f"{batch_id}*") for p in folder.rglob("*") if p.is_file()]


def _batch_rows(ws: Workspace) -> int:
    from accord.catalog import BatchRecord

    with ws.catalog.session() as session:
        return sum(b.output_record_count for b in session.query(BatchRecord).filter(BatchRecord.status == "success"))


@pytest.mark.slow
def test_runs_never_overlap(ws: Workspace, tmp_path: Path) -> None:
    """Two real processes: the second is told which run, in which process, holds the dataflow."""
    import signal

    from tests.processes import environment, finish, start, wait_until
    from tests.processes import run as run_accord

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _big_csv(inbox, "big.csv.gz", 200_000, 10**18)
    connect(ws, "folder", "local", {"root": str(inbox)})
    flow(ws, name="f", connection="folder", source={"glob": "*.csv*"})
    env = environment(ws.settings.home, allowed_roots=str(tmp_path))
    first = start(env, "dataflow", "run", "f", "--json")
    lease, run_id = wait_until(lambda: (found := _holder_of(ws, "f"))[0] and found[1] and found,
                               "the first run holds the dataflow", process=first)  # fmt: skip
    assert lease.owner.pid == first.pid
    os.kill(first.pid, signal.SIGSTOP)  # a long run, for as long as this test needs
    try:
        second = run_accord(env, "dataflow", "run", "f", "--json")
        assert second.code == 4, second.stdout + second.stderr
        error = second.json()["error"]
        assert error["code"] == "SOURCE-0409-409"
        assert f"is already running (run {run_id}, pid {first.pid} since " in error["message"]
        with pytest.raises(DataflowRunningError, match=f"run {run_id}, pid {first.pid}"):
            run(ws, "f")
    finally:
        os.kill(first.pid, signal.SIGCONT)
    done = finish(first)
    assert done.code == 0, done.stderr
    assert (done.json()["id"], done.json()["status"], done.json()["files"]) == (run_id, "success", 1)
    assert [r["status"] for r in _runs_of(ws, "f")] == ["success"]  # the refused attempts left no run
    assert _batch_rows(ws) == 200_000


@pytest.mark.slow
def test_a_killed_run_is_taken_over_and_the_next_run_resumes(ws: Workspace, tmp_path: Path) -> None:
    from accord.catalog import BatchRecord
    from accord.sources.scheduling import due_dataflows
    from tests.processes import environment, kill, start, wait_until

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_csv(inbox, "a.csv", ["1,Ann,ann@x.io"], mtime=10**18)
    connect(ws, "folder", "local", {"root": str(inbox)})
    flow(ws, name="f", connection="folder", source={"glob": "*.csv*"},
         schedule={"frequency": "once", "startTime": "2020-01-01T00:00:00+00:00"})  # fmt: skip
    run(ws, "f")
    _big_csv(inbox, "b.csv.gz", 200_000, 10**18 + 1)
    victim = start(environment(ws.settings.home, allowed_roots=str(tmp_path)), "dataflow", "run", "f")
    half = wait_until(lambda: (b := _loading_batch(ws)) and _staged(ws, b.id) and b,
                      "the run is ingesting b.csv.gz, with staged files", process=victim)  # fmt: skip
    killed_run = _running_run(ws, "f")
    kill(victim)
    assert due_dataflows(ws) == [("prod", "f")]  # a dead run does not keep its dataflow from its schedule
    resumed = run(ws, "f")
    assert (resumed["status"], resumed["files"], resumed["recordsIngested"]) == ("success", 1, 200_000)
    assert [r["status"] for r in _runs_of(ws, "f")] == ["success", "failed", "success"]
    with ws.catalog.session() as session:
        assert sources.get_run(session, "prod", killed_run)["errors"][-1]["code"] == "SOURCE-0426-500"
        assert session.get(BatchRecord, half.id).status == "failed"
    assert list((ws.lake.root / "_staging").iterdir()) == []  # neither the killed run's files nor its batch's
    assert not list(ws.lake.root.rglob(f"batch={half.id}*"))
    assert _batch_rows(ws) == 200_001
    with ws.catalog.engine.begin() as connection:  # a crash after a batch committed, before the state did
        connection.execute(text("UPDATE dataflows SET state = '{}'"))
    assert run(ws, "f")["files"] == 0 and _batch_rows(ws) == 200_001


@pytest.mark.slow
def test_a_silent_run_is_taken_over_after_the_stale_delay(ws: Workspace, tmp_path: Path) -> None:
    """A run alive but silent (a hung process, or one on another host): taken over only once its heartbeat is stale."""
    import signal
    from datetime import UTC, datetime

    from tests.processes import environment, kill, start, wait_until

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _big_csv(inbox, "big.csv.gz", 200_000, 10**18)
    connect(ws, "folder", "local", {"root": str(inbox)})
    flow(ws, name="f", connection="folder", source={"glob": "*.csv*"})
    stale = 10
    silent = start(environment(ws.settings.home, allowed_roots=str(tmp_path), stale_run_seconds=str(stale)),
                   "dataflow", "run", "f")  # fmt: skip
    wait_until(lambda: _loading_batch(ws), "the run is ingesting", process=silent)
    os.kill(silent.pid, signal.SIGSTOP)
    stopped_at = datetime.now(UTC)
    impatient = Workspace.open(ws.settings.model_copy(update={"stale_run_seconds": stale}))

    def try_run() -> dict[str, Any] | None:
        try:
            return sources.run_dataflow(impatient, "prod", "f")
        except DataflowRunningError:
            return None

    try:
        taken = wait_until(try_run, "a run takes the silent one over", timeout=300)
    finally:
        kill(silent)
        impatient.close()
    started = datetime.fromisoformat(taken["startedAt"])
    waited = ((started if started.tzinfo else started.replace(tzinfo=UTC)) - stopped_at).total_seconds()
    assert waited >= stale - stale / 6  # not before its heartbeat was stale (it beats every sixth of the bound)
    assert (taken["status"], taken["files"]) == ("success", 1)
    assert [r["status"] for r in _runs_of(ws, "f")] == ["success", "failed"]
    assert _batch_rows(ws) == 200_000


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
