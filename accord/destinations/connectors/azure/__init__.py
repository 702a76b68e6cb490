"""Azure Blob Storage (and azurite): activation files put under a container and blob name prefix.

A file lands in one request, or, past `block_size`, as blocks staged one by one and committed once
as a block list: the blob (or its new content) shows only at that commit."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import Field

from accord.destinations.exceptions import DestinationRefusedError, DestinationUnavailableError
from accord.destinations.landing import key_prefix, probe_name, relative_name
from accord.destinations.spec import SYNC_MODES, DestinationSpec, ExportFile, FileDestination, FileOptions
from accord.sources import (
    AzureLocation,
    CheckStep,
    azure_container,
    azure_container_steps,
    azure_error_code,
    azure_error_message,
)

PERMISSIONS = "read, write and delete"


class AzureBlobDestinationConfig(AzureLocation):
    prefix: str = Field(default="", description="Blob name prefix the files are written under (`exports/` puts "
                        "`a.csv` at `exports/a.csv`).")  # fmt: skip


class AzureBlobDestination(FileDestination[AzureBlobDestinationConfig]):
    spec = DestinationSpec(
        id="azure-blob",
        name="Azure Blob Storage",
        category="cloud storage",
        description="Audience files in an Azure Blob Storage container, under a blob name prefix.",
        config=AzureBlobDestinationConfig,
        export_type="profile",
        delivery="batch",
        files=FileOptions(),
        sync_modes=SYNC_MODES,
    )
    block_size = 8 * 2**20
    """A file larger than this goes up in blocks of this size, committed together."""

    _client: Any = None

    def _container(self) -> Any:
        if self._client is None:
            self._client = azure_container(self.config, max_single_put_size=self.block_size,
                                           max_block_size=self.block_size)  # fmt: skip
        return self._client

    def _blob(self, name: str) -> str:
        return key_prefix(self.config.prefix) + relative_name(name)

    def _url(self, blob: str) -> str:
        # built here: the SDK's own `url` carries the SAS token when there is one
        return f"{self.config.url}/{quote(self.config.container)}/{quote(blob)}"

    def check(self) -> list[CheckStep]:
        steps = azure_container_steps(self.config, self._container(), permissions=PERMISSIONS)
        return steps if not steps[-1].ok else [*steps, self._probe()]

    def _probe(self) -> CheckStep:
        """Upload an empty blob under the prefix and delete it again."""
        from azure.core.exceptions import AzureError, HttpResponseError

        container, where = self._container(), self._url(key_prefix(self.config.prefix))
        blob = key_prefix(self.config.prefix) + probe_name()
        try:
            container.upload_blob(blob, b"", overwrite=True)
        except HttpResponseError as exc:
            if exc.status_code == 403:
                return CheckStep("write", False, f"access denied writing to {where} ({azure_error_code(exc)})",
                                 f"give the SAS token {PERMISSIONS} permissions")  # fmt: skip
            return CheckStep("write", False, azure_error_message(exc), "check the container's settings")
        except AzureError as exc:
            return CheckStep("write", False, azure_error_message(exc), "check `endpoint`")
        try:
            container.delete_blob(blob)
        except AzureError as exc:
            return CheckStep("write", True, f"can write to {where}; the probe {blob} could not be deleted "
                             f"({azure_error_message(exc)}): delete it, and give delete permission")  # fmt: skip
        return CheckStep("write", True, f"can write to {where}")

    def write(self, file: ExportFile) -> str:
        from azure.core.exceptions import AzureError

        blob = self._blob(file.name)
        try:
            with file.path.open("rb") as data:
                self._container().upload_blob(blob, data, overwrite=True, max_concurrency=4)
        except AzureError as exc:
            raise self._failure(exc, f"writing {self._url(blob)}") from None
        return self._url(blob)

    def exists(self, name: str) -> bool:
        from azure.core.exceptions import AzureError

        blob = self._blob(name)
        try:
            return bool(self._container().get_blob_client(blob).exists())
        except AzureError as exc:
            raise self._failure(exc, f"looking for {self._url(blob)}") from None

    @staticmethod
    def _failure(exc: Exception, doing: str) -> DestinationRefusedError | DestinationUnavailableError:
        """Our error for a failed call: refused (fix the account) or unavailable (try again later)."""
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

        message = f"{doing} failed: {azure_error_message(exc)}"
        status = getattr(exc, "status_code", None)
        if isinstance(exc, ClientAuthenticationError) or (isinstance(exc, HttpResponseError) and status in (403, 404)):
            return DestinationRefusedError(message)
        return DestinationUnavailableError(message)
