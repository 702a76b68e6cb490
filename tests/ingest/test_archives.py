"""Compressed input that expands too far is refused while it streams, in every compression."""

from __future__ import annotations

import bz2
import gzip
import io
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from accord import lake
from accord.ingest.exceptions import ArchiveTooLargeError
from accord.settings import Settings
from accord.workspace import Workspace
from tests.ingest.conftest import HEADER, ROWS, assert_refused, ingest, names, write

PIECE = 16 * 2**20
PIECES = 40  # 640 MiB once unpacked: blank lines after a header, the rows a bomb would "hold"
EXPANDED = PIECE * PIECES + len(HEADER) + 1
BLANK = b"\n" * PIECE
ZIP_PIECES = 5  # a zip declares its sizes: 80 MiB is refused before anything is unpacked (and is quick to make)


def _streams(compress: Callable[[bytes], bytes], head: bytes, tail: bytes = b"") -> bytes:
    """Concatenated streams (gzip and bzip2 readers read on across them): cheap to make, large to unpack."""
    piece = compress(BLANK)
    return compress(head) + piece * PIECES + (compress(tail) if tail else b"")


def _tar_stream(compress: Callable[[bytes], bytes]) -> bytes:
    info = tarfile.TarInfo("crm.csv")
    info.size = EXPANDED
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    padding = b"\0" * (-EXPANDED % 512) + b"\0" * 1024
    return _streams(compress, header + f"{HEADER}\n".encode(), padding)


def _zip(path: Path) -> None:
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("crm.csv", "w", force_zip64=True) as member,
    ):
        member.write(f"{HEADER}\n".encode())
        for _ in range(ZIP_PIECES):
            member.write(BLANK)


def make_bomb(kind: str, path: Path) -> Path:
    if kind == "gzip":
        path.write_bytes(_streams(gzip.compress, f"{HEADER}\n".encode()))
    elif kind == "bzip2":
        path.write_bytes(_streams(bz2.compress, f"{HEADER}\n".encode()))
    elif kind == "zip":
        _zip(path)
    elif kind == "tar.gz":
        path.write_bytes(_tar_stream(gzip.compress))
    elif kind == "tar.bz2":
        path.write_bytes(_tar_stream(bz2.compress))
    return path


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "zip", "tar.gz", "tar.bz2"])
def test_a_compression_bomb_is_stopped_early_in_every_compression(crm: Workspace, tmp_path: Path, kind: str) -> None:
    """A file of a few hundred KB that would unpack to 640 MiB: refused once it passes 64 MiB, with a
    message that says why, and nothing left behind."""
    path = make_bomb(kind, tmp_path / "crm.bin")
    assert path.stat().st_size * 100 < 64 * 2**20  # small enough that the ratio, not the cap, stops it
    with pytest.raises(ArchiveTooLargeError) as caught:
        ingest(crm, path)
    error = caught.value
    assert error.code == "INGEST-1006-400"
    assert "a compression bomb?" in error.message and "ACCORD_MAX_COMPRESSION_RATIO" in error.message
    assert error.details["limit"] == 64 * 2**20
    assert error.details["unpackedBytes"] <= error.details["limit"]  # it stopped there, never unpacking it all
    if kind == "zip":
        assert "declares 83,886,105 bytes of content more than 67,108,864 bytes" in error.message
        assert "nothing was unpacked" in error.message and error.details["unpackedBytes"] == 0
    elif kind.startswith("tar"):  # a tar member's header gives its size: refused before it is copied
        assert f"declares {EXPANDED:,} bytes" in error.message and error.details["unpackedBytes"] == 0
    else:
        assert "expands to more than 67,108,864 bytes, over 100 times its own" in error.message
        assert "unpacking stopped there" in error.message and error.details["unpackedBytes"] > 60 * 2**20
    with crm.catalog.session() as session:
        batch = lake.list_batches(session, "prod", "crm", 1)[0]
    assert batch["status"] == "failed" and batch["errors"][0]["code"] == "INGEST-1006-400"
    assert not any((crm.lake.root / "_staging").iterdir())


def test_the_size_cap_takes_units_and_stops_unpacking_there(crm: Workspace, tmp_path: Path) -> None:
    rows = "\n".join([HEADER, *[f"{i},N{i},L{i},n{i}@example.com,gold" for i in range(1, 40_000)]]) + "\n"
    path = tmp_path / "crm.csv.gz"
    path.write_bytes(gzip.compress(rows.encode()))  # about 1.3 MB unpacked, an ordinary ratio
    capped = Settings.model_validate({**crm.settings.model_dump(), "max_uncompressed_bytes": "1MiB"})
    ws = Workspace.open(capped)
    try:
        assert_refused(ws, ArchiveTooLargeError, "expands to more than 1,048,576 bytes, the most one file", path)
    finally:
        ws.close()
    assert ingest(crm, path)["outputRecordCount"] == 39_999  # the default cap lets it through


def test_small_repetitive_archives_are_not_bombs(crm: Workspace, tmp_path: Path) -> None:
    """Under 64 MiB unpacked, any ratio is accepted: a small file of repeated rows compresses very well."""
    text = ("\n".join([HEADER, *ROWS * 100_000]) + "\n").encode()
    assert len(text) < 64 * 2**20 and len(text) > 100 * len(gzip.compress(text))
    path = tmp_path / "crm.csv.gz"
    path.write_bytes(gzip.compress(text))
    batch = ingest(crm, path, threshold=100)
    assert batch["inputRecordCount"] == 300_000


def test_an_archive_of_archives_counts_each_byte_once(crm: Workspace, tmp_path: Path) -> None:
    """A tar.gz is read as it expands: its members count against the budget, not the tar as well."""
    text = ("\n".join([HEADER, *ROWS]) + "\n").encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in ("b.csv", "a.csv"):
            info = tarfile.TarInfo(name)
            info.size = len(text)
            archive.addfile(info, io.BytesIO(text))
    path = write(tmp_path / "two.tgz", "")
    path.write_bytes(buffer.getvalue())
    capped = crm.settings.model_copy(update={"max_uncompressed_bytes": 2 * len(text) + 10})
    ws = Workspace.open(capped)
    try:
        batch = ingest(ws, path)
    finally:
        ws.close()
    assert batch["outputRecordCount"] == 6 and names(crm) == ["Ann", "Ann", "Bob", "Bob", "Cy", "Cy"]
