"""Local folder: files under a folder of this machine, picked up by last-modified time."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from accord.access import AllowedRoots
from accord.errors import InvalidInputError
from accord.sources.exceptions import SourceUnavailableError
from accord.sources.files import FileSelection, FileStoreSource, RemoteFile, matches
from accord.sources.spec import LOCAL_PATH, Capabilities, CheckStep, ConnectorSpec


class LocalFolderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: str = Field(
        description="Folder that this connection may read (and nothing outside it); it must lie inside the "
        "folders the operator allows (setting `allowed_roots`, by default `landing` in Accord's home).",
        json_schema_extra=LOCAL_PATH,
    )


class LocalFolderSource(FileStoreSource[LocalFolderConfig]):
    fetch_threads = 1  # files are read in place
    spec = ConnectorSpec(
        id="local",
        name="Local folder",
        category="local",
        description="Files in a folder of the machine Accord runs on.",
        config=LocalFolderConfig,
        source=FileSelection,
        capabilities=Capabilities(files=True, supports_incremental=True, supports_reingest_changed=True),
    )

    @property
    def root(self) -> Path:
        return Path(self.config.root).expanduser().resolve()

    def check(self) -> list[CheckStep]:
        root, named = self.root, self.config.root  # messages name the folder as configured, not where it leads
        if not root.exists():
            return [CheckStep("folder exists", False, f"{named} does not exist", "create it or fix `root`")]
        if not root.is_dir():
            return [CheckStep("folder exists", False, f"{named} is not a folder", "`root` must be a folder")]
        steps = [CheckStep("folder exists", True, named)]
        if not os.access(root, os.R_OK | os.X_OK):
            return [*steps, CheckStep("folder readable", False, f"permission denied on {named}",
                                      "give the user running Accord read access")]  # fmt: skip
        return [*steps, CheckStep("folder readable", True, f"{sum(1 for _ in root.iterdir())} entries")]

    def _folder(self, sub: str) -> Path:
        folder = (self.root / sub).resolve()
        if not folder.is_relative_to(self.root):
            raise InvalidInputError(f"path {sub!r} leads outside the connection's root", code="SOURCE-0400-400")
        return folder

    def list_files(self, selection: FileSelection) -> list[RemoteFile]:
        folder = self._folder(selection.path)
        if not folder.is_dir():
            raise SourceUnavailableError(f"folder {selection.path or '.'} does not exist under the connection's root")
        found = []
        for path in folder.rglob("*") if "**" in selection.glob or "/" in selection.glob else folder.iterdir():
            name = path.relative_to(folder).as_posix()
            # A symlink that leads out of the root is not the connection's to read: it is passed over.
            if (
                path.is_file()
                and not path.name.startswith(".")
                and matches(name, selection.glob)
                and self._readable(path)
            ):
                stat = path.stat()
                found.append(RemoteFile(name, stat.st_size, stat.st_mtime_ns))
        return found

    def _readable(self, path: Path) -> bool:
        """Inside the connection's root and the allowed folders, where symlinks lead, and not one of Accord's
        own files (its secret key, catalog or lake, which a root that holds the home would otherwise list)."""
        roots = self.roots or AllowedRoots.nothing()
        return path.resolve().is_relative_to(self.root) and roots.contains(path)

    def fetch(self, selection: FileSelection, file: RemoteFile, workdir: Path) -> Path:
        path = self._folder(selection.path) / file.name  # read in place: nothing to copy
        if not self._readable(path):  # it changed into a way out since it was listed
            raise InvalidInputError(f"file {file.name!r} leads outside the connection's root", code="SOURCE-0400-400")
        return path
