"""Local folder: files under a folder of this machine, picked up by last-modified time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from accord.sources.spec import Capabilities, Checkpoint, CheckStep, ConnectorSpec, IngestItem, ReadContext, Source


class LocalFolderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: str = Field(description="Folder that this connection may read (and nothing outside it).")


class LocalFolderSelection(BaseModel):
    """What a dataflow takes from the folder."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    path: str = Field(default="", description="Sub-folder under the root.")
    glob: str = Field(default="*", description="Files to take, e.g. `*.csv.gz` or `**/*.json`.")
    reingest_changed: bool = Field(
        default=False, alias="reingestChanged", description="Take a file again when it changed since it was ingested."
    )


class LocalFolderSource(Source[LocalFolderConfig]):
    spec = ConnectorSpec(
        id="local",
        name="Local folder",
        category="local",
        description="Files in a folder of the machine Accord runs on.",
        config=LocalFolderConfig,
        source=LocalFolderSelection,
        capabilities=Capabilities(files=True, supports_incremental=True, supports_reingest_changed=True),
    )

    @property
    def root(self) -> Path:
        return Path(self.config.root).expanduser().resolve()

    def check(self) -> list[CheckStep]:
        root = self.root
        if not root.exists():
            return [CheckStep("folder exists", False, f"{root} does not exist", "create it or fix `root`")]
        if not root.is_dir():
            return [CheckStep("folder exists", False, f"{root} is not a folder", "`root` must be a folder")]
        steps = [CheckStep("folder exists", True, str(root))]
        if not os.access(root, os.R_OK | os.X_OK):
            return [
                *steps,
                CheckStep(
                    "folder readable", False, f"permission denied on {root}", "give the user running Accord read access"
                ),
            ]
        return [*steps, CheckStep("folder readable", True, f"{sum(1 for _ in root.iterdir())} entries")]

    def _folder(self, sub: str) -> Path:
        folder = (self.root / sub).resolve()
        if not folder.is_relative_to(self.root):
            from accord.errors import InvalidInputError

            raise InvalidInputError(f"path {sub!r} leads outside the connection's root", code="SOURCE-0400-400")
        return folder

    def _files(self, source: LocalFolderSelection) -> list[tuple[str, Path, os.stat_result]]:
        folder = self._folder(source.path)
        found = []
        for path in folder.glob(source.glob):
            if path.is_file() and not path.name.startswith("."):
                found.append((path.relative_to(self.root).as_posix(), path, path.stat()))
        found.sort(key=lambda f: (f[2].st_mtime_ns, f[0]))
        return found

    def discover(self) -> list[dict[str, Any]]:
        files = self._files(LocalFolderSelection(glob="**/*"))[:1000]
        return [{"path": name, "size": stat.st_size, "modified": stat.st_mtime} for name, _, stat in files]

    def read(self, source: LocalFolderSelection, context: ReadContext) -> Iterator[IngestItem | Checkpoint]:
        seen: dict[str, list[int]] = dict(context.state.get("files", {}))
        files = self._files(source)
        if context.first_run and not context.backfill:  # start from now: what is there is not ingested
            seen.update({name: [stat.st_mtime_ns, stat.st_size] for name, _, stat in files})
            yield Checkpoint({"files": seen})
            return
        for name, path, stat in files:
            signature = [stat.st_mtime_ns, stat.st_size]
            if name in seen and (seen[name] == signature or not source.reingest_changed):
                continue
            yield IngestItem(path=path, key=f"{name}@{stat.st_mtime_ns}", size=stat.st_size, name=name)
            seen[name] = signature
            yield Checkpoint({"files": dict(seen)})
