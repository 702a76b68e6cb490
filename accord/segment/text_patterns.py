"""Text patterns every engine runs the same way: SQL LIKE without backtracking, and the regular expressions
PQL accepts (`matches`, `regexGroup`).

Regular expressions are RE2's, on every path: the batch engine (DuckDB) runs RE2, and the checker and the
streaming evaluator run it too (google-re2), so that a pattern means the same everywhere and is matched in
time linear in the text: a pattern that would take exponential time in a backtracking matcher (`(a|a)*$`)
cannot stall the server, and one RE2 refuses (`a{1001}`, `\\Z`, lookarounds, atomic groups) is refused when
the definition is written, not when a job runs it.

The function table (functions.py) runs these for streaming and checks patterns with `regex_problem`; the
checker and the evaluator use them through that table, so this module imports nothing of PQL's."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2

MAX_PATTERN = 500
_NO_LOOKAROUNDS = ("(?=", "(?!", "(?<=", "(?<!")
_NAMED_GROUP = re.compile(r"(?<!\\)\(\?<[A-Za-z_]")


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the user's problem, told to them; not a line on stderr
    return options


@lru_cache(maxsize=1024)
def compiled(pattern: str) -> Any:
    """The RE2 program of a pattern (cached: streaming runs the same few patterns for every profile); raises
    `re2.error` for a pattern RE2 refuses."""
    return re2.compile(pattern, _options())


def regex_problem(pattern: str) -> str | None:
    """Why a `matches` pattern is refused, or None: at most 500 characters, and valid in RE2 (with RE2's
    reason when it is not)."""
    if len(pattern) > MAX_PATTERN:
        return f"a regular expression is at most {MAX_PATTERN} characters"
    if _NAMED_GROUP.search(pattern):  # newer RE2 takes it, the batch engine's does not
        return "a named group is written (?P<name>...) in RE2, which every engine runs"
    try:
        compiled(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        hint = " (RE2 has no lookarounds or back-references)" if _has_lookaround(pattern) else ""
        return f"invalid regular expression for RE2, which every engine runs: {reason}{hint}"
    return None


def _has_lookaround(pattern: str) -> bool:
    """Whether a pattern uses a lookaround or a back-reference (`\\1`), which RE2 refuses."""
    return any(mark in pattern for mark in _NO_LOOKAROUNDS) or any(f"\\{d}" in pattern for d in "123456789")


def groups(pattern: str) -> int:
    """How many capturing groups a valid pattern has (0 for an invalid one)."""
    return 0 if regex_problem(pattern) is not None else int(compiled(pattern).groups)


def search(text: str, pattern: str) -> bool:
    """Whether the pattern is found anywhere in the text (as the engine's `regexp_matches`)."""
    return compiled(pattern).search(text) is not None


def group(text: str, pattern: str, number: int) -> str | None:
    """The text of a group of the first match; None when nothing matches, "" when the group took no part."""
    found = compiled(pattern).search(text)
    return None if found is None else (found.group(number) or "")


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
