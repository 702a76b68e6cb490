"""What every file-based connector shares: picking up new files by last-modified time.

A file is never ingested twice; a file that changed since it was ingested is taken again only
when the dataflow asks for it (`reingestChanged`); without backfill, the first run only notes
what is already there."""

from __future__ import annotations

import fnmatch
from abc import abstractmethod
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from accord.sources.spec import Checkpoint, ConfigT, IngestItem, ReadContext, Source, SourceFile


class FileSelection(BaseModel):
    """What a dataflow takes from a file store."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    path: str = Field(default="", description="Folder (or key prefix) under the connection's root.")
    glob: str = Field(default="*", description="Files to take, e.g. `*.csv.gz`; `**` crosses folders.")
    reingest_changed: bool = Field(
        default=False, alias="reingestChanged", description="Take a file again when it changed since it was ingested."
    )
    group_files: int = Field(
        default=100, ge=1, le=10_000, alias="groupFiles", description="Files ingested together as one batch, at most."
    )
    group_bytes: int = Field(
        default=2**30, ge=1, alias="groupBytes", description="Bytes ingested together as one batch, at most."
    )

    @field_validator("path", "glob")
    @classmethod
    def _inside(cls, value: str) -> str:
        # Both are read under the connection's root (or prefix): a way out is refused when the dataflow is
        # stored, not only when it runs. Symlinks are the connector's business (it resolves them).
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError("must be relative to the connection's root, without '..'")
        return value


@dataclass(frozen=True)
class RemoteFile:
    name: str
    """Path relative to the selection's folder, with `/` separators."""
    size: int
    modified: int
    """Last-modified time in nanoseconds (or the store's own version marker)."""


def matches(name: str, pattern: str) -> bool:
    """Glob on relative paths: `*` stays within a folder, `**/` crosses folders."""
    if "**" in pattern:
        return fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(name, pattern.replace("**/", ""))
    if "/" in pattern:
        return fnmatch.fnmatch(name, pattern)
    return "/" not in name and fnmatch.fnmatch(name, pattern)


class FileStoreSource(Source[ConfigT]):
    """A source of files: subclasses list and fetch; this class decides what is new."""

    fetch_threads = 8
    """How many files of a group are fetched at once."""

    @abstractmethod
    def list_files(self, selection: FileSelection) -> list[RemoteFile]:
        """Every file of the selection, with size and last-modified time."""

    @abstractmethod
    def fetch(self, selection: FileSelection, file: RemoteFile, workdir: Path) -> Path:
        """A local path to the file's content (downloaded into `workdir` if remote)."""

    @staticmethod
    def key_prefix(base: str, selection: FileSelection) -> str:
        """The key prefix of a selection in an object store: the connection's prefix, then the path."""
        parts = [p.strip("/") for p in (base, selection.path) if p.strip("/")]
        return "/".join(parts) + "/" if parts else ""

    @staticmethod
    def download_target(workdir: Path, file: RemoteFile) -> Path:
        """Where a remote file is downloaded to, inside the run's work folder."""
        target = workdir / "files" / file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def discover(self) -> list[dict[str, Any]]:
        files = self.list_files(FileSelection(glob="**/*"))[:1000]
        return [{"path": f.name, "size": f.size, "modified": f.modified} for f in files]

    def read(self, source: FileSelection, context: ReadContext) -> Iterator[IngestItem | Checkpoint]:
        seen: dict[str, list[int]] = dict(context.state.get("files", {}))
        files = sorted(self.list_files(source), key=lambda f: (f.modified, f.name))
        if context.first_run and not context.backfill:
            seen.update({f.name: [f.modified, f.size] for f in files})
            yield Checkpoint({"files": seen})
            return
        wanted = [
            f for f in files if f.name not in seen or (seen[f.name] != [f.modified, f.size] and source.reingest_changed)
        ]
        # Small files are ingested together: one batch per group saves the per-batch cost.
        group: list[RemoteFile] = []
        for file in wanted:
            if group and (
                len(group) >= source.group_files or sum(g.size for g in group) + file.size > source.group_bytes
            ):
                yield from self._emit(source, group, seen, context)
                group = []
            group.append(file)
        if group:
            yield from self._emit(source, group, seen, context)

    def _emit(
        self, source: FileSelection, group: list[RemoteFile], seen: dict[str, list[int]], context: ReadContext
    ) -> Iterator[IngestItem | Checkpoint]:
        with ThreadPoolExecutor(max_workers=self.fetch_threads) as pool:  # downloads wait on the network
            paths = list(pool.map(lambda f: self.fetch(source, f, context.workdir), group))
        fetched = tuple(
            SourceFile(path, f"{f.name}@{f.modified}", f.size, f.name) for f, path in zip(group, paths, strict=True)
        )
        yield IngestItem(fetched)
        seen.update({f.name: [f.modified, f.size] for f in group})
        yield Checkpoint({"files": dict(seen)})
