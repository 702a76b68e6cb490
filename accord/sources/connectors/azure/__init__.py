"""Azure Blob Storage (and azurite): files under a container and prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from accord.sources.exceptions import SourceUnavailableError
from accord.sources.files import FileSelection, FileStoreSource, RemoteFile, matches
from accord.sources.network import reach_url
from accord.sources.spec import SECRET, Capabilities, CheckStep, ConnectorSpec


class AzureBlobConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    account_name: str = Field(alias="accountName", min_length=3, max_length=64)
    container: str = Field(min_length=3, max_length=63)
    account_key: str | None = Field(default=None, alias="accountKey", json_schema_extra=SECRET)
    sas_token: str | None = Field(default=None, alias="sasToken", json_schema_extra=SECRET)
    endpoint: str | None = Field(
        default=None, description="Blob endpoint, e.g. for azurite http://127.0.0.1:10000/devstoreaccount1; "
        "default https://ACCOUNT.blob.core.windows.net",
    )  # fmt: skip
    prefix: str = Field(default="", description="Blob name prefix that this connection may read.")

    @model_validator(mode="after")
    def _one_credential(self) -> AzureBlobConfig:
        if not self.account_key and not self.sas_token:
            raise ValueError("give an accountKey or a sasToken")
        return self

    @property
    def url(self) -> str:
        return self.endpoint or f"https://{self.account_name}.blob.core.windows.net"


class AzureBlobSource(FileStoreSource[AzureBlobConfig]):
    spec = ConnectorSpec(
        id="azure-blob",
        name="Azure Blob Storage",
        category="cloud storage",
        description="Files in an Azure Blob Storage container, picked up by last-modified time.",
        config=AzureBlobConfig,
        source=FileSelection,
        capabilities=Capabilities(files=True, supports_incremental=True, supports_reingest_changed=True),
    )

    def _container(self) -> Any:
        from azure.storage.blob import ContainerClient

        if getattr(self, "_client", None) is None:
            config = self.config
            credential: Any = (
                {"account_name": config.account_name, "account_key": config.account_key}
                if config.account_key
                else config.sas_token
            )
            self._client = ContainerClient(config.url, config.container, credential=credential,
                                           connection_timeout=10, read_timeout=60, retry_total=2)  # fmt: skip
        return self._client

    def check(self) -> list[CheckStep]:
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

        reached = reach_url(self.config.url, "endpoint")
        if not reached.ok:
            return [reached]
        steps = [reached]
        try:
            self._container().get_container_properties()
        except ClientAuthenticationError:
            return [*steps, CheckStep("credentials", False, "the account key or SAS token was refused",
                                      "check accountName and accountKey (or sasToken)")]  # fmt: skip
        except ResourceNotFoundError:
            return [*steps, CheckStep("credentials", True, "accepted"),
                    CheckStep("container", False, f"container {self.config.container!r} does not exist",
                              "fix `container`")]  # fmt: skip
        except HttpResponseError as exc:
            code = str(getattr(exc, "error_code", None) or exc.status_code)
            if exc.status_code == 403 and "Permission" in code:
                return [*steps, CheckStep("credentials", False, f"access denied ({code})",
                                          "give the SAS token read and list permissions")]  # fmt: skip
            if exc.status_code == 403:
                return [*steps, CheckStep("credentials", False, f"the account key or SAS token was refused ({code})",
                                          "check accountName and accountKey (or sasToken)")]  # fmt: skip
            return [*steps, CheckStep("container", False, str(exc).splitlines()[0], "check the settings")]
        steps += [
            CheckStep("credentials", True, "accepted"),
            CheckStep("container", True, f"{self.config.container} exists"),
        ]
        try:
            next(iter(self._container().list_blobs(name_starts_with=self.config.prefix or None)), None)
        except HttpResponseError as exc:
            return [*steps, CheckStep("list files", False, str(exc).splitlines()[0], "grant list permission")]
        return [*steps, CheckStep("list files", True, f"prefix {self.config.prefix or '/'} readable")]

    def _prefix(self, selection: FileSelection) -> str:
        return self.key_prefix(self.config.prefix, selection)

    def list_files(self, selection: FileSelection) -> list[RemoteFile]:
        from azure.core.exceptions import AzureError

        prefix = self._prefix(selection)
        found = []
        try:
            for blob in self._container().list_blobs(name_starts_with=prefix or None):
                name = blob.name[len(prefix) :]
                if name and matches(name, selection.glob):
                    found.append(RemoteFile(name, int(blob.size), int(blob.last_modified.timestamp() * 1e9)))
        except AzureError as exc:
            raise SourceUnavailableError(
                f"listing container {self.config.container} failed: {_first_line(exc)}"
            ) from None
        return found

    def fetch(self, selection: FileSelection, file: RemoteFile, workdir: Path) -> Path:
        from azure.core.exceptions import AzureError

        target = self.download_target(workdir, file)
        try:
            with target.open("wb") as handle:
                self._container().download_blob(self._prefix(selection) + file.name).readinto(handle)
        except AzureError as exc:
            raise SourceUnavailableError(f"downloading {file.name} failed: {_first_line(exc)}") from None
        return target


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
