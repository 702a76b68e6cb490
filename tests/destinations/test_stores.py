"""The S3, Azure Blob and SFTP destinations against their real servers: each fault of a connection test
stops at the same step with the same message as the source connector of that store, and a destination
also proves that it may write; large files go up in parts that show only once committed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from accord import destinations, sources
from accord.access import AllowedRoots
from accord.destinations.exceptions import DestinationRefusedError
from accord.workspace import Workspace
from tests.destinations.conftest import export_file, open_account
from tests.destinations.stores import PREFIX, AzureCase, S3Case, SftpCase
from tests.servers import AzuriteServer, MotoServer, SftpServer

pytestmark = pytest.mark.integration


def both_tests(workspace: Workspace, store: str, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The connection test of the same settings as a destination account and as a source connection."""
    roots, box = AllowedRoots.from_settings(workspace.settings), sources.SecretBox(workspace.settings.home)
    name = f"{store}-{os.urandom(4).hex()}"
    with workspace.catalog.session() as session:
        destinations.create_account(session, box, "prod", name, store, config, roots)
        sources.create_connection(session, box, "prod", name, store, config, roots)
    with workspace.catalog.session() as session:
        as_destination = destinations.test_account(session, box, "prod", name, roots)
        as_source = sources.test_connection(session, box, "prod", name, roots)
    return as_destination, as_source


def assert_same_fault(workspace: Workspace, store: str, fault: str, config: dict[str, Any], step: str,
                      message: str) -> None:  # fmt: skip
    """The destination's test stops at `step` with `message`, and the source's at the same step, saying the same."""
    as_destination, as_source = both_tests(workspace, store, config)
    failed = as_destination["steps"][-1]
    assert not as_destination["ok"] and (failed["step"], failed["ok"]) == (step, False), (fault, as_destination)
    assert message in failed["message"] and failed["hint"], (fault, failed)
    same = ("step", "ok", "message")
    assert {k: as_source["steps"][-1][k] for k in same} == {k: failed[k] for k in same}, fault


def assert_write_fault(workspace: Workspace, store: str, config: dict[str, Any], message: str) -> None:
    """A fault that only writing meets: the source connection passes, the destination fails at `write`."""
    as_destination, as_source = both_tests(workspace, store, config)
    failed = as_destination["steps"][-1]
    assert (failed["step"], failed["ok"]) == ("write", False) and message in failed["message"], as_destination
    assert failed["hint"] and as_source["ok"], as_source


# -- S3 --------------------------------------------------------------------------------------------------------


def test_s3_check_faults(workspace: Workspace, moto: MotoServer, closed_port: int) -> None:
    case = S3Case(moto)
    as_destination, _ = both_tests(workspace, "s3", case.config())
    assert as_destination["ok"] and [s["step"] for s in as_destination["steps"]] == [
        "endpoint", "credentials", "bucket", "write",
    ]  # fmt: skip
    faults = {
        "unknown host": ({"endpointUrl": "http://no-such-host.invalid:9000"}, "endpoint",
                         "unknown host no-such-host.invalid"),
        "refused": ({"endpointUrl": f"http://127.0.0.1:{closed_port}"}, "endpoint",
                    f"connection refused by 127.0.0.1:{closed_port}"),
        "bad credentials": ({"accessKeyId": "AKIAWRONGWRONGWRONG1", "secretAccessKey": "wrong"}, "credentials",
                            "the credentials were refused (InvalidAccessKeyId)"),
        "missing bucket": ({"bucket": "no-such-bucket-here"}, "bucket", "bucket 'no-such-bucket-here' does not exist"),
        "permission denied": (dict(zip(("accessKeyId", "secretAccessKey"), moto.limited, strict=True)), "bucket",
                              f"access denied to bucket {case.bucket!r}"),
    }  # fmt: skip
    for fault, (change, step, message) in faults.items():
        assert_same_fault(workspace, "s3", fault, case.config() | change, step, message)
    reader = dict(zip(("accessKeyId", "secretAccessKey"), moto.reader, strict=True))
    assert_write_fault(
        workspace, "s3", case.config() | reader, f"access denied writing to s3://{case.bucket}/{PREFIX}/"
    )
    assert case.held() == {}


def test_s3_large_files_go_up_in_parts_completed_once(workspace: Workspace, moto: MotoServer, tmp_path: Path) -> None:
    case = S3Case(moto)
    destination = open_account(workspace, "s3", case.config())
    content = os.urandom(20 * 2**20)
    destination.write(export_file(tmp_path, "big.csv", content))
    head = case.client().head_object(Bucket=case.bucket, Key=f"{PREFIX}/big.csv")
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload of three parts of 8 MiB at most
    assert case.held() == {f"{PREFIX}/big.csv": content}
    assert case.client().list_multipart_uploads(Bucket=case.bucket).get("Uploads", []) == []


# -- Azure Blob Storage ----------------------------------------------------------------------------------------


def test_azure_check_faults(workspace: Workspace, azurite: AzuriteServer, closed_port: int) -> None:
    case = AzureCase(azurite)
    as_destination, _ = both_tests(workspace, "azure-blob", case.config())
    assert as_destination["ok"] and [s["step"] for s in as_destination["steps"]] == [
        "endpoint", "credentials", "container", "write",
    ]  # fmt: skip
    account = azurite.endpoint.rsplit("/", 1)[1]
    faults = {
        "unknown host": ({"endpoint": f"http://no-such-host.invalid:10000/{account}"}, "endpoint",
                         "unknown host no-such-host.invalid"),
        "refused": ({"endpoint": f"http://127.0.0.1:{closed_port}/{account}"}, "endpoint",
                    f"connection refused by 127.0.0.1:{closed_port}"),
        "bad credentials": ({"accountKey": "d3Jvbmcta2V5LXdyb25nLWtleQ=="}, "credentials",
                            "the account key or SAS token was refused"),
        "missing container": ({"container": "missing-container"}, "container",
                              "container 'missing-container' does not exist"),
        "permission denied": ({"accountKey": None, "sasToken": case.sas(create=True)}, "credentials",
                              "access denied (AuthorizationPermissionMismatch)"),
    }  # fmt: skip
    for fault, (change, step, message) in faults.items():
        assert_same_fault(workspace, "azure-blob", fault, case.config(**change), step, message)
    read_only = case.config(accountKey=None, sasToken=case.sas(read=True, list=True))
    assert_write_fault(workspace, "azure-blob", read_only, "access denied writing to")
    assert case.held() == {}


def test_azure_large_files_are_committed_as_one_block_list(
    workspace: Workspace, azurite: AzuriteServer, tmp_path: Path
) -> None:
    case = AzureCase(azurite)
    destination = open_account(workspace, "azure-blob", case.config())
    content = os.urandom(20 * 2**20)
    destination.write(export_file(tmp_path, "big.csv", content))
    blob = case.service().get_blob_client(case.container, f"{PREFIX}/big.csv")
    committed, uncommitted = blob.get_block_list("all")
    assert (len(committed), len(uncommitted)) == (3, 0)  # three blocks of 8 MiB at most, committed together
    assert case.held() == {f"{PREFIX}/big.csv": content}


# -- SFTP ------------------------------------------------------------------------------------------------------


def test_sftp_check_faults(workspace: Workspace, sftp: SftpServer, closed_port: int) -> None:
    case = SftpCase(sftp)
    for login in ({}, {"password": None, "privateKey": sftp.key}):
        as_destination, _ = both_tests(workspace, "sftp", case.config(**login))
        assert as_destination["ok"] and [s["step"] for s in as_destination["steps"]] == [
            "resolve host", "connect", "host key", "authenticate", "folder", "write",
        ]  # fmt: skip
    faults = {
        "unknown host": ({"host": "no-such-host.invalid"}, "resolve host", "unknown host no-such-host.invalid"),
        "refused": ({"port": closed_port}, "connect", f"connection refused by 127.0.0.1:{closed_port}"),
        "unknown host key": ({"hostKey": None}, "host key",
                             f"host key unknown: the server presents {sftp.fingerprint}"),
        "changed host key": ({"hostKey": "SHA256:" + "A" * 43}, "host key", "host key changed"),
        "bad password": ({"password": "guess"}, "authenticate", "user 'alice' was refused (password)"),
        "unknown client key": ({"password": None, "privateKey": sftp.stranger_key}, "authenticate",
                               "user 'alice' was refused (key)"),
        "missing folder": ({"root": "/nope"}, "folder", "/nope does not exist on the server"),
    }  # fmt: skip
    for fault, (change, step, message) in faults.items():
        assert_same_fault(workspace, "sftp", fault, case.config(**change), step, message)
    # A folder the user may neither list nor write: the source, which lists, stops at `folder`; the destination,
    # which only needs to write (a drop box need not be readable), at `write`. The message is the same.
    as_destination, as_source = both_tests(workspace, "sftp", case.config(root="/locked"))
    assert [(s["step"], s["message"]) for s in (as_destination["steps"][-1], as_source["steps"][-1])] == [
        ("write", "permission denied on /locked"), ("folder", "permission denied on /locked"),
    ]  # fmt: skip
    assert case.held() == {} and list((sftp.root / "locked").iterdir()) == []


def test_sftp_makes_the_sub_folders_a_name_asks_for(workspace: Workspace, sftp: SftpServer, tmp_path: Path) -> None:
    case = SftpCase(sftp)
    destination = open_account(workspace, "sftp", case.config())
    destination.write(export_file(tmp_path, "2026/07/31/a.csv", b"a\n"))
    destination.write(export_file(tmp_path, "2026/07/31/b.csv", b"b\n"))  # the folders are there already
    destination.close()
    assert case.held() == {f"{PREFIX}/2026/07/31/a.csv": b"a\n", f"{PREFIX}/2026/07/31/b.csv": b"b\n"}


def test_a_local_folder_that_does_not_exist_fails_its_test_and_its_run_alike(
    workspace: Workspace, tmp_path: Path
) -> None:
    """As the local source says of it: a mistyped `root` is refused, never made into a new folder."""
    missing = tmp_path / "not" / "there"
    as_destination, as_source = both_tests(workspace, "local", {"root": str(missing)})
    assert [(s["step"], s["message"]) for s in (as_destination["steps"][-1], as_source["steps"][-1])] == [
        ("folder exists", f"{missing} does not exist"), ("folder exists", f"{missing} does not exist")]  # fmt: skip
    assert not as_destination["ok"] and not as_source["ok"]
    destination = open_account(workspace, "local", {"root": str(missing)})
    with pytest.raises(DestinationRefusedError, match="does not exist"):
        destination.write(export_file(tmp_path / "built", "a.csv", b"x\n"))
    assert not missing.exists() and not missing.parent.exists()
