"""Azure Blob Storage (and azurite): reaching a container."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from accord.sources.network import reach_url
from accord.sources.spec import SECRET, CheckStep


class AzureLocation(BaseModel):
    """A container of a storage account and a credential for it; a connector's configuration adds its prefix."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    account_name: str = Field(alias="accountName", min_length=3, max_length=64)
    container: str = Field(min_length=3, max_length=63)
    account_key: str | None = Field(default=None, alias="accountKey", json_schema_extra=SECRET)
    sas_token: str | None = Field(default=None, alias="sasToken", json_schema_extra=SECRET)
    endpoint: str | None = Field(
        default=None, description="Blob endpoint, e.g. for azurite http://127.0.0.1:10000/devstoreaccount1; "
        "default https://ACCOUNT.blob.core.windows.net",
    )  # fmt: skip

    @model_validator(mode="after")
    def _one_credential(self) -> AzureLocation:
        if not self.account_key and not self.sas_token:
            raise ValueError("give an accountKey or a sasToken")
        return self

    @property
    def url(self) -> str:
        """The account's blob endpoint, without a trailing slash."""
        return (self.endpoint or f"https://{self.account_name}.blob.core.windows.net").rstrip("/")


def azure_container(location: AzureLocation, **options: Any) -> Any:
    """A `ContainerClient` with bounded timeouts and a few retries; `options` go to the client (block sizes...)."""
    from azure.storage.blob import ContainerClient

    credential: Any = (
        {"account_name": location.account_name, "account_key": location.account_key}
        if location.account_key
        else location.sas_token
    )
    return ContainerClient(location.url, location.container, credential=credential,
                           connection_timeout=10, read_timeout=60, retry_total=2, **options)  # fmt: skip


def azure_container_steps(location: AzureLocation, container: Any, permissions: str) -> list[CheckStep]:
    """The first steps of a test: the endpoint, the credentials and the container; the steps that passed, then
    the one that failed if any. `permissions` names what a SAS token that is denied should be given."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

    reached = reach_url(location.url, "endpoint")
    if not reached.ok:
        return [reached]
    steps = [reached]
    try:
        _look_at(container, by_sas=bool(location.sas_token))
    except ClientAuthenticationError:
        return [*steps, CheckStep("credentials", False, "the account key or SAS token was refused",
                                  "check accountName and accountKey (or sasToken)")]  # fmt: skip
    except ResourceNotFoundError:
        return [*steps, CheckStep("credentials", True, "accepted"),
                CheckStep("container", False, f"container {location.container!r} does not exist",
                          "fix `container`")]  # fmt: skip
    except HttpResponseError as exc:
        code = azure_error_code(exc)
        if exc.status_code == 403 and "Permission" in code:
            return [*steps, CheckStep("credentials", False, f"access denied ({code})",
                                      f"give the SAS token {permissions} permissions")]  # fmt: skip
        if exc.status_code == 403:
            return [*steps, CheckStep("credentials", False, f"the account key or SAS token was refused ({code})",
                                      "check accountName and accountKey (or sasToken)")]  # fmt: skip
        return [*steps, CheckStep("container", False, azure_error_message(exc), "check the settings")]
    return [*steps, CheckStep("credentials", True, "accepted"),
            CheckStep("container", True, f"{location.container} exists")]  # fmt: skip


def _look_at(container: Any, by_sas: bool) -> None:
    """Read the container's properties; with a SAS token, which may be the container's own (that cannot read
    them), list one blob instead."""
    from azure.core.exceptions import HttpResponseError

    try:
        container.get_container_properties()
    except HttpResponseError as exc:
        if not (by_sas and exc.status_code == 403):
            raise
        next(iter(container.list_blobs(results_per_page=1)), None)


def azure_error_code(exc: Exception) -> str:
    """The service's error code of a failed call (or its HTTP status)."""
    return str(getattr(exc, "error_code", None) or getattr(exc, "status_code", None) or type(exc).__name__)


def azure_error_message(exc: Exception) -> str:
    """The first line of the SDK's message (the rest repeats the request)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
