"""Parse PQL text into a syntax tree; errors carry the line, the column and a caret under the spot."""

from __future__ import annotations

import ast as python_ast
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from accord.segment.ast import (
    Arith,
    Call,
    Chain,
    ChainStep,
    Compare,
    Events,
    InList,
    ListOf,
    Literal,
    Logic,
    Method,
    Negate,
    Node,
    Not,
    Now,
    Occurs,
    Path,
    Position,
    ThisPeriod,
    Window,
)  # fmt: skip
from accord.segment.exceptions import PQLError, problem
from accord.segment.syntax_errors import expected_words, unbalanced

MAX_LENGTH = 20_000
MAX_DEPTH = 200
"""Deeper trees are refused: every evaluator walks them recursively."""


@cache
def _parser() -> Lark:
    grammar = resources.files("accord.segment").joinpath("grammar.lark").read_text()
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def _unit(token: Token) -> str:
    return str(token).rstrip("s")


def _window(children: list[Any]) -> Window:
    op, amount, unit, direction, anchor = children
    return Window(str(op) if op is not None else "<=", float(amount), _unit(unit), str(direction), str(anchor))


@v_args(meta=True)
class _ToNodes(Transformer[Token, Node]):
    @staticmethod
    def _at(meta: Any) -> Position:
        return Position(getattr(meta, "line", 1), getattr(meta, "column", 1))

    def string(self, meta: Any, c: list[Token]) -> Literal:
        return Literal(self._at(meta), python_ast.literal_eval(str(c[0])))

    def number(self, meta: Any, c: list[Token]) -> Literal:
        raw = str(c[0])
        return Literal(self._at(meta), float(raw) if "." in raw else int(raw))

    def true(self, meta: Any, _c: list[Token]) -> Literal:
        return Literal(self._at(meta), True)

    def false(self, meta: Any, _c: list[Token]) -> Literal:
        return Literal(self._at(meta), False)

    def null(self, meta: Any, _c: list[Token]) -> Literal:
        return Literal(self._at(meta), None)

    def path(self, meta: Any, c: list[Token]) -> Path:
        return Path(self._at(meta), tuple(str(c[0]).split(".")))

    def now(self, meta: Any, _c: list[Token]) -> Now:
        return Now(self._at(meta))

    def today(self, meta: Any, _c: list[Token]) -> Now:
        return Now(self._at(meta), today=True)

    def list_of(self, meta: Any, c: list[Any]) -> ListOf:
        return ListOf(self._at(meta), tuple(x for x in c if x is not None))

    def compare(self, meta: Any, c: list[Any]) -> Compare:
        op = "=" if str(c[1]) == "==" else str(c[1])
        return Compare(self._at(meta), op, c[0], c[2])

    def and_op(self, meta: Any, c: list[Any]) -> Logic:
        return Logic(self._at(meta), "and", c[0], c[2])

    def or_op(self, meta: Any, c: list[Any]) -> Logic:
        return Logic(self._at(meta), "or", c[0], c[2])

    def not_op(self, meta: Any, c: list[Any]) -> Not:
        return Not(self._at(meta), c[1])

    def arith(self, meta: Any, c: list[Any]) -> Arith:
        return Arith(self._at(meta), str(c[1]), c[0], c[2])

    def negate(self, meta: Any, c: list[Any]) -> Negate:
        return Negate(self._at(meta), c[0])

    def in_op(self, meta: Any, c: list[Any]) -> InList:
        return InList(self._at(meta), c[0], c[2], negated=False)

    def not_in_op(self, meta: Any, c: list[Any]) -> InList:
        return InList(self._at(meta), c[0], c[2], negated=True)

    def window(self, _meta: Any, c: list[Any]) -> Window:
        return _window(c)

    def when(self, _meta: Any, c: list[Any]) -> Window:
        return _window(c)

    def occurs(self, meta: Any, c: list[Any]) -> Occurs:
        return Occurs(self._at(meta), c[0], c[2])

    def this_period(self, meta: Any, c: list[Token]) -> ThisPeriod:
        return ThisPeriod(self._at(meta), str(c[1]))

    def args(self, _meta: Any, c: list[Any]) -> tuple[Node, ...]:
        return tuple(c)

    def method(self, meta: Any, c: list[Any]) -> Method:
        target, name, args = c
        return Method(self._at(meta), target, str(name), args or ())

    def call(self, meta: Any, c: list[Any]) -> Call:
        name, args = c
        return Call(self._at(meta), str(name), args or ())

    def events(self, meta: Any, c: list[Any]) -> Events:
        return Events(self._at(meta), c[1])

    def step(self, meta: Any, c: list[Any]) -> ChainStep:
        name, _what, what, _when, when = c
        return ChainStep(str(name), what, when, self._at(meta))

    def chain(self, meta: Any, c: list[Any]) -> Chain:
        steps = tuple(x for x in c if isinstance(x, ChainStep))
        return Chain(self._at(meta), steps)


def parse_pql(text: str) -> Node:
    """The syntax tree of a PQL expression, or `PQLError` pointing at the first bad spot."""
    if not isinstance(text, str) or not text.strip():
        raise PQLError([problem("the expression is empty", 1, 1, "")])
    if len(text) > MAX_LENGTH:
        raise PQLError([problem(f"the expression is longer than {MAX_LENGTH:,} characters", 1, 1, text[:200])])
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        # An unclosed bracket or quote shows up far from where it opened, as some other token that
        # does not fit: name the bracket and where it opened instead
        raise PQLError([unbalanced(text) or _syntax_problem(exc, text)]) from None
    if isinstance(tree, Token):  # a lone token
        tree = _parser().parse(f"({text})")
    depth = _depth(tree)
    if depth > MAX_DEPTH:
        raise PQLError([problem(f"the expression nests {depth} levels deep; at most {MAX_DEPTH} are allowed "
                                "(use `in [...]` for long lists of alternatives)", 1, 1, text)])  # fmt: skip
    return _ToNodes().transform(tree)  # type: ignore[arg-type]


def _depth(tree: Tree[Token]) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in node.children if isinstance(child, Tree))
    return deepest


def _syntax_problem(exc: UnexpectedInput, text: str) -> dict[str, Any]:
    """What does not fit where, in the words of PQL (never the grammar's names for its tokens)."""
    if isinstance(exc, UnexpectedCharacters):
        bad = text[exc.pos_in_stream] if exc.pos_in_stream is not None else "?"
        hint = expected_words(exc.allowed, text, exc.pos_in_stream or 0)
        return problem(f"unexpected character {bad!r}{hint}", exc.line, exc.column, text)
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        found = str(exc.token)
        shown = found if len(found) <= 40 else found[:37] + "..."
        hint = expected_words(exc.expected, text, exc.token.start_pos or 0)
        return problem(f"unexpected {shown!r}{hint}", exc.line, exc.column, text)
    lines = text.splitlines() or [""]
    hint = expected_words(getattr(exc, "expected", None) or (), text, len(text))
    return problem(f"the expression ends too early{hint}", len(lines), len(lines[-1]) + 1, text)
