"""Where dataset rows live: Parquet files under a lake root, one folder per batch.

A batch is written in a staging folder and moved into place in one rename when it commits, so a
reader never sees half a batch; readers also list only batches the catalog marks as committed.
Staging and upload folders are scratch folders of the job that made them, named for their owner."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

from accord.errors import InvalidInputError
from accord.jobs import SEPARATOR, scratch_name, track

OLD = ".old"


def file_version(path: Path) -> tuple[int, int, int] | None:
    """Which version of a file is there now (None: none is), for readers that keep a file open between calls:
    its modification time, inode and size. A file replaced whole (`os.replace`, `replace_folder`) has a new
    inode, so two writes within one tick of the file system's clock are still told apart."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_mtime_ns, found.st_ino, found.st_size


def replace_folder(staging: Path, target: Path) -> None:
    """Put a folder built in staging in place of `target` by renames: readers see the old or the new.

    A process killed between the two renames leaves `target.old` and no `target`;
    `recover_replacements` puts it back."""
    old = target.with_name(target.name + OLD)
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def recover_replacements(folder: Path) -> list[Path]:
    """Finish the replacements a killed job left half done under `folder` (not below it).

    Where the old folder was moved aside and the new one never came, the old one comes back; where
    both are there, the old one goes. Run only by a job that holds the lock of these folders."""
    recovered = []
    for old in folder.glob(f"*{OLD}") if folder.is_dir() else []:
        target = old.with_name(old.name.removesuffix(OLD))
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.rename(target)
            recovered.append(target)
    return recovered


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

    @property
    def staging_root(self) -> Path:
        return self.root / "_staging"

    @property
    def uploads_root(self) -> Path:
        return self.root / "_uploads"

    def staging(self, label: str) -> Path:
        """A new staging folder of this process's job, beside the data so that it moves into place in one rename.

        Removed when the job ends if it is still there (see `accord.jobs.removed_at_end`)."""
        path = self.staging_root / scratch_name(label)
        path.mkdir(parents=True, mode=0o700)
        return track(path)

    def upload_folder(self) -> Path:
        """A new folder for one uploaded file, the caller's to remove (a killed server's is swept)."""
        path = self.uploads_root / scratch_name("upload")
        path.mkdir(parents=True, mode=0o700)
        return path

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)

    def discard_label(self, label: str) -> None:
        """Remove every staging folder made for `label` (a batch id, a run id), whoever made it."""
        for path in self.staging_root.glob(f"{label}{SEPARATOR}*"):
            shutil.rmtree(path, ignore_errors=True)

    def sandbox_dir(self, sandbox_id: str) -> Path:
        return self.root / sandbox_id

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

    def remove_diagnostics(self, sandbox_id: str, batch_id: str) -> None:
        shutil.rmtree(self.diagnostics_file(sandbox_id, batch_id).parent, ignore_errors=True)

    def batch_files(self, sandbox_id: str, dataset_id: str, batch_ids: list[str]) -> list[str]:
        files: list[str] = []
        for batch_id in batch_ids:
            files.extend(str(p) for p in sorted(self.batch_dir(sandbox_id, dataset_id, batch_id).glob("*.parquet")))
        return files
