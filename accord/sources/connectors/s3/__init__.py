"""Amazon S3 and S3-compatible stores (MinIO, Ceph, moto...): files under a bucket and prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from accord.sources.exceptions import SourceUnavailableError
from accord.sources.files import FileSelection, FileStoreSource, RemoteFile, matches
from accord.sources.network import reach_url
from accord.sources.spec import SECRET, Capabilities, CheckStep, ConnectorSpec


class S3Config(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    bucket: str = Field(min_length=3, max_length=63)
    region: str = "us-east-1"
    endpoint_url: str | None = Field(
        default=None, alias="endpointUrl", description="For S3-compatible stores; empty for AWS."
    )
    access_key_id: str | None = Field(default=None, alias="accessKeyId")
    secret_access_key: str | None = Field(default=None, alias="secretAccessKey", json_schema_extra=SECRET)
    prefix: str = Field(default="", description="Key prefix that this connection may read.")


_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId", "AuthFailure"}


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
            self._cached_client = self._new_client()
        return self._cached_client

    def _new_client(self) -> Any:
        import boto3
        from botocore.config import Config

        config = self.config
        return boto3.client(
            "s3", region_name=config.region, endpoint_url=config.endpoint_url,
            aws_access_key_id=config.access_key_id, aws_secret_access_key=config.secret_access_key,
            config=Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"},
                          max_pool_connections=16),
        )  # fmt: skip

    def check(self) -> list[CheckStep]:
        from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

        steps: list[CheckStep] = []
        endpoint = self.config.endpoint_url
        if endpoint:
            reached = reach_url(endpoint, "endpointUrl")
            steps.append(reached)
            if not reached.ok:
                return steps
        client = self._client()
        try:
            client.head_bucket(Bucket=self.config.bucket)
        except NoCredentialsError:
            return [
                *steps,
                CheckStep("credentials", False, "no credentials given", "set accessKeyId and secretAccessKey"),
            ]
        except EndpointConnectionError as exc:
            return [*steps, CheckStep("endpoint", False, str(exc), "check `endpointUrl` and `region`")]
        except ClientError as exc:
            return [*steps, _diagnose(exc, self.config.bucket, client)]
        steps.append(CheckStep("credentials", True, "accepted"))
        steps.append(CheckStep("bucket", True, f"{self.config.bucket} exists"))
        try:
            client.list_objects_v2(Bucket=self.config.bucket, Prefix=self.config.prefix, MaxKeys=1)
        except ClientError as exc:
            return [*steps, CheckStep("list files", False, _message(exc),
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
                f"listing s3://{self.config.bucket}/{prefix} failed: {_message(exc)}"
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
                f"downloading s3://{self.config.bucket}/{key} failed: {_message(exc)}"
            ) from None
        return target


def _message(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    return f"{error.get('Code', type(exc).__name__)}: {error.get('Message', str(exc))}"


def _diagnose(exc: Any, bucket: str, client: Any) -> CheckStep:
    """Which step failed, from the service's answer to HEAD bucket."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    if code in _CREDENTIAL_CODES:
        return CheckStep("credentials", False, f"the credentials were refused ({code})",
                         "check accessKeyId and secretAccessKey")  # fmt: skip
    if code in ("404", "NoSuchBucket") or status == 404:
        return CheckStep("bucket", False, f"bucket {bucket!r} does not exist", "fix `bucket` (and `region`)")
    if code in ("403", "AccessDenied") or status == 403:
        # HEAD hides the reason: ask again with a call whose error says whether the keys are known.
        try:
            client.list_objects_v2(Bucket=bucket, MaxKeys=1)
        except Exception as again:
            again_code = str(getattr(again, "response", {}).get("Error", {}).get("Code", ""))
            if again_code in _CREDENTIAL_CODES:
                return CheckStep("credentials", False, f"the credentials were refused ({again_code})",
                                 "check accessKeyId and secretAccessKey")  # fmt: skip
        return CheckStep("bucket", False, f"access denied to bucket {bucket!r}",
                         "grant s3:ListBucket and s3:GetObject to these credentials")  # fmt: skip
    return CheckStep("bucket", False, _message(exc), "check the connection settings")
