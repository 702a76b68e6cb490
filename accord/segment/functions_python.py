"""PQL's functions in Python, for the streaming evaluator: one per entry of `functions.FUNCTIONS`.

Each takes the target's value (None for a plain function), the arguments' values (for a function read on each
item, its first argument is a function of the item), the literal arguments as written, and `now`. Unknown is
None and follows SQL: a function of an unknown value is unknown, but for the presence tests and the
aggregations (`count()` of no list is 0). Null members of a list are left out by every list function."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from accord.segment.text_patterns import group

Value = Any
Impl = Callable[[Value, list[Value], tuple[Value, ...], datetime], Value]


def negated(impl: Impl) -> Impl:
    def run(target: Value, args: list[Value], literals: tuple[Value, ...], now: datetime) -> Value:
        value = impl(target, args, literals, now)
        return None if value is None else not value

    return run


def text_test(test: Callable[[str, str], bool]) -> Impl:
    """A test of a string against another, case sensitive unless the second argument is false."""

    def run(target: Value, args: list[Value], literals: tuple[Value, ...], _now: datetime) -> Value:
        other = args[0]
        if target is None or other is None:
            return None
        if len(literals) > 1 and literals[1] is False:
            target, other = target.lower(), other.lower()
        return test(target, other)

    return run


def equals(target: Value, args: list[Value], literals: tuple[Value, ...], _now: datetime) -> Value:
    sensitive = not (len(literals) > 1 and literals[-1] is False)
    values = args[:-1] if isinstance(literals[-1], bool) else args
    if target is None:
        return None
    fold: Callable[[str], str] = (lambda s: s) if sensitive else str.lower
    if any(v is not None and fold(v) == fold(target) for v in values):
        return True
    return None if any(v is None for v in values) else False


def regex_group(target: Value, args: list[Value], literals: tuple[Value, ...], _now: datetime) -> Value:
    if target is None or args[0] is None:
        return None
    return group(target, args[0], literals[1])


def _moment(value: Value) -> date | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return value if isinstance(value, date) else None


def part_of(part: str) -> Impl:
    def run(target: Value, _args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
        moment = _moment(target)
        return None if moment is None else getattr(moment, part)

    return run


def part_of_now(part: str) -> Impl:
    return lambda _target, _args, _literals, now: getattr(now.astimezone(UTC), part)


def _known(values: Value) -> list[Value]:
    return [v for v in values if v is not None]


def intersects(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    if target is None or args[0] is None:
        return None
    return bool(set(_known(target)) & set(_known(args[0])))


def intersection(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    if target is None or args[0] is None:
        return None
    return sorted(set(_known(target)) & set(_known(args[0])))


def subset_of(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    if target is None or args[0] is None:
        return None
    return set(_known(target)) <= set(_known(args[0]))


def superset_of(target: Value, args: list[Value], literals: tuple[Value, ...], now: datetime) -> Value:
    return subset_of(args[0], [target], literals, now)


def includes(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    if target is None or args[0] is None:
        return None
    return args[0] in _known(target)


def distinct(target: Value, _args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return None if target is None else sorted(set(_known(target)))


def count(target: Value, _args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return 0 if target is None else len(_known(target))


def summary(how: str, values: list[Value]) -> Value:
    """`sum`, `avg`, `min` or `max` of known values, as PQL has them for lists and events alike: the sum of
    nothing is 0, the others of nothing unknown."""
    if how == "sum":
        return sum(values) if values else 0
    if not values:
        return None
    if how == "avg":
        return sum(values) / len(values)
    return min(values) if how == "min" else max(values)


def aggregate(how: str) -> Impl:
    """`sum`, `avg`, `min`, `max` of a list's members, or of a value read on each of its items."""

    def run(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
        items = target or []
        return summary(how, _known([args[0](item) for item in items] if args else items))

    return run


def ranked(highest: bool) -> Impl:
    """`topN` (the N items with the highest values, first the highest) or `bottomN` (the lowest); items of
    unknown value are left out, and items of the same value keep their order."""

    def run(target: Value, args: list[Value], literals: tuple[Value, ...], _now: datetime) -> Value:
        if target is None:
            return None
        keyed = [(-v if highest else v, i, item) for i, item in enumerate(target) if (v := args[0](item)) is not None]
        return [item for _, _, item in sorted(keyed, key=lambda k: (k[0], k[1]))][: literals[1]]

    return run


def head(target: Value, _args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return target[0] if target else None


def holds(value: Value) -> bool:
    """Whether a value holds anything: an object or a map does when one of its members does."""
    if isinstance(value, dict):
        return any(holds(v) for v in value.values())
    return value is not None


def exists(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    if not args:
        return holds(target)
    return any(args[0](item) is True for item in target or [])


def every(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return all(args[0](item) is True for item in target or [])


def filtered(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return None if target is None else [item for item in target if args[0](item) is True]


def mapped(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return None if target is None else [args[0](item) for item in target]


def keys(target: Value, _args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return None if target is None else sorted(target)


def values(target: Value, _args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return None if target is None else [target[k] for k in sorted(target)]


def get(target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return None if target is None or args[0] is None else target.get(args[0])


def if_(_target: Value, args: list[Value], _literals: tuple[Value, ...], _now: datetime) -> Value:
    return args[1] if args[0] is True else args[2]


def same_members(left: Value, right: Value) -> Value:
    """Two lists are equal when they hold the same members, whatever their order and repeats."""
    if left is None or right is None:
        return None
    return set(_known(left)) == set(_known(right))
