"""PQL's functions as Ibis expressions, for the batch path: one per entry of `functions.FUNCTIONS`.

Each takes the target's value (None for a plain function), the arguments' values (for a function read on each
item, its first argument is a function of the item), the literal arguments as written, and `now`; each gives
the same answer as its twin in `functions_python.py` (a property test holds them together)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import ibis

Value = Any
Impl = Callable[[Value, list[Value], tuple[Value, ...], datetime], Value]


class StructScope:
    """An item of a list of objects, seen as a table: its fields are its columns (so paths resolve in it)."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.columns = tuple(value.type().names) if value.type().is_struct() else ()

    def __getitem__(self, name: str) -> Any:
        return self.value[name]


def negated(impl: Impl) -> Impl:
    return lambda target, args, literals, now: ~impl(target, args, literals, now)


def text_test(test: Callable[[Any, Any], Any]) -> Impl:
    def run(target: Value, args: list[Value], literals: tuple[Value, ...], _now: datetime) -> Value:
        other = args[0]
        if len(literals) > 1 and literals[1] is False:
            target, other = target.lower(), other.lower()
        return test(target, other)

    return run


def equals(target: Value, args: list[Value], literals: tuple[Value, ...], _now: datetime) -> Value:
    values = args[:-1] if isinstance(literals[-1], bool) else args
    if literals[-1] is False:
        target, values = target.lower(), [v.lower() for v in values]
    return target.isin(values)


def regex_group(target: Value, args: list[Value], literals: tuple[Value, ...], _now: datetime) -> Value:
    # the engine gives "" where nothing matches: nothing found is unknown, as in Python
    return ibis.ifelse(target.re_search(args[0]), target.re_extract(args[0], literals[1]), ibis.null("string"))


def part_of(part: str) -> Impl:
    def run(target: Value, _args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
        # the engine's time zone is UTC (as `now`'s): a moment without its zone is that moment in UTC
        moment = target if target.type().is_date() else target.cast("timestamp('UTC')").cast("timestamp")
        return getattr(moment, part)()

    return run


def part_of_now(part: str) -> Impl:
    return lambda _target, _args, _literals, now: ibis.literal(getattr(now.astimezone(UTC), part))


def _known(values: Value) -> Value:
    return values.filter(lambda v: v.notnull())


def _unknown_when_null(result: Value, *inputs: Value) -> Value:
    missing = inputs[0].isnull()
    for value in inputs[1:]:
        missing = missing | value.isnull()
    return ibis.cases((missing, ibis.null(result.type())), else_=result)


def intersects(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return target.intersect(args[0]).length() > 0


def intersection(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return _known(target.intersect(args[0])).unique().sort()


def subset_of(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    outside = _known(target).filter(lambda v: ~args[0].contains(v).fill_null(False))
    return _unknown_when_null(outside.length() == 0, target, args[0])


def superset_of(target: Value, args: list[Value], literals: tuple[Value, ...], now: datetime) -> Value:
    return subset_of(args[0], [target], literals, now)


def includes(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return _unknown_when_null(target.contains(args[0]), target, args[0])


def distinct(target: Value, _args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return _known(target).unique().sort()


def count(target: Value, _args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return _known(target).length().fill_null(0)


def aggregate(how: str) -> Impl:
    def run(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
        values = target.map(args[0]) if args else target
        if how == "sum":
            return values.sums().fill_null(0)
        return {"avg": values.means, "min": values.mins, "max": values.maxs}[how]()

    return run


def ranked(highest: bool) -> Impl:
    def run(target: Value, args: list[Value], literals: tuple[Value, ...], _now: datetime) -> Value:
        def keyed(item: Value, index: Value) -> Value:
            value = args[0](item)
            return ibis.struct({"k": -value if highest else value, "i": index, "v": item})

        # sorted by value, then by place in the list: the members' struct sorts by its first fields
        ordered = target.map(keyed).filter(lambda s: s.k.notnull()).sort().map(lambda s: s.v)
        return ordered[: literals[1]]

    return run


def head(target: Value, _args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return target[0]


def holds(value: Value) -> Value:
    """Whether a value holds anything (never unknown): an object or a map does when one of its members does."""
    dtype = value.type()
    if dtype.is_struct():
        found = ibis.literal(False)
        for name in dtype.names:
            found = found | holds(value[name])
        return found
    if dtype.is_map():
        return value.values().map(holds).anys().fill_null(False)
    return value.notnull()


def exists(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    if not args:
        return holds(target)
    return target.map(lambda item: args[0](item).fill_null(False)).anys().fill_null(False)


def every(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return target.map(lambda item: args[0](item).fill_null(False)).alls().fill_null(True)


def filtered(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return target.filter(lambda item: args[0](item).fill_null(False))


def mapped(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return target.map(args[0])


def keys(target: Value, _args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return target.keys().sort()


def values(target: Value, _args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return target.keys().sort().map(lambda key: target.get(key))


def get(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return target.get(args[0])


def if_(_target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return ibis.ifelse(args[0].fill_null(False), args[1], args[2])


def same_members(left: Value, right: Value) -> Value:
    """Two lists are equal when they hold the same members, whatever their order and repeats."""
    return _known(left).unique().sort() == _known(right).unique().sort()
