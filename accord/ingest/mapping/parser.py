"""Parse data prep expressions into syntax trees; errors carry line, column and a caret."""

from __future__ import annotations

import ast as python_ast
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from accord.ingest.mapping.ast import Binary, Call, Column, Literal, Node, Position, Unary


class ExpressionSyntaxError(ValueError):
    def __init__(self, message: str, line: int, column: int, text: str) -> None:
        self.line, self.column = line, column
        source_line = text.splitlines()[line - 1] if text.splitlines() else ""
        self.caret = f"{source_line}\n{' ' * (column - 1)}^"
        super().__init__(message)


@cache
def _parser() -> Lark:
    grammar = resources.files("accord.ingest.mapping").joinpath("grammar.lark").read_text()
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


@v_args(meta=True)
class _ToNodes(Transformer[Token, Node]):
    def call(self, meta: Any, children: list[Any]) -> Call:
        name, *args = children
        return Call(str(name).lower(), tuple(args), Position(meta.line, meta.column))

    def column(self, meta: Any, children: list[Token]) -> Column:
        text = str(children[0])
        path = text[2:-1] if text.startswith("${") else text
        return Column(path, Position(meta.line, meta.column))

    def string(self, meta: Any, children: list[Token]) -> Literal:
        raw = str(children[0])
        return Literal(python_ast.literal_eval(raw), Position(meta.line, meta.column))

    def number(self, meta: Any, children: list[Token]) -> Literal:
        raw = str(children[0])
        value: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
        return Literal(value, Position(meta.line, meta.column))

    def true(self, meta: Any, _children: list[Token]) -> Literal:
        return Literal(True, Position(meta.line, meta.column))

    def false(self, meta: Any, _children: list[Token]) -> Literal:
        return Literal(False, Position(meta.line, meta.column))

    def null(self, meta: Any, _children: list[Token]) -> Literal:
        return Literal(None, Position(meta.line, meta.column))

    def _binary(self, meta: Any, children: list[Any], op: str | None = None) -> Binary:
        if op is None:
            left, token, right = children
            op = str(token)
        else:
            left, right = children
        return Binary(op, left, right, Position(meta.line, meta.column))

    def compare(self, meta: Any, children: list[Any]) -> Binary:
        return self._binary(meta, children)

    def arith(self, meta: Any, children: list[Any]) -> Binary:
        return self._binary(meta, children)

    def and_op(self, meta: Any, children: list[Any]) -> Binary:
        return self._binary(meta, children, "&&")

    def or_op(self, meta: Any, children: list[Any]) -> Binary:
        return self._binary(meta, children, "||")

    def not_op(self, meta: Any, children: list[Any]) -> Unary:
        return Unary("!", children[0], Position(meta.line, meta.column))

    def negate(self, meta: Any, children: list[Any]) -> Unary:
        return Unary("-", children[0], Position(meta.line, meta.column))


def parse_expression(text: str) -> Node:
    """The syntax tree of `text`, or `ExpressionSyntaxError` pointing at the first bad spot."""
    if len(text) > 10_000:
        raise ExpressionSyntaxError("expression is longer than 10,000 characters", 1, 1, text[:200])
    try:
        tree = _parser().parse(text)
    except UnexpectedEOF:
        lines = text.splitlines() or [""]
        raise ExpressionSyntaxError(
            "the expression ends too early (an unclosed parenthesis or quote?)", len(lines), len(lines[-1]) + 1, text
        ) from None
    except UnexpectedCharacters as exc:
        raise ExpressionSyntaxError(
            f"unexpected character {text[exc.pos_in_stream or 0]!r}", exc.line, exc.column, text
        ) from None
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            lines = text.splitlines() or [""]
            raise ExpressionSyntaxError(
                "the expression ends too early (an unclosed parenthesis or quote?)",
                len(lines),
                len(lines[-1]) + 1,
                text,
            ) from None
        raise ExpressionSyntaxError(f"unexpected {str(exc.token)!r}", exc.line, exc.column, text) from None
    except UnexpectedInput as exc:  # any other lark complaint still has a position
        raise ExpressionSyntaxError(str(exc).splitlines()[0], exc.line, exc.column, text) from None
    if isinstance(tree, Token):  # a lone token (column or literal) is not wrapped in a tree
        tree = Tree("column", [tree]) if tree.type in ("PATH", "BRACED") else tree
    return _ToNodes().transform(tree)  # type: ignore[arg-type]
