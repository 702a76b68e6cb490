"""The reference evaluator's functions and methods on values, written plainly, sharing nothing with Accord's.

`method(reference, node, scope)` and `call(reference, node, scope)` give the value of a method or a function of
PQL's function table; unknown is None."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import re2

from accord.segment import ast

# PQL's regular expressions are RE2's (the engine's): the reference runs the RE2 library itself, which also
# keeps a pattern that would backtrack for ever in Python's `re` (`(a|a)*$`) linear
RE2_OPTIONS = re2.Options()
RE2_OPTIONS.log_errors = False

NEGATIONS = {"doesNotContain": "contains", "notContains": "contains", "doesNotStartWith": "startsWith",
             "notStartsWith": "startsWith", "doesNotEndWith": "endsWith", "notEndsWith": "endsWith",
             "notLike": "like", "notMatches": "matches", "notEqualTo": "equals", "notEquals": "equals",
             "isNull": "isNotNull"}  # fmt: skip
PER_ITEM = {"exists", "all", "filter", "map", "sum", "avg", "average", "min", "max", "topN", "bottomN"}


def present(value: Any) -> list[Any]:
    return [v for v in value if v is not None]


def something_in(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, dict):
        return any(something_in(member) for member in value.values())
    return True


def like(value: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def utc_date(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value
    return value


def method(reference: Any, node: ast.Method, scope: dict[str, Any]) -> Any:
    if node.name in NEGATIONS:
        positive = method(reference, ast.Method(node.pos, node.target, NEGATIONS[node.name], node.args), scope)
        return None if positive is None else not positive
    value = reference.eval(node.target, scope)
    name, written = node.name, node.args
    if name in PER_ITEM and written:
        return per_item(reference, name, value, written, scope)
    args = [reference.eval(a, scope) for a in written]
    if name in ("isNotNull", "exists"):
        return something_in(value)
    if name in ("contains", "startsWith", "endsWith", "like", "matches"):
        if value is None or args[0] is None:
            return None
        text, other = value, args[0]
        if len(args) == 2 and args[1] is False:
            text, other = text.lower(), other.lower()
        if name == "contains":
            return other in text
        if name == "startsWith":
            return text[: len(other)] == other
        if name == "endsWith":
            return other == "" or text[-len(other) :] == other
        if name == "like":
            return like(text, other)
        return re2.search(other, text, RE2_OPTIONS) is not None
    if name == "equals":
        if value is None:
            return None
        sensitive = True
        if isinstance(args[-1], bool):
            sensitive, args = args[-1], args[:-1]
        unknown = False
        for other in args:
            if other is None:
                unknown = True
            elif (value == other) if sensitive else (value.lower() == other.lower()):
                return True
        return None if unknown else False
    if name == "regexGroup":
        if value is None:
            return None
        found = re2.search(args[0], value, RE2_OPTIONS)
        if found is None:
            return None
        return found.group(args[1]) if found.group(args[1]) is not None else ""
    if name in ("getMonth", "getYear", "getDayOfMonth"):
        moment = utc_date(value)
        if moment is None:
            return None
        return {"getMonth": moment.month, "getYear": moment.year, "getDayOfMonth": moment.day}[name]
    return collection(name, value, args)


def collection(name: str, value: Any, args: list[Any]) -> Any:
    if name == "count":
        return 0 if value is None else len(present(value))
    if name in ("sum", "avg", "average", "min", "max"):
        return summary(name, present(value or []))
    if name == "head":
        return value[0] if value else None
    if name == "keys":
        return None if value is None else sorted(value.keys())
    if name == "values":
        return None if value is None else [value[k] for k in sorted(value.keys())]
    if name == "get":
        return None if value is None or args[0] is None else value.get(args[0])
    if value is None:
        return None
    if name == "distinct":
        return sorted(set(present(value)))
    if name == "includes":
        return None if args[0] is None else args[0] in present(value)
    other = args[0]
    if other is None:
        return None
    mine, theirs = set(present(value)), set(present(other))
    if name == "intersects":
        return len(mine & theirs) > 0
    if name == "intersection":
        return sorted(mine & theirs)
    if name == "subsetOf":
        return all(v in theirs for v in mine)
    if name == "supersetOf":
        return all(v in mine for v in theirs)
    raise AssertionError(f"the reference does not know {name}")


def summary(name: str, values: list[Any]) -> Any:
    if name == "sum":
        return sum(values)
    if not values:
        return None
    if name in ("avg", "average"):
        return sum(values) / len(values)
    return min(values) if name == "min" else max(values)


def per_item(reference: Any, name: str, value: Any, written: tuple[ast.Node, ...], scope: dict[str, Any]) -> Any:
    items = value or []
    read = [reference.eval(written[0], item) for item in items]
    if name == "exists":
        return any(r is True for r in read)
    if name == "all":
        return all(r is True for r in read)
    if name == "filter":
        return None if value is None else [item for item, r in zip(items, read, strict=True) if r is True]
    if name == "map":
        return None if value is None else read
    if name in ("topN", "bottomN"):
        if value is None:
            return None
        keep = reference.eval(written[1], scope)
        known = [(r, place, item) for place, (item, r) in enumerate(zip(items, read, strict=True)) if r is not None]
        if name == "topN":
            known.sort(key=lambda k: (-k[0], k[1]))
        else:
            known.sort(key=lambda k: (k[0], k[1]))
        return [item for _, _, item in known[:keep]]
    return summary(name, present(read))


def call(reference: Any, node: ast.Call, scope: dict[str, Any]) -> Any:
    now = reference.now.astimezone(UTC)
    if node.name == "currentMonth":
        return now.month
    if node.name == "currentYear":
        return now.year
    if node.name == "currentDayOfMonth":
        return now.day
    if node.name == "if":
        return reference.eval(node.args[1] if reference.eval(node.args[0], scope) is True else node.args[2], scope)
    raise AssertionError(f"the reference does not know {node.name}")


def same_members(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    return set(present(a)) == set(present(b))
