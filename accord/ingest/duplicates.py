"""The same file ingested twice: the content hash of a batch's input, and the committed batch it repeats."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import BatchRecord
from accord.ingest.exceptions import DUPLICATE_FILE

CHUNK = 4 * 2**20


class ContentHasher:
    """SHA-256 of a batch's input files in order, read in a thread of its own while the engine reads
    them (hashlib lets go of the interpreter lock): the hash costs a share of a core, not wall time."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        self._digest: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="accord-content-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        digest = hashlib.sha256()
        try:
            for path in self.paths:
                with path.open("rb") as handle:
                    while chunk := handle.read(CHUNK):
                        if self._stop.is_set():
                            return
                        digest.update(chunk)
        except OSError:  # the reader reports an unreadable file itself, with its reason
            return
        self._digest = digest.hexdigest()

    def result(self) -> str | None:
        """The hex digest, once read to the end; None if a file could not be read."""
        self._thread.join()
        return self._digest

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def earlier_batch(session: Session, dataset_id: str, content_hash: str, other_than: str | None = None) -> Any:
    """The first committed batch of the dataset that ingested the same content, or None.

    A deleted batch does not count (its rows are gone: ingesting the file again restores them), nor
    a failed one (nothing of it was added)."""
    query = (
        select(BatchRecord)
        .where(
            BatchRecord.dataset_id == dataset_id,
            BatchRecord.content_hash == content_hash,
            BatchRecord.status == "success",
        )
        .order_by(BatchRecord.created_at)
    )
    if other_than is not None:
        query = query.where(BatchRecord.id != other_than)
    return session.scalars(query.limit(1)).first()


def duplicate_warning(earlier: BatchRecord, dataset: str, skipped: bool) -> dict[str, Any]:
    when = earlier.created_at.strftime("%Y-%m-%d %H:%M:%S")
    same = f"the same content was ingested into {dataset} by batch {earlier.id} ({earlier.source_name}, {when} UTC)"
    if skipped:
        message = f"skipped: {same}; nothing was ingested"
    else:
        message = (
            f"{same}: its rows are now stored twice; delete one of the batches, or skip such files "
            "(--skip-duplicate-files, or skipDuplicateFiles in the API)"
        )
    return {"code": DUPLICATE_FILE, "message": message, "batchId": earlier.id}
