"""Parse PQL text into a syntax tree; errors carry the line, the column and a caret under the spot.

The grammar is grammar.lark (LALR, without conflicts); tree_builder.py turns its parse tree into the syntax tree
and syntax_errors.py says in PQL's words what does not parse."""

from __future__ import annotations

from functools import cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from accord.segment.ast import Node
from accord.segment.exceptions import PQLError, problem
from accord.segment.long_forms import as_condition, finish
from accord.segment.syntax_errors import syntax_problem, unbalanced
from accord.segment.tree_builder import TreeBuilder

MAX_LENGTH = 20_000
MAX_DEPTH = 200
"""Deeper trees are refused: every evaluator walks them recursively."""


@cache
def _parser() -> Lark:
    grammar = resources.files("accord.segment").joinpath("grammar.lark").read_text()
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse_pql(text: str) -> Node:
    """The syntax tree of a PQL expression, or `PQLError` pointing at the first bad spot (or, once the text
    parses, at every spelling that cannot be read)."""
    if not isinstance(text, str) or not text.strip():
        raise PQLError([problem("the expression is empty", 1, 1, "")])
    if len(text) > MAX_LENGTH:
        raise PQLError([problem(f"the expression is longer than {MAX_LENGTH:,} characters", 1, 1, text[:200])])
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        # An unclosed bracket or quote shows up far from where it opened, as some other token that
        # does not fit: name the bracket and where it opened instead
        raise PQLError([unbalanced(text) or syntax_problem(exc, text)]) from None
    if isinstance(tree, Token):  # a lone token
        tree = _parser().parse(f"({text})")
    depth, chained = _depth(tree)
    if depth > MAX_DEPTH:
        # a long run of `or` (`and`) is what a list of alternatives makes; other depths have no such cure
        hint = " (use `in [...]` for long lists of alternatives)" if chained * 2 > depth else ""
        raise PQLError([problem(f"the expression nests {depth} levels deep; at most {MAX_DEPTH} are allowed{hint}",
                                1, 1, text)])  # fmt: skip
    builder = TreeBuilder(text)
    found = finish(as_condition(builder.transform(tree)), builder.fail)
    if builder.problems:  # a node read twice (an unaggregated list of event values) is told of once
        raise PQLError(list({(p["line"], p["column"], p["message"]): p for p in builder.problems}.values()))
    return found


def _depth(tree: Tree[Token]) -> tuple[int, int]:
    """How deep the tree nests, and how many of the levels on its deepest path are `and` or `or`."""
    deepest, chained, stack = 0, 0, [(tree, 1, 0)]
    while stack:
        node, level, logic = stack.pop()
        logic += node.data in ("or_op", "and_op")
        if level > deepest:
            deepest, chained = level, logic
        stack.extend((child, level + 1, logic) for child in node.children if isinstance(child, Tree))
    return deepest, chained
