"""Where dataset rows live: Parquet files under a lake root, one folder per batch.

A batch is written in a staging folder and moved into place in one rename when it commits, so a
reader never sees half a batch; readers also list only batches the catalog marks as committed."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

from accord.errors import InvalidInputError


def replace_folder(staging: Path, target: Path) -> None:
    """Put a folder built in staging in place of `target` by renames: readers see the old or the new."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


class Lake:
    """A lake root on the local file system (`/path` or `file:///path`)."""

    def __init__(self, root: str) -> None:
        parsed = urlparse(root)
        if parsed.scheme not in ("", "file") and len(parsed.scheme) > 1:
            raise InvalidInputError(
                f"lake root {root!r}: only local folders are supported in this version (scheme {parsed.scheme!r})",
                code="LAKE-0400-400",
            )
        self.root = Path(parsed.path if parsed.scheme == "file" else root).resolve()

    def staging(self, batch_id: str) -> Path:
        path = self.root / "_staging" / batch_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def discard(self, batch_id: str) -> None:
        shutil.rmtree(self.root / "_staging" / batch_id, ignore_errors=True)

    def dataset_dir(self, sandbox_id: str, dataset_id: str) -> Path:
        return self.root / sandbox_id / "datasets" / dataset_id

    def batch_dir(self, sandbox_id: str, dataset_id: str, batch_id: str) -> Path:
        return self.dataset_dir(sandbox_id, dataset_id) / f"batch={batch_id}"

    def diagnostics_file(self, sandbox_id: str, batch_id: str) -> Path:
        return self.root / sandbox_id / "diagnostics" / batch_id / "errors.parquet"

    def commit(self, staged: Path, sandbox_id: str, dataset_id: str, batch_id: str) -> None:
        target = self.batch_dir(sandbox_id, dataset_id, batch_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.rename(target)

    def commit_diagnostics(self, staged: Path, sandbox_id: str, batch_id: str) -> None:
        target = self.diagnostics_file(sandbox_id, batch_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.rename(target)

    def remove_batch(self, sandbox_id: str, dataset_id: str, batch_id: str) -> None:
        shutil.rmtree(self.batch_dir(sandbox_id, dataset_id, batch_id), ignore_errors=True)

    def batch_files(self, sandbox_id: str, dataset_id: str, batch_ids: list[str]) -> list[str]:
        files: list[str] = []
        for batch_id in batch_ids:
            files.extend(str(p) for p in sorted(self.batch_dir(sandbox_id, dataset_id, batch_id).glob("*.parquet")))
        return files
