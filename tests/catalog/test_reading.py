"""What the list commands show, read by plain statements (`accord.catalog.reading`).

The same documents as the records say, on SQLite and on a real PostgreSQL; the same through the
standard library as through a session; and the usual path (migrate, seal, say what is wrong) when
the catalog needs it, which a list command takes by itself.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from accord import access, lake, sources
from accord.catalog import (
    ApiToken,
    BatchRecord,
    Catalog,
    ConnectionRecord,
    DatasetRecord,
    Sandbox,
    SchemaRecord,
    SessionReader,
    UserRecord,
    create_sandbox,
    head_revision,
    quick_reader,
    resolve_sandbox,
    sandbox_id_of,
    utcnow,
)
from accord.settings import Settings
from accord.workspace import Workspace, initialise

LONG_AGO = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def fill(settings: Settings) -> None:
    """Two sandboxes, each with datasets (batches of every status, none at all), connections and tokens."""
    initialise(settings)
    workspace = Workspace.open(settings)
    try:
        with workspace.catalog.session() as session:
            create_sandbox(session, "dev")
            for sandbox in ("prod", "dev"):
                sandbox_id = resolve_sandbox(session, sandbox).id
                crm = SchemaRecord(
                    sandbox_id=sandbox_id, name="crm", class_name="profile", field_groups=[], identities=[]
                )
                web = SchemaRecord(sandbox_id=sandbox_id, name="web", class_name="experienceevent", field_groups=[],
                                   identities=[])  # fmt: skip
                session.add_all([crm, web])
                session.flush()
                people = DatasetRecord(sandbox_id=sandbox_id, name="people", schema_id=crm.id, profile_enabled=True,
                                       created_at=LONG_AGO)  # fmt: skip
                events = DatasetRecord(sandbox_id=sandbox_id, name="events", schema_id=web.id, ttl_days=30)
                empty = DatasetRecord(sandbox_id=sandbox_id, name="empty", schema_id=crm.id)
                session.add_all([people, events, empty])
                session.flush()
                for status, rows in [("success", 3_000_000_000), ("success", 7), ("failed", 5), ("loading", 11)]:
                    session.add(BatchRecord(sandbox_id=sandbox_id, dataset_id=people.id, status=status,
                                            output_record_count=rows))  # fmt: skip
                session.add(BatchRecord(sandbox_id=sandbox_id, dataset_id=events.id, status="failed"))
                session.add_all([
                    ConnectionRecord(sandbox_id=sandbox_id, name="bucket", connector="s3",
                                     config={"bucket": "b", "nested": {"deep": [1, "two"]}}, secrets="sealed",
                                     secret_fields=["secretAccessKey", "accessKeyId"], created_at=LONG_AGO),
                    ConnectionRecord(sandbox_id=sandbox_id, name="inbox", connector="local", config={"root": "/x"},
                                     secret_fields=[]),
                ])  # fmt: skip
        access.create_token(workspace.catalog, "ci-prod", sandbox="prod")
        gone, _plain = access.create_token(workspace.catalog, "gone")
        access.revoke_token(workspace.catalog, gone.id)
        access.create_token(workspace.catalog, "ci-dev", "analyst", sandbox="dev", expires=utcnow() + timedelta(days=3))
    finally:
        workspace.close()


def expected(settings: Settings) -> dict[str, Any]:
    """What each list must show, worked out from the records by the ORM (not by the statements under test)."""
    workspace = Workspace.open(settings)
    try:
        with workspace.catalog.session() as session:
            shown: dict[str, Any] = {}
            for sandbox in ("prod", "dev"):
                sandbox_id = resolve_sandbox(session, sandbox).id
                datasets = session.scalars(select(DatasetRecord).where(DatasetRecord.sandbox_id == sandbox_id))
                documents = []
                for record in sorted(datasets, key=lambda r: r.name):
                    schema = session.get(SchemaRecord, record.schema_id)
                    assert schema is not None
                    succeeded = select(BatchRecord).where(BatchRecord.dataset_id == record.id,
                                                          BatchRecord.status == "success")  # fmt: skip
                    done = session.scalars(succeeded).all()
                    documents.append({"id": record.id, "name": record.name, "schema": schema.name,
                                      "class": schema.class_name, "profileEnabled": record.profile_enabled,
                                      "ttlDays": record.ttl_days, "schemaContract": record.schema_contract,
                                      "createdAt": record.created_at.isoformat(),
                                      "batchCount": len(done),
                                      "rowCount": sum(b.output_record_count for b in done)})  # fmt: skip
                connections = session.scalars(select(ConnectionRecord).where(ConnectionRecord.sandbox_id == sandbox_id))
                shown[sandbox] = {
                    "datasets": documents,
                    "connections": [sources.connection_document(c) for c in sorted(connections, key=lambda c: c.name)],
                }
            tokens = session.execute(
                select(ApiToken, Sandbox.name, UserRecord.name)
                .outerjoin(Sandbox, Sandbox.id == ApiToken.sandbox_id)
                .outerjoin(UserRecord, UserRecord.id == ApiToken.user_id)
            )
            shown["tokens"] = [
                {"id": t.id, "name": t.name, "user": user, "role": t.role, "sandbox": sandbox,
                 "createdAt": t.created_at.isoformat(),
                 "expiresAt": t.expires_at.isoformat() if t.expires_at else None, "revoked": t.revoked_at is not None}
                for t, sandbox, user in sorted(tokens, key=lambda row: (row[0].created_at, row[0].id))
            ]  # fmt: skip
            return shown
    finally:
        workspace.close()


def read_through(reader: Any, sandbox_id: str) -> dict[str, Any]:
    return {
        "datasets": lake.read_datasets(reader, sandbox_id),
        "connections": sources.read_connections(reader, sandbox_id),
    }


@pytest.mark.integration
def test_lists_show_what_the_records_hold(catalog_settings: Settings) -> None:
    fill(catalog_settings)
    want = expected(catalog_settings)
    assert want["prod"]["datasets"][2]["rowCount"] == 3_000_000_007  # sums past 32 bits, and only successes
    assert want["prod"]["connections"][0]["secretFields"] == ["secretAccessKey", "accessKeyId"]
    workspace = Workspace.open(catalog_settings)
    try:
        with workspace.catalog.session() as session:
            reader = SessionReader(session)
            for sandbox in ("prod", "dev"):
                got = read_through(reader, resolve_sandbox(session, sandbox).id)
                assert got == want[sandbox]
                for document in got["datasets"]:
                    assert type(document["rowCount"]) is int and type(document["profileEnabled"]) is bool
                    assert datetime.fromisoformat(document["createdAt"]).utcoffset() is not None
            assert access.read_tokens(reader) == want["tokens"]
            assert lake.get_dataset(session, "prod", "people") == want["prod"]["datasets"][2]
    finally:
        workspace.close()


def test_the_standard_library_reads_what_a_session_reads(settings: Settings) -> None:
    fill(settings)
    want = expected(settings)
    with quick_reader(settings) as reader:
        assert reader is not None
        for sandbox in ("prod", "dev"):
            sandbox_id = sandbox_id_of(reader, sandbox)
            assert sandbox_id is not None
            assert read_through(reader, sandbox_id) == want[sandbox]
        assert access.read_tokens(reader) == want["tokens"]
        assert sandbox_id_of(reader, "nowhere") is None and sandbox_id_of(reader, "") is None


def test_the_usual_path_when_the_catalog_needs_it(settings: Settings, tmp_path: Path) -> None:
    """None (open the workspace) for: no catalog, an older revision, secrets in clear, not SQLite, not a database."""
    with quick_reader(settings) as quick:
        assert quick is None and not (settings.home / "catalog.db").exists()  # and it made no file
    fill(settings)
    database = settings.home / "catalog.db"
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0010'")
    with quick_reader(settings) as quick:
        assert quick is None
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (head_revision(),))
        connection.execute("UPDATE connections SET secret_fields = NULL WHERE name = 'inbox'")
    with quick_reader(settings) as quick:
        assert quick is None
    postgres = Settings(home=settings.home, database_url="postgresql://nobody@127.0.0.1:1/nothing")
    with quick_reader(postgres) as quick:
        assert quick is None
    (tmp_path / "not-a-catalog").mkdir()
    (tmp_path / "not-a-catalog" / "catalog.db").write_bytes(b"this is not a database" * 100)
    with quick_reader(Settings(home=tmp_path / "not-a-catalog")) as quick:
        assert quick is None


def test_list_commands_migrate_and_seal_an_older_catalog_first(settings: Settings, cli: Any) -> None:
    """A list command on a catalog an older Accord left (revision 0008, a secret in clear) shows what it
    holds, never the secret, and leaves the catalog at the newest revision with the secret sealed."""
    catalog = Catalog(settings.catalog_url, create=True)
    catalog.upgrade("0008")
    with catalog.session() as session:
        sandbox_id = create_sandbox(session, "prod").id
    with catalog.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO connections (id, sandbox_id, name, connector, config, secrets, created_at, updated_at) "
                 "VALUES ('c1', :sandbox, 'bucket', 's3', :config, '', :now, :now)"),
            {"sandbox": sandbox_id, "now": "2026-01-01 00:00:00.000000",
             "config": json.dumps({"bucket": "b", "accessKeyId": "AKIAOLD", "secretAccessKey": "old-secret-in-clear"})},
        )  # fmt: skip
    catalog.dispose()
    sources.ensure_key_file(settings.home)

    listed = cli("connection", "list", "--json")
    assert listed.code == 0, listed.stderr
    assert "old-secret-in-clear" not in listed.stdout
    (shown,) = json.loads(listed.stdout)
    assert shown["name"] == "bucket" and shown["secretFields"] == ["secretAccessKey"]
    assert shown["config"] == {"bucket": "b", "accessKeyId": "AKIAOLD"}
    assert shown["createdAt"] == "2026-01-01T00:00:00+00:00"
    with sqlite3.connect(settings.home / "catalog.db") as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
        assert "old-secret-in-clear" not in str(connection.execute("SELECT * FROM connections").fetchall())
    assert cli("dataset", "list", "--json").json() == []
    gone = cli("--sandbox", "nowhere", "dataset", "list")
    assert gone.code == 3 and "no sandbox named 'nowhere'" in gone.stderr


def test_a_list_waits_for_a_writer_instead_of_failing(settings: Settings, cli: Any) -> None:
    """A write in progress in another process (an open transaction) does not break a list: it reads the last commit."""
    fill(settings)
    writer = sqlite3.connect(settings.home / "catalog.db", timeout=30)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE datasets SET name = 'renamed' WHERE name = 'empty'")
        before = cli("dataset", "list", "--json")
        assert before.code == 0, before.stderr
        assert "empty" in [d["name"] for d in json.loads(before.stdout)]
        writer.commit()
    finally:
        writer.close()
    after = cli("dataset", "list", "--json").json()
    assert "renamed" in [d["name"] for d in after]


def test_a_list_says_what_is_wrong_with_the_sandbox_or_the_catalog(
    settings: Settings, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty or unknown sandbox name, a catalog file that is not one: a clear error, never a trace."""
    assert cli("init").code == 0
    for sandbox in ("", "prd"):
        monkeypatch.setenv("ACCORD_SANDBOX", sandbox)  # an empty name can come from the environment
        for command in (("dataset", "list"), ("connection", "list")):
            result = cli(*command, "--json")
            assert result.code == 3, (sandbox, result.stdout, result.stderr)
            assert f"no sandbox named {sandbox!r}" in result.json()["error"]["message"]
    monkeypatch.delenv("ACCORD_SANDBOX")
    (settings.home / "catalog.db").write_bytes(b"these bytes are not a database" * 1000)
    for command in (("dataset", "list"), ("token", "list"), ("sandbox", "list")):
        result = cli(*command, "--json")
        assert result.code == 2, (command, result.stdout, result.stderr)
        message = result.json()["error"]["message"]
        assert "cannot be read" in message and "file is not a database" in message, message
        assert "Traceback" not in result.stdout + result.stderr


def test_a_list_keeps_the_home_owner_only(settings: Settings, cli: Any) -> None:
    """The quick path protects the home as opening a workspace does: a home opened to others is closed again."""
    assert cli("init").code == 0
    for path in [settings.home, *settings.home.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    old = os.umask(0o022)
    try:
        assert cli("dataset", "list", "--json").code == 0
    finally:
        os.umask(old)
    for path in [settings.home, *settings.home.rglob("*")]:
        assert not stat.S_IMODE(path.stat().st_mode) & 0o077, (path, oct(path.stat().st_mode))
