"""The parse tree turned into the syntax tree (ast.py): literals, paths, operators, time, functions, events and
sequences here, the long forms in long_form_reader.py; the reference's other spellings become the plain tree at
once (long_forms.py). What cannot be read is kept as a problem with its place, all raised together."""

from __future__ import annotations

import ast as python_ast
from typing import Any

from lark import Token, Transformer, v_args

from accord.segment.ast import (
    Arith,
    CalendarPoint,
    Call,
    Chain,
    ChainStep,
    Compare,
    Events,
    FieldOf,
    InArray,
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
from accord.segment.long_form_reader import LongFormReader, place_of
from accord.segment.long_forms import (
    AGGREGATIONS,
    EventValues,
    FilteredList,
    Period,
    aggregate,
    as_condition,
    calendar_slot,
    drop_parameter,
    occurs_beside,
    occurs_between,
    occurs_on,
    unit_name,
)  # fmt: skip

STEP_WINDOW = (
    "WHEN({written}) (a calendar form) is not a sequence step's window: a step takes a relative window, "
    "with <=, <, >= or > (WHEN(<= 2 days before now)), or a day (WHEN(today), WHEN(yesterday), WHEN(tomorrow))"
)
"""Why `WHEN(= 3 days before now)` is refused (docs/segmentation.md lists it among the forms Accord refuses)."""
CONDITIONS = {"exists", "all", "any", "filter"}
"""Methods whose first argument is a condition (on each item, or each event)."""


def _window(children: list[Any]) -> Window:
    op, amount, unit, direction, anchor = children
    op = "=" if str(op) == "==" else str(op) if op is not None else "<="
    direction = "after" if str(direction) == "from" else str(direction)  # `3 days from now`
    return Window(op, float(amount), unit_name(str(unit)), direction, str(anchor))


def _fields(token: Token) -> Path:
    """`.commerce.order.priceTotal` (after xEvent or a method) as the path it reads."""
    return Path(Position(token.line or 1, (token.column or 1) + 1), tuple(str(token)[1:].split(".")))


@v_args(meta=True)
class TreeBuilder(LongFormReader, Transformer[Token, Node]):
    """Parse tree to syntax tree, for one text; `problems` holds what could not be read."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.problems: list[dict[str, Any]] = []

    def string(self, meta: Any, c: list[Token]) -> Literal:
        return Literal(place_of(meta), python_ast.literal_eval(str(c[0])))

    def number(self, meta: Any, c: list[Token]) -> Literal:
        raw = str(c[0])
        return Literal(place_of(meta), float(raw) if "." in raw else int(raw))

    def true(self, meta: Any, _c: list[Token]) -> Literal:
        return Literal(place_of(meta), True)

    def false(self, meta: Any, _c: list[Token]) -> Literal:
        return Literal(place_of(meta), False)

    def null(self, meta: Any, _c: list[Token]) -> Literal:
        return Literal(place_of(meta), None)

    def path(self, meta: Any, c: list[Token]) -> Path:
        return Path(place_of(meta), tuple(str(c[0]).split(".")))

    def now(self, meta: Any, _c: list[Token]) -> Now:
        return Now(place_of(meta))

    def today(self, meta: Any, _c: list[Token]) -> Now:
        return Now(place_of(meta), today=True)

    def yesterday(self, meta: Any, _c: list[Token]) -> CalendarPoint:
        return CalendarPoint(place_of(meta), "now", "day", -1)

    def tomorrow(self, meta: Any, _c: list[Token]) -> CalendarPoint:
        return CalendarPoint(place_of(meta), "now", "day", 1)

    def parameter(self, meta: Any, c: list[Token]) -> Node:
        """`$1.homeAddress.city`: the first (and only) parameter of a definition is the profile."""
        number, *parts = str(c[0]).split(".")
        here = place_of(meta)
        if number != "$1":
            self.fail(here, f"a definition has one parameter, the profile ($1); there is no {number}")
        elif not parts:
            self.fail(here, "$1 is the profile: compare one of its fields ($1.homeAddress.city)")
        return Path(here, tuple(parts) or ("$1",))

    def lambda_(self, _meta: Any, c: list[Any]) -> Node:
        """`(Profile) => Profile.homeAddress.city = "Paris"`: Profile names the profile."""
        name = str(c[0]).strip()[1:].split(")")[0].strip()
        return drop_parameter(as_condition(c[1]), name)

    def list_of(self, meta: Any, c: list[Any]) -> ListOf:
        return ListOf(place_of(meta), tuple(x for x in c if x is not None))

    def compare(self, meta: Any, c: list[Any]) -> Compare:
        op = "=" if str(c[1]) == "==" else str(c[1])
        return Compare(place_of(meta), op, c[0], c[2])

    def and_op(self, meta: Any, c: list[Any]) -> Logic:
        return Logic(place_of(meta), "and", as_condition(c[0]), as_condition(c[2]))

    def or_op(self, meta: Any, c: list[Any]) -> Logic:
        return Logic(place_of(meta), "or", as_condition(c[0]), as_condition(c[2]))

    def not_op(self, meta: Any, c: list[Any]) -> Not:
        return Not(place_of(meta), as_condition(c[1]))

    def arith(self, meta: Any, c: list[Any]) -> Arith:
        return Arith(place_of(meta), str(c[1]), c[0], c[2])

    def negate(self, meta: Any, c: list[Any]) -> Negate:
        return Negate(place_of(meta), c[0])

    def in_op(self, meta: Any, c: list[Any]) -> Node:
        """`x in ["a", "b"]` (a written list), or `x in _tenant.colors` (any other list)."""
        if isinstance(c[2], ListOf):
            return InList(place_of(meta), c[0], c[2], negated=False)
        return InArray(place_of(meta), c[0], c[2], negated=False)

    def not_in_op(self, meta: Any, c: list[Any]) -> Node:
        if isinstance(c[2], ListOf):
            return InList(place_of(meta), c[0], c[2], negated=True)
        return InArray(place_of(meta), c[0], c[2], negated=True)

    def like_op(self, meta: Any, c: list[Any]) -> Method:
        """`city like "%es%"` is `city.like("%es%")`."""
        return Method(place_of(meta), c[0], "like", (c[2],))

    def window(self, _meta: Any, c: list[Any]) -> Window:
        return _window(c)

    def when(self, meta: Any, c: list[Any]) -> Window:
        window = _window(c)
        if window.op in ("=", "!="):  # a calendar form, which `occurs` takes and a step does not
            written = self.text[meta.start_pos : meta.end_pos]
            self.fail(place_of(meta), STEP_WINDOW.format(written=written))
        return window

    def when_day(self, _meta: Any, c: list[Token]) -> Window:
        """`WHEN(today)`: from that day's midnight to the next."""
        return Window("<", 1, "day", "after", str(c[0]))

    def occurs(self, meta: Any, c: list[Any]) -> Node:
        window: Window = c[2]
        if window.op in ("=", "!="):
            return calendar_slot(place_of(meta), c[0], window, window.op == "!=", self.fail)
        return Occurs(place_of(meta), c[0], window)

    def period(self, meta: Any, c: list[Token]) -> Period:
        return Period(place_of(meta), unit_name(str(c[1])), {"this": 0, "last": -1, "next": 1}[str(c[0])])

    def occurs_on(self, meta: Any, c: list[Any]) -> Node:
        return occurs_on(place_of(meta), c[0], c[3], self.fail)

    def occurs_beside(self, meta: Any, c: list[Any]) -> Node:
        return occurs_beside(place_of(meta), c[0], str(c[2]), c[3], self.fail)

    def occurs_between(self, meta: Any, c: list[Any]) -> Node:
        return occurs_between(place_of(meta), c[0], c[3], c[5], self.fail)

    def this_period(self, meta: Any, c: list[Token]) -> ThisPeriod:
        return ThisPeriod(place_of(meta), str(c[1]))

    def args(self, _meta: Any, c: list[Any]) -> tuple[Node, ...]:
        return tuple(c)

    def method(self, meta: Any, c: list[Any]) -> Node:
        target, name, args = c
        args = tuple[Node, ...](args or ())
        if str(name) in CONDITIONS and args:
            args = (as_condition(args[0]), *args[1:])
        found = aggregate(place_of(meta), str(name), target, args, self.fail)
        return found if found is not None else Method(place_of(meta), target, str(name), args)

    def method_field(self, meta: Any, c: list[Any]) -> Node:
        """`orders.topN(price, 5).head().price`: a field of the object the method gives."""
        *call, token = c
        found = self.method(meta, call)
        path = _fields(token)
        return FieldOf(place_of(meta), found, path.parts, path.pos)

    def filtered_list(self, meta: Any, c: list[Any]) -> FilteredList:
        """`productListItems[SKU = "PS"]`: the reference's filter of a list (see `FilteredList`)."""
        return FilteredList(place_of(meta), c[0], as_condition(c[1]))

    def call(self, meta: Any, c: list[Any]) -> Node:
        """`sum(xEvent[...].x)`, `count(xEvent[...])`: the aggregation of the events (or of their values);
        `count(_tenant.colors)`, `SUM(...)`: the method on a list, as the reference writes both."""
        name, args = str(c[0]), tuple[Node, ...](c[1] or ())
        if name == "if" and args:
            args = (as_condition(args[0]), *args[1:])
        if name.lower() in AGGREGATIONS and len(args) == 1:
            if isinstance(args[0], Events | EventValues):
                found = aggregate(place_of(meta), name.lower(), args[0], (), self.fail)
                if found is not None:
                    return found
            else:
                return Method(place_of(meta), args[0], AGGREGATIONS[name.lower()], ())
        return Call(place_of(meta), name, args)

    def events(self, meta: Any, c: list[Any]) -> Node:
        found = Events(place_of(meta), as_condition(c[1]))
        if c[2] is None:
            return found
        return EventValues(place_of(meta), found, _fields(c[2]))  # `.commerce.order.priceTotal` over the events

    def step_where(self, meta: Any, c: list[Any]) -> tuple[str, Any, Position]:
        return "WHERE", as_condition(c[1]), place_of(meta)

    def step_when(self, meta: Any, c: list[Any]) -> tuple[str, Any, Position]:
        return "WHEN", c[1], place_of(meta)

    def step_count(self, meta: Any, c: list[Token]) -> tuple[str, Any, Position]:
        raw = str(c[1])
        if "." in raw or int(raw) < 1:
            self.fail(place_of(meta), f"COUNT takes a whole number of events, at least 1, not {raw}")
            return "COUNT", 1, place_of(meta)
        return "COUNT", int(raw), place_of(meta)

    def step(self, meta: Any, c: list[Any]) -> ChainStep:
        name, _what, what, *clauses = c
        what = as_condition(what)
        found: dict[str, Any] = {}
        for kind, value, place in clauses:
            if kind in found:
                self.fail(place, f"step {str(name)!r} has two {kind}(...) clauses; join them into one")
            found[kind] = value
        if "WHERE" in found:  # the step's event must meet both
            what = Logic(found["WHERE"].pos, "and", what, found["WHERE"])
        return ChainStep(str(name), what, found.get("WHEN"), place_of(meta), found.get("COUNT", 1))

    def chain(self, meta: Any, c: list[Any]) -> Chain:
        steps = tuple(x for x in c if isinstance(x, ChainStep))
        return Chain(place_of(meta), steps)
