"""Amazon S3 and S3-compatible stores: activation files put under a bucket and key prefix.

A file lands in one request, or, past `part_size`, as a multipart upload that S3 shows only once it
is completed (and that is aborted when a part fails): a reader never sees part of a file."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from accord.destinations.exceptions import DestinationRefusedError, DestinationUnavailableError
from accord.destinations.landing import key_prefix, probe_name, relative_name
from accord.destinations.spec import SYNC_MODES, DestinationSpec, ExportFile, FileDestination, FileOptions
from accord.sources import CheckStep, S3Location, s3_bucket_steps, s3_client, s3_error_code, s3_error_message

GRANT = "s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject"
REFUSALS = {"AccessDenied", "403", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
"""Error codes that no retry will cure: the account or the bucket must change."""


class S3DestinationConfig(S3Location):
    prefix: str = Field(default="", description="Key prefix the files are written under (`exports/` puts "
                        "`a.csv` at `exports/a.csv`).")  # fmt: skip


class S3Destination(FileDestination[S3DestinationConfig]):
    spec = DestinationSpec(
        id="s3",
        name="Amazon S3 (and S3-compatible)",
        category="cloud storage",
        description="Audience files in an S3 bucket (or MinIO, Ceph...), under a key prefix.",
        config=S3DestinationConfig,
        export_type="profile",
        delivery="batch",
        files=FileOptions(),
        sync_modes=SYNC_MODES,
    )
    part_size = 8 * 2**20
    """A file larger than this goes up in parts of this size, as one multipart upload."""

    _cached_client: Any = None

    def _client(self) -> Any:
        if self._cached_client is None:
            self._cached_client = s3_client(self.config)
        return self._cached_client

    def _key(self, name: str) -> str:
        return key_prefix(self.config.prefix) + relative_name(name)

    def _url(self, key: str) -> str:
        return f"s3://{self.config.bucket}/{key}"

    def check(self) -> list[CheckStep]:
        steps = s3_bucket_steps(self.config, self._client(), grant=GRANT)
        return steps if not steps[-1].ok else [*steps, self._probe()]

    def _probe(self) -> CheckStep:
        """Put an empty object under the prefix and delete it again."""
        from botocore.exceptions import BotoCoreError, ClientError

        client, where = self._client(), self._url(key_prefix(self.config.prefix))
        key = key_prefix(self.config.prefix) + probe_name()
        try:
            client.put_object(Bucket=self.config.bucket, Key=key, Body=b"")
        except ClientError as exc:
            if s3_error_code(exc) in REFUSALS:
                return CheckStep("write", False, f"access denied writing to {where}", f"grant {GRANT} on it")
            return CheckStep("write", False, s3_error_message(exc), "check the bucket's settings")
        except BotoCoreError as exc:
            return CheckStep("write", False, str(exc), "check `endpointUrl` and `region`")
        try:
            client.delete_object(Bucket=self.config.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            return CheckStep("write", True, f"can write to {where}; the probe {key} could not be deleted "
                             f"({s3_error_message(exc)}): delete it, and grant s3:DeleteObject")  # fmt: skip
        return CheckStep("write", True, f"can write to {where}")

    def write(self, file: ExportFile) -> str:
        from boto3.exceptions import Boto3Error
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        key = self._key(file.name)
        parts = TransferConfig(multipart_threshold=self.part_size, multipart_chunksize=self.part_size,
                               max_concurrency=4)  # fmt: skip
        try:
            self._client().upload_file(str(file.path), self.config.bucket, key, Config=parts)
        except (ClientError, BotoCoreError, Boto3Error) as exc:
            raise self._failure(exc, f"writing {self._url(key)}") from None
        return self._url(key)

    def exists(self, name: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self._key(name)
        try:
            self._client().head_object(Bucket=self.config.bucket, Key=key)
        except ClientError as exc:
            if s3_error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._failure(exc, f"looking for {self._url(key)}") from None
        except BotoCoreError as exc:
            raise self._failure(exc, f"looking for {self._url(key)}") from None
        return True

    @staticmethod
    def _failure(exc: Exception, doing: str) -> DestinationRefusedError | DestinationUnavailableError:
        """Our error for a failed call: refused (fix the account) or unavailable (try again later)."""
        # boto3's managed transfer wraps the service's answer (S3UploadFailedError): the answer says more
        context = exc.__context__
        cause = context if not hasattr(exc, "response") and isinstance(context, Exception) else exc
        message = f"{doing} failed: {s3_error_message(cause)}"
        if s3_error_code(cause) in REFUSALS:
            return DestinationRefusedError(message)
        return DestinationUnavailableError(message)
