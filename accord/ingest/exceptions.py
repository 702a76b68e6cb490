"""Errors of batch ingestion. Codes follow the reference product's INGEST-NNNN-400 shape."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from accord.errors import DocumentError, InvalidInputError

# Row-level diagnostic codes, kept in one table so docs and code agree.
CORRUPT_ROW = "INGEST-1401-400"
REQUIRED_MISSING = "INGEST-1555-400"
TYPE_CONVERSION = "INGEST-1212-400"
FORMAT_MISMATCH = "INGEST-1214-400"
ENUM_MISMATCH = "INGEST-1215-400"
OUT_OF_RANGE = "INGEST-1216-400"
MAPPING_FAILED = "INGEST-1217-400"
RECORD_TOO_LARGE = "INGEST-1220-400"
NESTED_TOO_DEEP = "INGEST-1221-400"

ROW_ERROR_CODES = {
    CORRUPT_ROW: "the row could not be parsed (wrong number of columns, bad quoting, bad encoding, not a JSON object)",
    REQUIRED_MISSING: "a required field has no value",
    TYPE_CONVERSION: "a value cannot be converted to the field's type",
    FORMAT_MISMATCH: "a value does not match the field's format or pattern",
    ENUM_MISMATCH: "a value is not one of the field's allowed values",
    OUT_OF_RANGE: "a value is too long, too small or too large for the field",
    MAPPING_FAILED: "a mapping function could not convert its input",
    "INGEST-1218-400": "an identity value is not valid for its namespace",
    "INGEST-1219-400": "a record has more than 20 identities",
    RECORD_TOO_LARGE: "an event is over 10 KB, or a profile record over 100 KB",
    NESTED_TOO_DEEP: "a record nests objects and arrays more than 64 levels deep",
}

# Batch-level failure codes.
THRESHOLD_EXCEEDED = "INGEST-1001-400"
NO_RECORDS = "INGEST-1002-400"
UNREADABLE_FILE = "INGEST-1003-400"
EXPANDS_TOO_FAR = "INGEST-1006-400"

# Warnings: the batch went ahead (or was skipped on request), with something the user should know.
DUPLICATE_FILE = "INGEST-1007-200"


class InvalidMappingError(DocumentError):
    code = "INGEST-1100-400"

    def __init__(self, what: str, problems: list[dict[str, Any]]) -> None:
        super().__init__(f"the mapping ({what})" if what not in ("mapping",) else "the mapping", problems)


class UnreadableFileError(InvalidInputError):
    """The file as a whole cannot be read: its format, compression or encoding is wrong."""

    code = UNREADABLE_FILE

    def __init__(self, file: str, reason: str, hint: str = "") -> None:
        super().__init__(f"{file}: {reason}" + (f"; {hint}" if hint else ""), file=file)


class ArchiveTooLargeError(UnreadableFileError):
    """A compressed file expands past the configured size or ratio; unpacking stopped there."""

    code = EXPANDS_TOO_FAR

    def __init__(self, file: str, reason: str, hint: str, *, limit: int, unpackedBytes: int) -> None:
        super().__init__(file, reason, hint)
        self.details.update(limit=limit, unpackedBytes=unpackedBytes)


_QUOTED_PATH = re.compile(r"""(["'])(/[^"']*)\1""")


def engine_message(exc: BaseException, files: Sequence[Path], name: str) -> str:
    """The engine's first line about the input, fit to show a user who may not see the server's folders.

    The engine names the files it reads by their paths on this machine (an upload's staging folder,
    a run's work folder): each is replaced by the name the user knows the input by, and any other
    quoted absolute path is cut to its last part."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for file in sorted(files, key=lambda f: len(str(f)), reverse=True):
        message = message.replace(str(file), name if len(files) == 1 else file.name)
    return _QUOTED_PATH.sub(lambda found: f"{found[1]}{PurePosixPath(found[2]).name}{found[1]}", message)
