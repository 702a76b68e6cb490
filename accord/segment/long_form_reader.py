"""Reading the reference's long forms from the parse tree: `exists ... from xEvent where ...`, `forall ...`,
`select ...`, `sum ... over ...` and `let ... in ...`, each turned at once into the plain tree (long_forms.py).

`LongFormReader` is the part of the tree builder (tree_builder.py) that knows them; what cannot be read is
recorded as a problem with its place, all of them raised together once the tree is built."""

from __future__ import annotations

from typing import Any

from lark import Token, v_args

from accord.segment.ast import Events, Literal, Logic, Method, Node, Path, Position
from accord.segment.exceptions import problem
from accord.segment.long_forms import (
    AGGREGATIONS,
    EventValues,
    SelectedEvents,
    aggregate,
    as_condition,
    drop_variable,
    substitute,
)  # fmt: skip


def place_of(item: Any) -> Position:
    """Where a token or a tree (its meta) starts."""
    return Position(getattr(item, "line", 1) or 1, getattr(item, "column", 1) or 1)


def nodes(children: list[Any]) -> list[Any]:
    """The syntax tree nodes among a rule's children (leaving out its keywords)."""
    return [c for c in children if isinstance(c, Node)]


Binding = tuple[str, Any, Node | None, Position]
"""A quantifier's binding: its variable, what it ranges over, its condition (if any) and where it starts."""


class LongFormReader:
    """The long forms, for the tree builder, which gives the text read and the list its problems go to. (Each
    rule takes `v_args` itself: a transformer's class decorator does not reach the methods it inherits.)"""

    text: str
    problems: list[dict[str, Any]]

    def fail(self, node: Any, message: str) -> None:
        """Record a problem at a node (its place) or a token."""
        pos = node.pos if hasattr(node, "pos") else place_of(node)
        self.problems.append(problem(message, pos.line, pos.column, self.text))

    def _source(self, source: Any, form: str) -> Events | None:
        if isinstance(source, Events) and not isinstance(source, SelectedEvents):
            return source
        shown = source.path.dotted if isinstance(source, EventValues) else getattr(source, "dotted", "this")
        self.fail(source, f"`{form}` ranges over xEvent (or xEvent[...]), not over {shown}: lists of the "
                          "profile have their own functions (includes, intersects, ...)")  # fmt: skip
        return None

    def _where(self, source: Events, condition: Node | None, variable: str, form: str) -> Node | None:
        """The source's own filter and the form's condition (read through the variable), joined."""
        mine = drop_variable(as_condition(condition), variable, form, self.fail) if condition is not None else None
        if source.where is None or mine is None:
            return mine if source.where is None else source.where
        return Logic(mine.pos, "and", source.where, mine)

    @v_args(meta=True)
    def binding(self, meta: Any, c: list[Any]) -> Binding:
        found = nodes(c)
        return str(c[0]), found[0], found[1] if len(found) > 1 else None, place_of(meta)

    @v_args(meta=True)
    def further_binding(self, meta: Any, c: list[Any]) -> Binding:
        """`, I from E.productListItems where ...`: the comma, the name and `from` are one token."""
        token: Token = c[0]
        name = str(token)[1:].split()[0]
        before = str(token)[: str(token).index(name)]  # the comma and the spaces (perhaps lines) before the name
        line, column = (token.line or 1) + before.count("\n"), (token.column or 1) + len(before)
        if "\n" in before:
            column = len(before) - before.rindex("\n")
        found = nodes(c)
        return name, found[0], found[1] if len(found) > 1 else None, Position(line, column)

    @v_args(meta=True)
    def quantified(self, meta: Any, c: list[Any]) -> Node:
        """`exists E from xEvent where C`: some event meets C; `forall E from xEvent where C`: every one does.
        A further binding over a list of the event (`, I from E.productListItems where D`) is that list's
        `exists(D)` (or `all(D)`) joined to C."""
        quantifier, (variable, source, condition, _place), *more = c
        word = str(quantifier)
        form = f"{word} {variable} from xEvent where ..."
        events = self._source(source, form)
        inner = self._inner(word, variable, more)
        if events is None:
            return Literal(place_of(meta), None)
        mine = drop_variable(as_condition(condition), variable, form, self.fail) if condition is not None else None
        if inner is not None:
            mine = inner if mine is None else Logic(inner.pos, "and", mine, inner)
        if word == "exists":
            where = mine if events.where is None or mine is None else Logic(mine.pos, "and", events.where, mine)
            return Method(place_of(meta), Events(events.pos, where if mine is not None else events.where), "exists", ())
        if mine is None:
            return Literal(place_of(meta), True)
        return Method(place_of(meta), events, "all", (mine,))

    def _inner(self, word: str, outer: str, bindings: list[Binding]) -> Node | None:
        """The bindings after the first, each over a list of the variable before it, as nested list functions
        (`exists(...)` or `all(...)` of that list, read in the list's items)."""
        owners = [outer, *(binding[0] for binding in bindings)]
        for (variable, source, _condition, place), owner in zip(bindings, owners, strict=False):
            if not isinstance(source, Path) or len(source.parts) < 2 or source.parts[0] != owner:
                self.fail(place, f"in `{word}`, a further binding ranges over a list of the variable before it "
                                 f"({variable} from {owner}.productListItems)")  # fmt: skip
                return None
        found: Node | None = None
        for variable, source, condition, place in reversed(bindings):
            form = f"{word} ... {variable} from {source.dotted} where ..."
            test = drop_variable(as_condition(condition), variable, form, self.fail) if condition is not None else None
            if found is not None:
                test = found if test is None else Logic(found.pos, "and", test, found)
            if test is None:
                test = Literal(place, True)
            found = Method(place, Path(source.pos, source.parts[1:]), "exists" if word == "exists" else "all", (test,))
        return found

    @v_args(meta=True)
    def selection(self, meta: Any, c: list[Any]) -> Node:
        """`select E from xEvent where C`: the events meeting C (standing alone: some exist);
        `select E.x from xEvent where C`: their values of x, to aggregate."""
        chosen, source, *rest = c[1], *nodes(c)
        variable, *field = str(chosen).split(".")
        form = f"select {variable} from xEvent where ..."
        events = self._source(source, form)
        if events is None:
            return Literal(place_of(meta), None)
        where = self._where(events, rest[0] if rest else None, variable, form)
        if not field:
            return SelectedEvents(place_of(meta), where)
        return EventValues(place_of(meta), Events(place_of(meta), where), Path(place_of(chosen), tuple(field)))

    @v_args(meta=True)
    def aggregation(self, meta: Any, c: list[Any]) -> Node:
        """`sum E.x over E from xEvent where C` (also avg, average, min, max, count)."""
        name, value, _over, variable, _from, source, *rest = c
        variable, rest = str(variable), nodes(rest)
        form = f"{name} ... over {variable} from xEvent where ..."
        events = self._source(source, form)
        if events is None:
            return Literal(place_of(meta), None)
        chosen = Events(events.pos, self._where(events, rest[0] if rest else None, variable, form))
        if isinstance(value, Path) and value.parts == (variable,) and str(name) == "count":
            return Method(place_of(meta), chosen, "count", ())
        read = drop_variable(value, variable, form, self.fail)
        if str(name) == "count" and isinstance(read, Path):
            found = aggregate(place_of(meta), "count", EventValues(read.pos, chosen, read), (), self.fail)
            return found if found is not None else Literal(place_of(meta), None)
        return Method(place_of(meta), chosen, AGGREGATIONS[str(name)], (read,))

    @v_args(meta=True)
    def let_binding(self, meta: Any, c: list[Any]) -> tuple[str, Node]:
        name, op, value = c
        if str(op) != "=":
            self.fail(op, f"`let` gives a name a value with =, not {op}")
        return str(name), value

    @v_args(meta=True)
    def let_(self, meta: Any, c: list[Any]) -> Node:
        """`let S = value, T = value in body`: the body with S and T standing for their values; a later value may
        use an earlier name (as nested lets)."""
        *bindings, _in, body = c[1:]
        for name, value in reversed(bindings):
            body = substitute(body, name, value, self.fail)
        return body
