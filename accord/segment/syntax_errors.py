"""Syntax errors in the user's words: which bracket or quote is open and where it opened, and what
could come next, never the grammar's names for its tokens (RPAR, $END, ADD_OP, ...)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from accord.segment.exceptions import problem

CLOSERS = {"(": ")", "[": "]"}
BRACKETS = {"(": "parenthesis", ")": "parenthesis", "[": "bracket", "]": "bracket"}

WORDS = {
    "$END": "the end", "AND": "'and'", "OR": "'or'", "NOT": "'not'", "IN": "'in'", "NOT_IN": "'notIn'",
    "OCCURS": "'occurs'", "THIS": "'this'", "NOW": "'now'", "TODAY": "'today'", "TRUE": "'true'",
    "FALSE": "'false'", "NULL": "'null'", "XEVENT": "'xEvent'", "CHAIN": "'CHAIN'", "WHAT": "'WHAT'",
    "WHEN": "'WHEN'", "DIRECTION": "'before' or 'after'", "LAMBDA": "'(Profile) =>'", "LIKE": "'like'",
    "ON": "'on'", "BETWEEN": "'between'", "LAST": "'last'", "NEXT": "'next'", "YESTERDAY": "'yesterday'",
    "TOMORROW": "'tomorrow'", "STEP_COUNT": "'COUNT(n)'", "WHERE": "'where'", "EXISTS": "'exists'",
    "FORALL": "'forall'", "SELECT": "'select'", "LET": "'let'", "AGGREGATE": "'sum', 'avg', 'min', 'max' or 'count'",
    "OVER": "'over'", "FROM": "'from'", "EVENT_PATH": "a field of the events", "PARAMETER": "'$1'",
    "NEXT_BINDING": "a further binding (', I from ...')", "BANG": "'!'",
    "UNIT": "a unit of time (milliseconds, seconds, minutes, hours, days, weeks, months, years, decades, "
            "centuries, millennia)",
    "PERIOD": "'day', 'week', 'month' or 'year'", "FUNC": "a function", "METHOD": "a function", "PATH": "a field",
    "STRING": "a string", "NUMBER": "a number", "CMP_OP": "a comparison (=, !=, <, <=, >, >=)",
    "ADD_OP": "'+' or '-'", "MUL_OP": "'*', '/' or '%'", "MINUS": "'-'", "DOT": "'.'", "LPAR": "'('", "RPAR": "')'",
    "COMMA": "','", "LSQB": "'['", "RSQB": "']'", "COLON": "':'",
}  # fmt: skip
"""Every token of the grammar in the words of PQL (a test holds this to the grammar's terminals)."""

LONG_FORMS = {"EXISTS", "FORALL", "SELECT", "LET", "AGGREGATE"}
"""Words that start a form reaching to the end of the expression (`exists E from xEvent where ...`)."""
GROUPS = (
    ({"PATH", "STRING", "NUMBER", "TRUE", "FALSE", "NULL", "NOW", "TODAY", "YESTERDAY", "TOMORROW", "XEVENT",
      "CHAIN", "FUNC", "LPAR", "LSQB", "MINUS", "NOT", "BANG", "PARAMETER", *LONG_FORMS},
     "a value (a field, a number, a string, a function, ...)"),
    ({"AND", "OR", "CMP_OP", "ADD_OP", "MUL_OP", "IN", "NOT_IN", "LIKE", "OCCURS", "DOT"},
     "an operator (and, or, =, <, +, in, occurs, ...)"),
)  # fmt: skip
"""Where many of a group may come, one phrase says it better than a dozen."""


UP_OPERATOR = (
    "the up operator `^` (a field of an enclosing filter's item, as in `xEvent[productListItems[SKU = "
    '"PS" or ^.eventType = "x"]]`) is not supported: a condition on a list\'s items reads only that '
    "item's fields; test the enclosing fields outside the inner filter "
    '(xEvent[eventType = "x" or productListItems[SKU = "PS"]])'
)
"""Why `^` is refused (docs/segmentation.md lists it among the documented forms Accord refuses)."""


MISPLACED = (
    (re.compile(r"\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*=>"),
     "the lambda `(Profile) => ...` names the profile only at the head of a definition (the reference shows it "
     "only as a definition's signature): start the definition with it, or write the fields alone"),
    (re.compile(r"\bWHEN\s*\(\s*(?:this|last|next)\b", re.IGNORECASE),
     "WHEN(this week) (a calendar period) is not a sequence step's window: a step takes a relative window "
     "(WHEN(<= 2 days before now)) or a day (WHEN(today), WHEN(yesterday), WHEN(tomorrow))"),
)  # fmt: skip
"""Documented forms written where Accord does not take them, found around the token that does not fit
(docs/segmentation.md lists them among the forms Accord refuses)."""


def _misplaced(text: str, at: int) -> tuple[str, int] | None:
    """Why a documented form around the index is refused, and where it starts; None when there is none."""
    for pattern, why in MISPLACED:
        for found in pattern.finditer(text):
            if found.start() <= at < found.end() + 1 and text[: found.start()].strip():
                return why, found.start()
    return None


def syntax_problem(exc: UnexpectedInput, text: str) -> dict[str, Any]:
    """What does not fit where, in the words of PQL (never the grammar's names for its tokens)."""
    if isinstance(exc, UnexpectedCharacters):
        bad = text[exc.pos_in_stream] if exc.pos_in_stream is not None else "?"
        if bad == "^":
            return problem(UP_OPERATOR, exc.line, exc.column, text)
        hint = expected_words(exc.allowed, text, exc.pos_in_stream or 0)
        return problem(f"unexpected character {bad!r}{hint}", exc.line, exc.column, text)
    if isinstance(exc, UnexpectedToken) and (word := _long_form_before(text, exc.token.start_pos or 0)):
        line, column = _line_column(text, word.start())
        return problem(f"`{word.group(1)}` starts a form that reaches to the end of the expression: after and, "
                       f"or, not, or in another form's condition, put it in parentheses ({word.group(1)} ...)",
                       line, column, text)  # fmt: skip
    if isinstance(exc, UnexpectedToken) and (misplaced := _misplaced(text, exc.token.start_pos or 0)):
        return problem(misplaced[0], *_line_column(text, misplaced[1]), text)
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        found = str(exc.token)
        shown = found if len(found) <= 40 else found[:37] + "..."
        hint = expected_words(exc.expected, text, exc.token.start_pos or 0)
        return problem(f"unexpected {shown!r}{hint}", exc.line, exc.column, text)
    lines = text.splitlines() or [""]
    hint = expected_words(getattr(exc, "expected", None) or (), text, len(text))
    return problem(f"the expression ends too early{hint}", len(lines), len(lines[-1]) + 1, text)


def _long_form_before(text: str, at: int) -> re.Match[str] | None:
    """`exists E` just before where the parser stopped: a long form where it cannot start (after `and`),
    which the lexer then read as a field."""
    before = text[:at]
    found = re.search(r"\b(exists|forall|select|let|sum|avg|average|min|max|count)\s+$", before)
    return found if found is not None and text[at : at + 1].isalpha() else None


def _line_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def expected_words(names: Iterable[str], text: str, at: int) -> str:
    """'; expected ...' for the tokens the parser could have taken at index `at` of the text, or ''.

    A closing bracket or a comma is only worth naming where a bracket is open."""
    wanted = set(names)
    innermost = _scan(text, at)[1]
    closer = CLOSERS[innermost[-1][0]] if innermost else None
    wanted -= {name for name, char in (("RPAR", ")"), ("RSQB", "]")) if char != closer}
    if closer is None:
        wanted.discard("COMMA")
    words: list[str] = []
    for group, phrase in GROUPS:
        if len(wanted & group) > 3:
            words.append(phrase)
            wanted -= group
    for name in sorted(wanted, key=lambda n: (n == "$END", WORDS.get(n, ""))):
        if name in WORDS and WORDS[name] not in words:
            words.append(WORDS[name])
    if not words:
        return ""
    return "; expected " + (words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}")


def unbalanced(text: str) -> dict[str, Any] | None:
    """The first bracket or quote that is not closed, or that closes what was not opened, as a problem
    placed where it opened (or at the stray closer); None when every one is paired."""
    found, still_open = _scan(text, len(text))
    if found is None and still_open:
        opener, line, column = still_open[-1]
        return problem(f"the {BRACKETS[opener]} {opener!r} opened at line {line}, column {column} is never "
                       f"closed (a {CLOSERS[opener]!r} is missing)", line, column, text)  # fmt: skip
    return found


def _scan(text: str, upto: int) -> tuple[dict[str, Any] | None, list[tuple[str, int, int]]]:
    """Brackets and quotes up to an index: the first that is wrong (a quote never closed, a stray or
    mismatched closer) as a problem, and the brackets still open there, innermost last."""
    open_brackets: list[tuple[str, int, int]] = []
    line, column, index = 1, 1, 0
    while index < min(upto, len(text)):
        char = text[index]
        if char in "\"'":
            start = (line, column)
            index, line, column = _past_string(text, index, line, column)
            if index > len(text):
                return problem(f"the string opened at line {start[0]}, column {start[1]} is never closed "
                               f"(a {char} is missing)", *start, text), open_brackets  # fmt: skip
            continue
        if char in CLOSERS:
            open_brackets.append((char, line, column))
        elif char in (")", "]"):
            if not open_brackets:
                return problem(f"this {char!r} closes no {BRACKETS[char]}: nothing is open here", line, column,
                               text), open_brackets  # fmt: skip
            opener, at_line, at_column = open_brackets.pop()
            if CLOSERS[opener] != char:
                return problem(f"this {char!r} does not match the {opener!r} opened at line {at_line}, column "
                               f"{at_column}, which is closed by {CLOSERS[opener]!r}", line, column,
                               text), open_brackets  # fmt: skip
        line, column = (line + 1, 1) if char == "\n" else (line, column + 1)
        index += 1
    return None, open_brackets


def _past_string(text: str, index: int, line: int, column: int) -> tuple[int, int, int]:
    """Where a quoted string that starts at `index` ends (just past its closing quote), and the line and
    column there; an index past the text when it never closes. A backslash escapes the next character."""
    quote, index, column = text[index], index + 1, column + 1
    while index < len(text):
        char = text[index]
        if char == quote:
            return index + 1, line, column + 1
        step = 2 if char == "\\" else 1
        for skipped in text[index : index + step]:
            line, column = (line + 1, 1) if skipped == "\n" else (line, column + 1)
        index += step
    return len(text) + 1, line, column
