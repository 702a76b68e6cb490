"""Azure Blob Storage (and azurite): files under a container and prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from accord.sources.exceptions import SourceUnavailableError
from accord.sources.files import FileSelection, FileStoreSource, RemoteFile, matches
from accord.sources.spec import Capabilities, CheckStep, ConnectorSpec
from accord.sources.stores.azure import AzureLocation, azure_container, azure_container_steps, azure_error_message


class AzureBlobConfig(AzureLocation):
    prefix: str = Field(default="", description="Blob name prefix that this connection may read.")


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
        if getattr(self, "_client", None) is None:
            self._client = azure_container(self.config)
        return self._client

    def check(self) -> list[CheckStep]:
        from azure.core.exceptions import HttpResponseError

        steps = azure_container_steps(self.config, self._container(), permissions="read and list")
        if not steps[-1].ok:
            return steps
        try:
            next(iter(self._container().list_blobs(name_starts_with=self.config.prefix or None)), None)
        except HttpResponseError as exc:
            return [*steps, CheckStep("list files", False, azure_error_message(exc), "grant list permission")]
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
                f"listing container {self.config.container} failed: {azure_error_message(exc)}"
            ) from None
        return found

    def fetch(self, selection: FileSelection, file: RemoteFile, workdir: Path) -> Path:
        from azure.core.exceptions import AzureError

        target = self.download_target(workdir, file)
        try:
            with target.open("wb") as handle:
                self._container().download_blob(self._prefix(selection) + file.name).readinto(handle)
        except AzureError as exc:
            raise SourceUnavailableError(f"downloading {file.name} failed: {azure_error_message(exc)}") from None
        return target
