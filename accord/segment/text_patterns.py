"""Text patterns every engine runs the same way: SQL LIKE without backtracking, and the regular expressions
PQL accepts (`matches`, `regexGroup`).

The function table (functions.py) runs `like` for streaming and checks patterns with `regex_problem`; the
checker and the evaluator use it through that table, so this module imports nothing of PQL's."""

from __future__ import annotations

import re

NESTED_REPETITION = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")
UNSUPPORTED = re.compile(r"\(\?[=!<]|\\[1-9]")
MAX_PATTERN = 500


def regex_problem(pattern: str) -> str | None:
    """Why a `matches` pattern is refused, or None. Every engine must run it the same way and quickly:
    no lookarounds or back-references (the engine's RE2 has none), no nested repetition (it can take
    exponential time in Python's matcher), at most 500 characters."""
    if len(pattern) > MAX_PATTERN:
        return f"a regular expression is at most {MAX_PATTERN} characters"
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"invalid regular expression: {exc}"
    if UNSUPPORTED.search(pattern):
        return "regular expressions cannot use lookarounds or back-references"
    if NESTED_REPETITION.search(pattern):
        return "this regular expression repeats a repetition, which can take exponential time; simplify it"
    return None


def like(value: str, pattern: str) -> bool:
    """SQL LIKE (`%` any run of characters, `_` one character) without a backtracking matcher: the
    pieces between `%` are found leftmost in turn, so a hostile pattern costs at most value x pattern."""

    def fits(at: int, piece: str) -> bool:
        return at + len(piece) <= len(value) and all(c == "_" or c == value[at + k] for k, c in enumerate(piece))

    parts = pattern.split("%")
    if len(parts) == 1:
        return len(value) == len(pattern) and fits(0, pattern)
    first, *middle, last = parts
    tail = len(value) - len(last)
    if tail < len(first) or not fits(0, first) or not fits(tail, last):
        return False
    position = len(first)
    for piece in middle:
        found = next((i for i in range(position, tail - len(piece) + 1) if fits(i, piece)), None)
        if found is None:
            return False
        position = found + len(piece)
    return True
