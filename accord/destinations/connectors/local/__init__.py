"""Local folder: activation files written to a folder of this machine."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from accord.destinations.exceptions import DestinationRefusedError, DestinationUnavailableError
from accord.destinations.landing import partial_name, relative_name, stale_partial
from accord.destinations.spec import SYNC_MODES, DestinationSpec, ExportFile, FileDestination, FileOptions
from accord.errors import InvalidInputError
from accord.sources import LOCAL_PATH, CheckStep


class LocalFolderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: str = Field(
        description="Folder the files are written to; it must lie inside the folders the operator allows "
        "(setting `allowed_roots`, by default `landing` in Accord's home).",
        json_schema_extra=LOCAL_PATH,
    )


class LocalFolderDestination(FileDestination[LocalFolderConfig]):
    spec = DestinationSpec(
        id="local",
        name="Local folder",
        category="cloud storage",
        description="Audience files in a folder of the machine Accord runs on (or a share mounted there).",
        config=LocalFolderConfig,
        export_type="profile",
        delivery="batch",
        files=FileOptions(),
        sync_modes=SYNC_MODES,
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
        if not os.access(root, os.W_OK | os.X_OK):
            return [*steps, CheckStep("folder writable", False, f"permission denied on {named}",
                                      "give the user running Accord write access")]  # fmt: skip
        return [*steps, CheckStep("folder writable", True, named)]

    def _target(self, name: str) -> Path:
        target = (self.root / relative_name(name)).resolve()  # resolved: a link inside may lead out
        if not target.is_relative_to(self.root) or target == self.root:
            raise InvalidInputError(f"file name {name!r} leads outside the destination's folder", code="DEST-0400-400")
        return target

    def write(self, file: ExportFile) -> str:
        if not self.root.is_dir():  # as its test says: a `root` mistyped must not become a new folder
            raise DestinationRefusedError(f"{self.config.root} does not exist: create it or fix `root`",
                                          file=file.name)  # fmt: skip
        target = self._target(file.name)
        partial = target.with_name(partial_name(target.name))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file.path, partial)
            os.replace(partial, target)
        except (PermissionError, FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            # refused, or a file where a folder should be: trying again will not help until someone mends it
            raise DestinationRefusedError(f"writing {file.name} to {self.config.root} was refused: {exc.strerror}",
                                          file=file.name) from None  # fmt: skip
        except OSError as exc:  # a full disk, a share gone away: may pass later
            raise DestinationUnavailableError(f"writing {file.name} to {self.config.root} failed: {exc.strerror}",
                                              file=file.name) from None  # fmt: skip
        finally:
            with contextlib.suppress(OSError):  # where the folder cannot hold it, there is no partial to remove
                partial.unlink(missing_ok=True)
        return str(target)

    def exists(self, name: str) -> bool:
        return self._target(name).is_file()

    def sweep(self) -> int:
        """Remove the partial files of writers that died (a killed run); returns how many."""
        removed = 0
        for path in self.root.rglob(".*.accord-partial"):
            if stale_partial(path.name):
                path.unlink(missing_ok=True)
                removed += 1
        return removed
