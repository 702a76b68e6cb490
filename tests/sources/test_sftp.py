"""The SFTP connector against a real SFTP server: every failure the troubleshooting guide lists."""

from __future__ import annotations

import os
from typing import Any

import pytest

from accord import sources
from accord.errors import DocumentError
from accord.workspace import Workspace
from tests.servers import SftpServer
from tests.sources.conftest import box, connect, firsts, flow, run

pytestmark = pytest.mark.integration


def config(sftp: SftpServer, **extra: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": sftp.port, "username": "alice", "password": "wonderland",
            "hostKey": sftp.fingerprint, "root": "/data", "timeout": 5, **extra}  # fmt: skip


def last_step(ws: Workspace, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        result = sources.test_connection(session, box(ws), "prod", name)
    return result["steps"][-1] | {"ok_all": result["ok"]}


CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "unknown-host": ({"host": "no-such-host.invalid"}, "resolve host", "unknown host"),
    "refused": ({"port": 0}, "connect", "connection refused"),
    "unknown-key": ({"hostKey": None}, "host key", "host key unknown"),
    "changed-key": ({"hostKey": "SHA256:" + "A" * 43}, "host key", "host key changed"),
    "bad-password": ({"password": "guess"}, "authenticate", "(password)"),
    "stranger-key": ({"password": None, "privateKey": "STRANGER"}, "authenticate", "(key)"),
    "missing-folder": ({"root": "/nope"}, "folder", "does not exist"),
    "no-permission": ({"root": "/locked"}, "folder", "permission denied"),
}


def test_connection_test_walks_every_step(ws: Workspace, sftp: SftpServer, closed_port: int) -> None:
    connect(ws, "by-password", "sftp", config(sftp))
    connect(ws, "by-key", "sftp", config(sftp, password=None, privateKey=sftp.key))
    for name in ("by-password", "by-key"):
        with ws.catalog.session() as session:
            result = sources.test_connection(session, box(ws), "prod", name)
        assert result["ok"], result
        assert [s["step"] for s in result["steps"]] == ["resolve host", "connect", "host key", "authenticate", "folder"]
    for name, (change, step, message) in CASES.items():
        if change.get("port") == 0:
            change = {**change, "port": closed_port}
        if change.get("privateKey") == "STRANGER":
            change = {**change, "privateKey": sftp.stranger_key}
        connect(ws, name, "sftp", config(sftp, **change))
        found = last_step(ws, name)
        assert (found["step"], found["ok"], found["ok_all"]) == (step, False, False), (name, found)
        assert message in found["message"] and found["hint"], (name, found)
    assert sftp.fingerprint in last_step(ws, "unknown-key")["hint"]  # what to pin, as ssh shows it


def test_sftp_files_are_picked_up_once(ws: Workspace, sftp: SftpServer) -> None:
    folder = sftp.root / "data" / "crm"
    folder.mkdir(exist_ok=True)
    (folder / "a.csv").write_text("id,first,email\n1,Ann,ann@x.io\n2,Bob,bob@x.io\n")
    os.utime(folder / "a.csv", (1_700_000_000, 1_700_000_000))
    connect(ws, "server", "sftp", config(sftp, password=None, privateKey=sftp.key))
    flow(ws, name="f", connection="server", source={"path": "crm", "glob": "*.csv"})
    first = run(ws, "f")
    assert (first["status"], first["files"], first["recordsIngested"]) == ("success", 1, 2)
    assert run(ws, "f")["files"] == 0
    (folder / "b.csv").write_text("id,first,email\n3,Cy,cy@x.io\n")
    os.utime(folder / "b.csv", (1_700_000_100, 1_700_000_100))
    assert run(ws, "f")["recordsIngested"] == 1
    assert firsts(ws) == ["Ann", "Bob", "Cy"]
    with pytest.raises(DocumentError, match=r"without '\.\.'"):  # refused when stored, not only when run
        flow(ws, name="escape", connection="server", source={"path": "../..", "glob": "*"})
