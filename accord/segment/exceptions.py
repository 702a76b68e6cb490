"""Errors of the segment context."""

from __future__ import annotations

from typing import Any

from accord.errors import DocumentError


def problem(message: str, line: int, column: int, text: str, path: str = "expression") -> dict[str, Any]:
    """One problem of a PQL expression, with a caret under the spot."""
    lines = text.splitlines() or [""]
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    # a tab before the spot stays a tab under it, so that the caret lines up however wide tabs are shown
    before = source[: max(column - 1, 0)]
    padding = "".join("\t" if char == "\t" else " " for char in before) + " " * (column - 1 - len(before))
    return {"path": path, "message": message, "line": line, "column": column,
            "caret": f"{source}\n{padding}^"}  # fmt: skip


class PQLError(DocumentError):
    """A PQL expression that cannot be parsed or does not fit the schema: every problem, with where."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__("the PQL expression", problems, code="SEGMENT-0400-400")
