"""Amazon S3 and S3-compatible stores (MinIO, Ceph, moto...): reaching a bucket."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from accord.sources.network import reach_url
from accord.sources.spec import SECRET, CheckStep


class S3Location(BaseModel):
    """A bucket and the credentials that reach it; a connector's configuration adds its key prefix."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    bucket: str = Field(min_length=3, max_length=63)
    region: str = "us-east-1"
    endpoint_url: str | None = Field(
        default=None, alias="endpointUrl", description="For S3-compatible stores; empty for AWS."
    )
    access_key_id: str | None = Field(default=None, alias="accessKeyId")
    secret_access_key: str | None = Field(default=None, alias="secretAccessKey", json_schema_extra=SECRET)


CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId", "AuthFailure"}
"""Error codes by which S3 says that it does not know the keys (as opposed to denying what they ask)."""


def s3_client(location: S3Location) -> Any:
    """A boto3 S3 client with short connect and bounded read timeouts, and a few retries."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", region_name=location.region, endpoint_url=location.endpoint_url,
        aws_access_key_id=location.access_key_id, aws_secret_access_key=location.secret_access_key,
        config=Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"},
                      max_pool_connections=16),
    )  # fmt: skip


def s3_bucket_steps(location: S3Location, client: Any, grant: str) -> list[CheckStep]:
    """The first steps of a test: the endpoint (when one is set), the credentials and the bucket; the steps
    that passed, then the one that failed if any. `grant` names the permissions a denied account lacks."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    steps: list[CheckStep] = []
    if location.endpoint_url:
        reached = reach_url(location.endpoint_url, "endpointUrl")
        steps.append(reached)
        if not reached.ok:
            return steps
    try:
        client.head_bucket(Bucket=location.bucket)
    except NoCredentialsError:
        return [*steps, CheckStep("credentials", False, "no credentials given", "set accessKeyId and secretAccessKey")]
    except EndpointConnectionError as exc:
        return [*steps, CheckStep("endpoint", False, str(exc), "check `endpointUrl` and `region`")]
    except ClientError as exc:
        return [*steps, _diagnose(exc, location.bucket, client, grant)]
    return [*steps, CheckStep("credentials", True, "accepted"), CheckStep("bucket", True, f"{location.bucket} exists")]


def s3_error_code(exc: Exception) -> str:
    """The service's error code of a failed call ('' when the call did not reach it)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def s3_error_message(exc: Exception) -> str:
    """`Code: message` of a failed call, as the service gave them."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    return f"{error.get('Code', type(exc).__name__)}: {error.get('Message', str(exc))}"


def _diagnose(exc: Any, bucket: str, client: Any, grant: str) -> CheckStep:
    """Which step failed, from the service's answer to HEAD bucket."""
    code = s3_error_code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    if code in CREDENTIAL_CODES:
        return CheckStep("credentials", False, f"the credentials were refused ({code})",
                         "check accessKeyId and secretAccessKey")  # fmt: skip
    if code in ("404", "NoSuchBucket") or status == 404:
        return CheckStep("bucket", False, f"bucket {bucket!r} does not exist", "fix `bucket` (and `region`)")
    if code in ("403", "AccessDenied") or status == 403:
        # HEAD hides the reason: ask again with a call whose error says whether the keys are known.
        try:
            client.list_objects_v2(Bucket=bucket, MaxKeys=1)
        except Exception as again:
            if s3_error_code(again) in CREDENTIAL_CODES:
                return CheckStep("credentials", False, f"the credentials were refused ({s3_error_code(again)})",
                                 "check accessKeyId and secretAccessKey")  # fmt: skip
        return CheckStep("bucket", False, f"access denied to bucket {bucket!r}", f"grant {grant} to these credentials")
    return CheckStep("bucket", False, s3_error_message(exc), "check the connection settings")
