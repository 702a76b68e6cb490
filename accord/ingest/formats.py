"""Recognise a file's compression and format by its content, and unpack it for reading.

Compressed input is unpacked into the batch's staging folder before it is read: a truncated or
corrupt stream is caught here (the engine would silently read half of it), the engine can then
read the plain file in parallel, and an archive that expands past a limit (a size, or a ratio to
its own size) is refused as soon as it does, while it streams."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from accord.errors import AccordError, TooLargeError
from accord.ingest.exceptions import ArchiveTooLargeError, UnreadableFileError

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


RATIO_ALLOWANCE = 64 * 2**20
"""Bytes any archive may expand to whatever its ratio: small files of repeated rows compress far
better than large ones, and this much unpacked data harms nothing."""


class _Budget:
    """Counts copied bytes and refuses to go past the limit (archive bombs, oversized uploads)."""

    def __init__(self, limit: int, too_large: Callable[[int, int | None], AccordError]) -> None:
        self.limit, self.used, self.too_large = limit, 0, too_large

    def expect(self, size: int) -> None:
        """Refuse before copying when an archive's own header declares more than the budget allows."""
        if self.used + size > self.limit:
            raise self.too_large(self.used, self.used + size)

    def copy(self, source: IO[bytes], target: Path, also: Callable[[bytes], object] | None = None) -> None:
        """Copy `source` to `target` within the budget, handing each chunk to `also` as well."""
        with target.open("wb") as out:
            while chunk := source.read(CHUNK):
                if self.used + len(chunk) > self.limit:
                    raise self.too_large(self.used, None)
                self.used += len(chunk)
                out.write(chunk)
                if also is not None:
                    also(chunk)


def _expansion_budget(name: str, archive_bytes: int, most_bytes: int, ratio: float) -> _Budget:
    """The budget of one archive: the smaller of the configured cap and `ratio` times its own size."""
    by_ratio = max(RATIO_ALLOWANCE, int(ratio * archive_bytes))
    limit = min(most_bytes, by_ratio)

    def refuse(unpacked: int, declared: int | None) -> AccordError:
        expands = f"declares {declared:,} bytes of content" if declared is not None else "expands to"
        if limit == most_bytes:
            reason = f"{expands} more than {limit:,} bytes, the most one file may unpack to"
            hint = "raise ACCORD_MAX_UNCOMPRESSED_BYTES (units such as 100GB are accepted)"
        else:
            reason = (
                f"{expands} more than {limit:,} bytes, over {ratio:g} times its own {archive_bytes:,} bytes "
                "(a compression bomb?)"
            )
            hint = "raise ACCORD_MAX_COMPRESSION_RATIO if such files are expected"
        stopped = "nothing was unpacked" if declared is not None and not unpacked else "unpacking stopped there"
        return ArchiveTooLargeError(name, reason, f"{stopped}; {hint}", limit=limit, unpackedBytes=unpacked)

    return _Budget(limit, refuse)


def prepare(path: Path, work: Path, most_bytes: int, ratio: float = float("inf")) -> PreparedInput:
    """Unpack `path` into `work` as needed; the original file is never changed.

    Unpacking stops as soon as it passes `most_bytes`, or `ratio` times the archive's size (past
    the first 64 MiB): an archive bomb is refused early, never unpacked whole."""
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
    budget = _expansion_budget(name, size, most_bytes, ratio)
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


class _Prefixed(io.RawIOBase):
    """A stream whose first bytes were already read (to sniff them), readable again from its start."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        if self.head:
            count = min(len(view), len(self.head))
            view[:count] = self.head[:count]
            self.head = self.head[count:]
            return count
        data = self.rest.read(len(view))
        view[: len(data)] = data
        return len(data)


def _unpack(path: Path, compression: str, work: Path, budget: _Budget) -> list[Path]:
    if compression in (GZIP, BZIP2):
        with gzip.open(path, "rb") if compression == GZIP else bz2.open(path, "rb") as compressed:
            head = b""
            while len(head) < 512 and (more := compressed.read(512 - len(head))):
                head += more
            stream = io.BufferedReader(_Prefixed(head, compressed), CHUNK)  # type: ignore[arg-type]
            if sniff_compression(head) == TAR:  # tar.gz, tar.bz2: members are read as the data expands
                with tarfile.open(fileobj=stream, mode="r|") as archive:
                    return _untar(archive, work, budget)
            plain = work / "unpacked"
            budget.copy(stream, plain)
            return [plain]
    if compression == ZIP:
        files = []
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
            budget.expect(sum(m.file_size for m in members))  # the reader never gives more than declared
            for index, zipped in enumerate(sorted(members, key=lambda m: m.filename)):
                target = work / f"member-{index:04d}"
                with archive.open(zipped) as unzipped:
                    budget.copy(unzipped, target)
                files.append(target)
        return files
    with tarfile.open(path, "r:") as archive:
        return _untar(archive, work, budget)


def _untar(archive: tarfile.TarFile, work: Path, budget: _Budget) -> list[Path]:
    """Copy out a tar's regular files as they come (a stream cannot go back), in the order of their names."""
    found: list[tuple[str, Path]] = []
    for member in archive:
        if not member.isfile():
            continue
        budget.expect(member.size)
        extracted = archive.extractfile(member)
        if extracted is None:
            continue
        target = work / f"member-{len(found):04d}"
        with extracted:
            budget.copy(extracted, target)
        found.append((member.name, target))
    return [target for _, target in sorted(found)]


@dataclass(frozen=True)
class Upload:
    """An uploaded body stored on disk: its size and SHA-256, taken as it streamed."""

    size_bytes: int
    content_hash: str


def copy_upload(source: IO[bytes], target: Path, limit: int) -> Upload:
    """Stream an uploaded body to disk, refusing one larger than `limit` (`TooLargeError`)."""
    budget = _Budget(limit, lambda *_: TooLargeError(f"upload is larger than {limit:,} bytes", limit=limit))
    digest = hashlib.sha256()
    budget.copy(source, target, digest.update)
    return Upload(budget.used, digest.hexdigest())
