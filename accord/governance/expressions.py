"""Policy expressions: which labels a policy applies to, as in `C4 OR (C5 AND I1)`.

    expression := term ("OR" term)*
    term       := factor ("AND" factor)*
    factor     := "NOT" factor | "(" expression ")" | LABEL

`AND` binds tighter than `OR`; the words are case-insensitive, label names are not. An expression is
parsed into a tree of frozen dataclasses and checked whole against the labels that exist: every problem
(an unknown label, with the closest names; a misplaced word or parenthesis) is raised at once, with its
column. A tree says whether a set of labels matches it (`matches`), and which of them made it match
(`reasons`), which is what a violation shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

from accord.errors import did_you_mean
from accord.governance.exceptions import PolicyExpressionError

MAX_LENGTH = 4_000
"""An expression's text at most, in characters."""
MAX_DEPTH = 50
"""Parentheses and NOTs nested at most this deep."""


@dataclass(frozen=True)
class LabelRef:
    name: str
    column: int = 0
    """Where the name begins in the text (1-based; 0 when made by code)."""


@dataclass(frozen=True)
class Not:
    operand: Expression


@dataclass(frozen=True)
class And:
    operands: tuple[Expression, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Expression, ...]


Expression = LabelRef | Not | And | Or

_TOKEN = re.compile(r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<word>[A-Za-z0-9_]+)|(?P<other>\S))")
_WORDS = {"AND", "OR", "NOT"}


@dataclass(frozen=True)
class _Token:
    kind: str  # open, close, word, other, end
    text: str
    column: int


def _tokens(text: str) -> list[_Token]:
    found = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        found.append(_Token(kind, match.group(kind), match.start(kind) + 1))
    found.append(_Token("end", "", len(text) + 1))
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def is_word(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.upper() == word

    def expression(self, depth: int) -> Expression:
        return self.joined("OR", Or, lambda: self.term(depth))

    def term(self, depth: int) -> Expression:
        return self.joined("AND", And, lambda: self.factor(depth))

    def joined(self, word: str, join: type[And] | type[Or], operand: Callable[[], Expression]) -> Expression:
        """Operands separated by `word`: the one alone, or all of them joined."""
        operands = [operand()]
        while self.is_word(word):
            self.take()
            operands.append(operand())
        return operands[0] if len(operands) == 1 else join(tuple(operands))

    def factor(self, depth: int) -> Expression:
        if depth > MAX_DEPTH:
            raise _Problem(self.peek().column, f"nested more than {MAX_DEPTH} deep")
        token = self.take()
        if token.kind == "word" and token.text.upper() == "NOT":
            return Not(self.factor(depth + 1))
        if token.kind == "open":
            inner = self.expression(depth + 1)
            closing = self.take()
            if closing.kind != "close":
                raise _Problem(closing.column, f"`)` expected to close the `(` at column {token.column}, "
                                               f"found {_shown(closing)}")  # fmt: skip
            return inner
        if token.kind == "word" and token.text.upper() not in _WORDS:
            return LabelRef(token.text, token.column)
        raise _Problem(token.column, f"a label, `NOT` or `(` expected, found {_shown(token)}")


class _Problem(Exception):
    def __init__(self, column: int, message: str) -> None:
        super().__init__(message)
        self.column, self.message = column, message


def _shown(token: _Token) -> str:
    return "the end" if token.kind == "end" else f"`{token.text}`"


def parse_policy_expression(text: str, known: Collection[str]) -> Expression:
    """The tree of an expression over the labels `known` (core and custom); `PolicyExpressionError` with
    every problem, each with its column, when it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise PolicyExpressionError(str(text)[:100], [{"column": 1, "message": "an expression of labels is needed, "
                                                       "as in `C4 OR (C5 AND I1)`"}])  # fmt: skip
    if len(text) > MAX_LENGTH:
        raise PolicyExpressionError(text[:100], [{"column": MAX_LENGTH + 1,
                                                  "message": f"longer than {MAX_LENGTH:,} characters"}])  # fmt: skip
    parser = _Parser(text)
    try:
        tree = parser.expression(0)
        if parser.peek().kind != "end":
            raise _Problem(parser.peek().column, f"`AND`, `OR` or the end expected, found {_shown(parser.peek())}")
    except _Problem as problem:
        raise PolicyExpressionError(text, [{"column": problem.column, "message": problem.message}]) from None
    names = sorted(known)
    unknown = [{"column": ref.column, "message": f"no label {ref.name!r}{did_you_mean(ref.name, names)}"}
               for ref in label_refs(tree) if ref.name not in known]  # fmt: skip
    if unknown:
        raise PolicyExpressionError(text, unknown)
    return tree


def label_refs(tree: Expression) -> Iterator[LabelRef]:
    """The labels an expression names, in the order of the text."""
    if isinstance(tree, LabelRef):
        yield tree
    elif isinstance(tree, Not):
        yield from label_refs(tree.operand)
    else:
        for operand in tree.operands:
            yield from label_refs(operand)


def matches(tree: Expression, labels: Collection[str]) -> bool:
    """Whether data carrying `labels` matches the expression."""
    if isinstance(tree, LabelRef):
        return tree.name in labels
    if isinstance(tree, Not):
        return not matches(tree.operand, labels)
    if isinstance(tree, And):
        return all(matches(operand, labels) for operand in tree.operands)
    return any(matches(operand, labels) for operand in tree.operands)


def reasons(tree: Expression, labels: Collection[str]) -> frozenset[str]:
    """The labels that make data carrying `labels` match (empty when it does not match, or matches only
    for what it lacks, under `NOT`): what a violation names."""
    if not matches(tree, labels):
        return frozenset()
    if isinstance(tree, LabelRef):
        return frozenset({tree.name})
    if isinstance(tree, Not):
        return frozenset()
    found: frozenset[str] = frozenset()
    for operand in tree.operands:
        if matches(operand, labels):
            found |= reasons(operand, labels)
    return found


def to_text(tree: Expression) -> str:
    """The expression written back, with parentheses only where they are needed."""
    if isinstance(tree, LabelRef):
        return tree.name
    if isinstance(tree, Not):
        inner = to_text(tree.operand)
        return f"NOT {inner}" if isinstance(tree.operand, LabelRef | Not) else f"NOT ({inner})"
    if isinstance(tree, And):
        return " AND ".join(f"({to_text(o)})" if isinstance(o, Or | And) else to_text(o) for o in tree.operands)
    return " OR ".join(f"({to_text(o)})" if isinstance(o, Or) else to_text(o) for o in tree.operands)


__all__ = ["And", "Expression", "LabelRef", "Not", "Or", "label_refs", "matches", "parse_policy_expression",
           "reasons", "to_text"]  # fmt: skip
