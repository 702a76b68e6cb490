"""Each file destination against its real server, for the tests that hold every one of them to the same rules.

A case knows how to configure an account of its destination on the test's own store (a bucket, a
container, or a folder of its own), how to read back everything that store holds with the server's
own client (not through Accord), and how to make the server refuse or fail a write. The conformance
suite asks the registry which file destinations exist and fails for one that has no case here."""

from __future__ import annotations

import contextlib
import resource
import secrets
import signal
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.servers import AZURITE_ACCOUNT, AZURITE_KEY, AzuriteServer, MotoServer, SftpServer

PREFIX = "exports"
"""Where every case's account writes, inside the test's store: a name that escapes it shows in `held()`."""


class Case(ABC):
    """One file destination configured on a store of the test's own."""

    id: str

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """A good account's configuration."""

    @abstractmethod
    def held(self) -> dict[str, bytes]:
        """Every file or object of the test's store (the prefix's parent), by its path there."""

    @abstractmethod
    def location(self, name: str) -> str:
        """Where `write` says a file of that name landed."""

    @abstractmethod
    def failing(self) -> contextlib.AbstractContextManager[dict[str, Any]]:
        """An account of the same store whose writes the server refuses or breaks off (a context manager)."""

    @abstractmethod
    def put(self, name: str, content: bytes) -> None:
        """Put a file under the prefix by the server's own means (not through Accord)."""

    @abstractmethod
    def under_way(self, name: str) -> bool:
        """Whether the server shows a write of `name` begun and not finished (a partial file with some bytes,
        a multipart upload begun, blocks staged and not committed)."""


def partial_files(folder: Path, name: str) -> list[Path]:
    return [p for p in folder.glob(f".{name}.*.accord-partial") if p.stat().st_size > 0]


class LocalCase(Case):
    id = "local"

    def __init__(self, tmp_path: Path) -> None:
        self.store = tmp_path / "store"
        (self.store / PREFIX).mkdir(parents=True)

    def config(self) -> dict[str, Any]:
        return {"root": str(self.store / PREFIX)}

    def held(self) -> dict[str, bytes]:
        return {str(p.relative_to(self.store)): p.read_bytes() for p in sorted(self.store.rglob("*")) if p.is_file()}

    def location(self, name: str) -> str:
        return str(self.store / PREFIX / name)

    def put(self, name: str, content: bytes) -> None:
        (self.store / PREFIX / name).write_bytes(content)

    def under_way(self, name: str) -> bool:
        return bool(partial_files(self.store / PREFIX, name))

    @contextlib.contextmanager
    def failing(self) -> Iterator[dict[str, Any]]:
        # The tests run as root, whom file permissions do not stop: a limit on the size of the files this
        # process writes breaks the copy off midway instead, as a full disk would.
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, hard))
        try:
            yield self.config()
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, previous)


class CampaignCase(LocalCase):
    """A campaign instance's landing folder: written as the local folder destination writes."""

    id = "accord-campaign"

    def config(self) -> dict[str, Any]:
        return {**super().config(), "instance": "mkt", "targetMapping": "recipient"}


class S3Case(Case):
    id = "s3"

    def __init__(self, moto: MotoServer) -> None:
        self.moto = moto
        self.bucket = f"store-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=self.bucket)

    def client(self) -> Any:
        key, secret_key = self.moto.admin
        return boto3.client("s3", endpoint_url=self.moto.endpoint, region_name="us-east-1",
                            aws_access_key_id=key, aws_secret_access_key=secret_key)  # fmt: skip

    def config(self, keys: tuple[str, str] | None = None) -> dict[str, Any]:
        key, secret_key = keys or self.moto.admin
        return {"bucket": self.bucket, "endpointUrl": self.moto.endpoint, "accessKeyId": key,
                "secretAccessKey": secret_key, "prefix": PREFIX}  # fmt: skip

    def held(self) -> dict[str, bytes]:
        client = self.client()
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=self.bucket).get("Contents", [])]
        return {key: client.get_object(Bucket=self.bucket, Key=key)["Body"].read() for key in keys}

    def location(self, name: str) -> str:
        return f"s3://{self.bucket}/{PREFIX}/{name}"

    def put(self, name: str, content: bytes) -> None:
        self.client().put_object(Bucket=self.bucket, Key=f"{PREFIX}/{name}", Body=content)

    def under_way(self, name: str) -> bool:
        uploads = self.client().list_multipart_uploads(Bucket=self.bucket, Prefix=f"{PREFIX}/{name}")
        return bool(uploads.get("Uploads"))

    @contextlib.contextmanager
    def failing(self) -> Iterator[dict[str, Any]]:
        yield self.config(keys=self.moto.reader)  # may read and list, not write


class AzureCase(Case):
    id = "azure-blob"

    def __init__(self, azurite: AzuriteServer) -> None:
        self.azurite = azurite
        self.container = f"store{secrets.token_hex(6)}"
        self.service().create_container(self.container)

    def service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        credential = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
        return BlobServiceClient(self.azurite.endpoint, credential=credential)

    def config(self, **changes: Any) -> dict[str, Any]:
        return {"accountName": AZURITE_ACCOUNT, "accountKey": AZURITE_KEY, "endpoint": self.azurite.endpoint,
                "container": self.container, "prefix": PREFIX, **changes}  # fmt: skip

    def sas(self, **permissions: bool) -> str:
        """A SAS token of the container with only these permissions."""
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        return str(generate_container_sas(AZURITE_ACCOUNT, self.container, account_key=AZURITE_KEY,
                                          permission=ContainerSasPermissions(**permissions),
                                          expiry=datetime.now(UTC) + timedelta(hours=1)))  # fmt: skip

    def held(self) -> dict[str, bytes]:
        container = self.service().get_container_client(self.container)
        return {blob.name: container.download_blob(blob.name).readall() for blob in container.list_blobs()}

    def location(self, name: str) -> str:
        return f"{self.azurite.endpoint}/{self.container}/{PREFIX}/{name}"

    def put(self, name: str, content: bytes) -> None:
        self.service().get_blob_client(self.container, f"{PREFIX}/{name}").upload_blob(content)

    def under_way(self, name: str) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            _, staged = self.service().get_blob_client(self.container, f"{PREFIX}/{name}").get_block_list("uncommitted")
        except ResourceNotFoundError:
            return False
        return bool(staged)

    @contextlib.contextmanager
    def failing(self) -> Iterator[dict[str, Any]]:
        yield self.config(accountKey=None, sasToken=self.sas(read=True, list=True))


class SftpCase(Case):
    id = "sftp"

    def __init__(self, sftp: SftpServer) -> None:
        self.sftp = sftp
        self.folder = f"data/store-{secrets.token_hex(6)}"
        (sftp.root / self.folder / PREFIX).mkdir(parents=True)

    def config(self, **changes: Any) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.sftp.port, "username": "alice", "password": "wonderland",
                "hostKey": self.sftp.fingerprint, "root": f"/{self.folder}/{PREFIX}", "timeout": 5,
                **changes}  # fmt: skip

    def held(self) -> dict[str, bytes]:
        # what the server holds is the files under its root, on this machine's disk
        store = self.sftp.root / self.folder
        return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}

    def location(self, name: str) -> str:
        return f"sftp://127.0.0.1:{self.sftp.port}/{self.folder}/{PREFIX}/{name}"

    def put(self, name: str, content: bytes) -> None:
        (self.sftp.root / self.folder / PREFIX / name).write_bytes(content)

    def under_way(self, name: str) -> bool:
        return bool(partial_files(self.sftp.root / self.folder / PREFIX, name))

    @contextlib.contextmanager
    def failing(self) -> Iterator[dict[str, Any]]:
        yield self.config(username="bob", password="quota")  # the server stops bob's files at 1 MiB


CASES: dict[str, Callable[[pytest.FixtureRequest, Path], Case]] = {
    "local": lambda request, tmp_path: LocalCase(tmp_path),
    "accord-campaign": lambda request, tmp_path: CampaignCase(tmp_path),
    "s3": lambda request, tmp_path: S3Case(request.getfixturevalue("moto")),
    "azure-blob": lambda request, tmp_path: AzureCase(request.getfixturevalue("azurite")),
    "sftp": lambda request, tmp_path: SftpCase(request.getfixturevalue("sftp")),
}
"""How to set up each file destination's case; the servers are session fixtures, started once per run."""
