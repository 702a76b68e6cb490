"""Amazon S3 and S3-compatible stores (MinIO, Ceph, moto...): files under a bucket and prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from accord.sources.exceptions import SourceUnavailableError
from accord.sources.files import FileSelection, FileStoreSource, RemoteFile, matches
from accord.sources.spec import Capabilities, CheckStep, ConnectorSpec
from accord.sources.stores.s3 import S3Location, s3_bucket_steps, s3_client, s3_error_message


class S3Config(S3Location):
    prefix: str = Field(default="", description="Key prefix that this connection may read.")


class S3Source(FileStoreSource[S3Config]):
    spec = ConnectorSpec(
        id="s3",
        name="Amazon S3 (and S3-compatible)",
        category="cloud storage",
        description="Files in an S3 bucket, picked up by last-modified time.",
        config=S3Config,
        source=FileSelection,
        capabilities=Capabilities(files=True, supports_incremental=True, supports_reingest_changed=True),
    )

    def _client(self) -> Any:
        if getattr(self, "_cached_client", None) is None:
            self._cached_client = s3_client(self.config)
        return self._cached_client

    def check(self) -> list[CheckStep]:
        from botocore.exceptions import ClientError

        client = self._client()
        steps = s3_bucket_steps(self.config, client, grant="s3:ListBucket and s3:GetObject")
        if not steps[-1].ok:
            return steps
        try:
            client.list_objects_v2(Bucket=self.config.bucket, Prefix=self.config.prefix, MaxKeys=1)
        except ClientError as exc:
            return [*steps, CheckStep("list files", False, s3_error_message(exc),
                                      "the credentials need s3:ListBucket on this bucket and prefix")]  # fmt: skip
        return [*steps, CheckStep("list files", True, f"prefix {self.config.prefix or '/'} readable")]

    def _prefix(self, selection: FileSelection) -> str:
        return self.key_prefix(self.config.prefix, selection)

    def list_files(self, selection: FileSelection) -> list[RemoteFile]:
        from botocore.exceptions import BotoCoreError, ClientError

        prefix = self._prefix(selection)
        found = []
        try:
            pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=self.config.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(prefix) :]
                    if name and not name.endswith("/") and matches(name, selection.glob):
                        modified = int(item["LastModified"].timestamp() * 1e9)
                        found.append(RemoteFile(name, int(item["Size"]), modified))
        except (ClientError, BotoCoreError) as exc:
            raise SourceUnavailableError(
                f"listing s3://{self.config.bucket}/{prefix} failed: {s3_error_message(exc)}"
            ) from None
        return found

    def fetch(self, selection: FileSelection, file: RemoteFile, workdir: Path) -> Path:
        from botocore.exceptions import BotoCoreError, ClientError

        target = self.download_target(workdir, file)
        key = self._prefix(selection) + file.name
        try:
            self._client().download_file(self.config.bucket, key, str(target))
        except (ClientError, BotoCoreError) as exc:
            raise SourceUnavailableError(
                f"downloading s3://{self.config.bucket}/{key} failed: {s3_error_message(exc)}"
            ) from None
        return target
