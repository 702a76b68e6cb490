"""Recognise a file's compression and format by its content, and unpack it for reading.

Compressed input is unpacked into the batch's staging folder before it is read: a truncated or
corrupt stream is caught here (the engine would silently read half of it), the engine can then
read the plain file in parallel, and an archive that would expand past a limit is refused."""

from __future__ import annotations

import bz2
import gzip
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from accord.errors import AccordError, TooLargeError
from accord.ingest.exceptions import UnreadableFileError

GZIP, BZIP2, ZIP, TAR, NONE = "gzip", "bzip2", "zip", "tar", "none"
CHUNK = 4 * 2**20


@dataclass(frozen=True)
class PreparedInput:
    """Plain files ready to read, and what was done to get them."""

    files: list[Path]
    compression: str
    size_bytes: int


def sniff_compression(head: bytes) -> str:
    if head.startswith(b"\x1f\x8b"):
        return GZIP
    if head.startswith(b"BZh"):
        return BZIP2
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIP
    if len(head) >= 262 and head[257:262] == b"ustar":
        return TAR
    return NONE


def sniff_format(path: Path) -> str:
    """`parquet`, `json` or `csv`, from the first bytes of a plain file."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text[:1] in (b"{", b"["):
        return "json"
    return "csv"


class _Budget:
    """Counts copied bytes and refuses to go past the limit (archive bombs, oversized uploads)."""

    def __init__(self, limit: int, too_large: Callable[[int], AccordError]) -> None:
        self.limit, self.used, self.too_large = limit, 0, too_large

    def copy(self, source: IO[bytes], target: Path) -> None:
        with target.open("wb") as out:
            while chunk := source.read(CHUNK):
                self.used += len(chunk)
                if self.used > self.limit:
                    raise self.too_large(self.limit)
                out.write(chunk)


def prepare(path: Path, work: Path, limit: int) -> PreparedInput:
    """Unpack `path` into `work` as needed; the original file is never changed."""
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadableFileError(name, f"cannot open the file ({exc.strerror})") from None
    if not path.is_file():
        raise UnreadableFileError(name, "is not a regular file")
    if size == 0:
        raise UnreadableFileError(name, "the file is empty")
    with path.open("rb") as handle:
        head = handle.read(512)
    compression = sniff_compression(head)
    if compression == NONE:
        return PreparedInput([path], NONE, size)
    work.mkdir(parents=True, exist_ok=True)
    budget = _Budget(
        limit,
        lambda most: UnreadableFileError(
            name, f"expands to more than {most:,} bytes", "raise ACCORD_MAX_UNCOMPRESSED_BYTES"
        ),
    )
    try:
        files = _unpack(path, compression, work, budget)
    except (EOFError, zlib.error, OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
        # An OSError's text may hold the path of the staging file it was writing: its reason is enough.
        reason = (exc.strerror or type(exc).__name__) if isinstance(exc, OSError) and exc.filename else exc
        raise UnreadableFileError(
            name, f"the {compression} data is truncated or corrupt ({reason})", "send the complete file again"
        ) from None
    files = [f for f in files if f.stat().st_size > 0]
    if not files:
        raise UnreadableFileError(name, f"the {compression} archive holds no data")
    return PreparedInput(files, compression, size)


def _unpack(path: Path, compression: str, work: Path, budget: _Budget) -> list[Path]:
    if compression in (GZIP, BZIP2):
        plain = work / "unpacked"
        with gzip.open(path, "rb") if compression == GZIP else bz2.open(path, "rb") as compressed:
            budget.copy(compressed, plain)  # type: ignore[arg-type]
        with plain.open("rb") as handle:
            inner = sniff_compression(handle.read(512))
        if inner == TAR:
            files = _unpack(plain, TAR, work / "tar", budget)
            plain.unlink()
            return files
        return [plain]
    if compression == ZIP:
        files = []
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
            for index, zipped in enumerate(sorted(members, key=lambda m: m.filename)):
                target = work / f"member-{index:04d}"
                with archive.open(zipped) as unzipped:
                    budget.copy(unzipped, target)
                files.append(target)
        return files
    files = []
    work.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "r:") as archive:
        regular = sorted((m for m in archive.getmembers() if m.isfile()), key=lambda m: m.name)
        for index, member in enumerate(regular):
            extracted = archive.extractfile(member)
            if extracted is None:
                continue
            target = work / f"member-{index:04d}"
            with extracted:
                budget.copy(extracted, target)
            files.append(target)
    return files


def copy_upload(source: IO[bytes], target: Path, limit: int) -> int:
    """Stream an uploaded body to disk, refusing one larger than `limit` (`TooLargeError`)."""
    budget = _Budget(limit, lambda most: TooLargeError(f"upload is larger than {most:,} bytes", limit=most))
    budget.copy(source, target)
    return budget.used
