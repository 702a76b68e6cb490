"""PQL's functions and methods as one table: per function its arity, what it applies to, how its arguments and
result are checked, its Ibis implementation (batch) and its Python one (streaming), and a doc example.

The checker, the compiler and the streaming evaluator dispatch here; `docs/segmentation.md` lists the same
functions, and a test walks this table (every function has an example that checks). Every function here is a
condition on a profile's attributes (or on one event's fields), so every one can stream, but for those of the
evaluation time (currentMonth(), ...: see `checker.on_the_clock`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from accord.segment import functions_ibis as ib
from accord.segment import functions_python as py
from accord.segment import text_patterns
from accord.segment.ast import Call, Literal, Method, Node
from accord.segment.kinds import comparable, element, is_list, is_map, is_object, item_fields, shown


class Checking(Protocol):
    """What a function's check needs of the checker."""

    fields: dict[str, dict[str, str]]

    def kind(self, node: Node, scope: str) -> str: ...
    def fail(self, node: Any, message: str) -> str: ...
    def boolean(self, node: Node, scope: str) -> None: ...


Check = Callable[[Checking, Method | Call, str, str], str]
"""(checker, node, the target's kind or "" for a plain function, scope) -> the result's kind."""


@dataclass(frozen=True)
class Function:
    name: str
    applies_to: str
    """What the target must be: string, time, list, map, any, or "" for a plain function (`if(...)`)."""
    arity: tuple[int, int | None]
    check: Check
    ibis: ib.Impl
    python: py.Impl
    example: str
    per_item: bool = False
    """Its first argument is read on each item of the target list (its paths are the items' fields)."""


TARGETS = {"string": "a string", "time": "a date or a timestamp", "list": "a list", "map": "a map"}


def _accepts(applies_to: str, kind: str) -> bool:
    if kind in ("unknown", "null") or applies_to == "any":
        return True
    if applies_to == "string":
        return kind == "string"
    if applies_to == "time":
        return kind in ("date", "timestamp")
    return is_list(kind) if applies_to == "list" else is_map(kind)


def _argument(c: Checking, node: Node, scope: str, wanted: Callable[[str], bool], what: str, name: str) -> str:
    kind = c.kind(node, scope)
    if kind not in ("unknown", "null") and not wanted(kind):
        c.fail(node, f"{name} {what}, not {shown(kind)}")
    return kind


def _literal(c: Checking, node: Node, test: Callable[[Any], bool], message: str) -> Any:
    value = node.value if isinstance(node, Literal) else None
    if not test(value):
        c.fail(node, message)
        return None
    return value


def item_scope(c: Checking, node: Method, target: str, scope: str) -> str | None:
    """The scope of the fields of the target list's items (registered with the checker), or None."""
    inner = element(target)
    if inner == "unknown":
        return None
    if not is_object(inner):
        c.fail(node, f"{node.name}(...) reads a field of each item: it needs a list of objects, not {shown(target)}")
        return None
    where = inner.removeprefix("object:")
    base = scope.split(":")[0]
    inside = f"{base}:{where}"
    c.fields.setdefault(inside, item_fields(c.fields[base], where))
    return inside


def _text(c: Checking, node: Method | Call, _target: str, scope: str) -> str:
    _argument(c, node.args[0], scope, lambda k: k == "string", "compares with a string", node.name)
    if len(node.args) == 2:
        _literal(
            c, node.args[1], lambda v: isinstance(v, bool), "the second argument (case sensitive) is true or false"
        )
    return "boolean"


def _equals(c: Checking, node: Method | Call, _target: str, scope: str) -> str:
    *values, last = node.args
    if not (isinstance(last, Literal) and isinstance(last.value, bool)):
        values.append(last)
    if not values:
        return c.fail(node, f"{node.name} takes at least one string to compare with")
    for value in values:
        _argument(c, value, scope, lambda k: k == "string", "compares with strings", node.name)
    return "boolean"


def _pattern(c: Checking, node: Method | Call, _target: str, scope: str) -> str:
    # written out, so that it is checked here, once, rather than fail a job or stall streaming on some value
    kind = _argument(c, node.args[0], scope, lambda k: k == "string", "compares with a string", node.name)
    pattern = node.args[0].value if isinstance(node.args[0], Literal) else None
    if isinstance(pattern, str) and (trouble := text_patterns.regex_problem(pattern)) is not None:
        c.fail(node.args[0], trouble)
    elif not isinstance(pattern, str) and kind in ("string", "unknown"):
        c.fail(node.args[0], f"{node.name} takes its regular expression as a string written out")
    return "boolean"


def _regex_group(c: Checking, node: Method | Call, target: str, scope: str) -> str:
    _pattern(c, node, target, scope)
    pattern = node.args[0].value if isinstance(node.args[0], Literal) else None
    if not isinstance(pattern, str):
        return "string"
    groups = text_patterns.groups(pattern)
    _literal(c, node.args[1], lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= groups,
             f"regexGroup's second argument is the number of one of its groups, from 0 to {groups}")  # fmt: skip
    return "string"


def _result(kind: str) -> Check:
    return lambda _c, _node, _target, _scope: kind


def _same_list(c: Checking, node: Method | Call, target: str, scope: str) -> str:
    other = _argument(c, node.args[0], scope, is_list, "takes a list", node.name)
    if is_object(element(target)) or is_object(element(other)):
        c.fail(node, f"{node.name} compares lists of values, not of objects")
    elif not comparable(element(target), element(other)):
        c.fail(node, f"{node.name} cannot compare a {shown(target)} with a {shown(other)}")
    return "list of " + element(target) if node.name == "intersection" else "boolean"


def _includes(c: Checking, node: Method | Call, target: str, scope: str) -> str:
    item = c.kind(node.args[0], scope)
    if not comparable(element(target), item) or is_object(item):
        c.fail(node.args[0], f"cannot look for a {shown(item)} in a {shown(target)}")
    return "boolean"


def _scalars(result: Callable[[str], str]) -> Check:
    def check(c: Checking, node: Method | Call, target: str, _scope: str) -> str:
        if is_object(element(target)):
            return c.fail(node, f"{node.name}() takes a list of values, not of objects")
        return result(target)

    return check


def _per_item(c: Checking, node: Method, target: str, scope: str) -> str | None:
    """The kind of the first argument, read on each item; None when it cannot be known."""
    inside = item_scope(c, node, target, scope)
    return c.kind(node.args[0], inside) if inside is not None else None


def _condition(c: Checking, node: Method | Call, target: str, scope: str) -> str:
    assert isinstance(node, Method)
    if not node.args:  # exists(): whether the value holds anything
        return "boolean"
    if not is_list(target) and target not in ("unknown", "null"):
        return c.fail(node, f"{node.name}(condition) needs a list of objects, not {shown(target)}")
    inside = item_scope(c, node, target, scope)
    if inside is not None:
        c.boolean(node.args[0], inside)
    return target if node.name == "filter" else "boolean"


def _aggregate(c: Checking, node: Method | Call, target: str, scope: str) -> str:
    assert isinstance(node, Method)
    value = _per_item(c, node, target, scope) if node.args else element(target)
    if value is None:
        return "number" if node.name in ("sum", "avg", "average") else "unknown"
    if is_object(value) and not node.args:
        return c.fail(node, f"{node.name}(...) of a list of objects takes the field to read: {node.name}(price)")
    numeric = node.name in ("sum", "avg", "average")
    if value not in ("unknown", "null") and (value not in ("number", "string", "date", "timestamp")
                                            or (numeric and value != "number")):  # fmt: skip
        c.fail(node.args[0] if node.args else node, f"{node.name} needs numbers, not {shown(value)}")
    return "number" if numeric else value


def _ranked(c: Checking, node: Method | Call, target: str, scope: str) -> str:
    assert isinstance(node, Method)
    value = _per_item(c, node, target, scope)
    if value not in (None, "unknown", "null", "number"):
        c.fail(node.args[0], f"{node.name} orders the items by a number, not {shown(value)}")
    _literal(c, node.args[1], lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
             f"{node.name}'s second argument is how many items to keep, a whole number")  # fmt: skip
    return target


def _mapped(c: Checking, node: Method | Call, target: str, scope: str) -> str:
    assert isinstance(node, Method)
    value = _per_item(c, node, target, scope)
    return "list of " + (value or "unknown")


def _get(c: Checking, node: Method | Call, target: str, scope: str) -> str:
    _argument(c, node.args[0], scope, lambda k: k == "string", "takes a key (a string)", node.name)
    return element(target)


def _if(c: Checking, node: Method | Call, _target: str, scope: str) -> str:
    c.boolean(node.args[0], scope)
    then, otherwise = c.kind(node.args[1], scope), c.kind(node.args[2], scope)
    if not comparable(then, otherwise) or is_object(then):
        c.fail(node, f"if(...) gives one kind of value, not {shown(then)} or {shown(otherwise)}")
    return otherwise if then in ("null", "unknown") else then


def _function(name: str, applies_to: str, arity: tuple[int, int | None], check: Check, impl: str, example: str,
              per_item: bool = False, negate: bool = False) -> Function:  # fmt: skip
    ibis_impl, python_impl = _IMPLEMENTATIONS[impl]
    if negate:
        ibis_impl, python_impl = ib.negated(ibis_impl), py.negated(python_impl)
    return Function(name, applies_to, arity, check, ibis_impl, python_impl, example, per_item)


_IMPLEMENTATIONS: dict[str, tuple[ib.Impl, py.Impl]] = {
    "contains": (ib.text_test(lambda a, b: a.contains(b)), py.text_test(lambda a, b: b in a)),
    "startsWith": (ib.text_test(lambda a, b: a.startswith(b)), py.text_test(str.startswith)),
    "endsWith": (ib.text_test(lambda a, b: a.endswith(b)), py.text_test(str.endswith)),
    "like": (ib.text_test(lambda a, b: a.like(b)), py.text_test(text_patterns.like)),
    "matches": (ib.text_test(lambda a, b: a.re_search(b)), py.text_test(text_patterns.search)),
    **{name: (getattr(ib, name), getattr(py, name)) for name in (
        "equals", "intersects", "intersection", "includes", "distinct", "count", "head", "exists", "filtered",
        "mapped", "keys", "values", "get")},
    "regexGroup": (ib.regex_group, py.regex_group), "subsetOf": (ib.subset_of, py.subset_of),
    "supersetOf": (ib.superset_of, py.superset_of), "all": (ib.every, py.every), "if": (ib.if_, py.if_),
    **{f"get{part.title()}": (ib.part_of(part), py.part_of(part)) for part in ("month", "year")},
    "getDayOfMonth": (ib.part_of("day"), py.part_of("day")),
    **{f"current{part.title()}": (ib.part_of_now(part), py.part_of_now(part)) for part in ("month", "year")},
    "currentDayOfMonth": (ib.part_of_now("day"), py.part_of_now("day")),
    **{how: (ib.aggregate(how), py.aggregate(how)) for how in ("sum", "avg", "min", "max")},
    "topN": (ib.ranked(True), py.ranked(True)), "bottomN": (ib.ranked(False), py.ranked(False)),
}  # fmt: skip


_S = "person.name.firstName"
_TEXT = [  # (name, base, negated, example)
    ("contains", "contains", False, f'{_S}.contains("oh", false)'),
    ("doesNotContain", "contains", True, f'{_S}.doesNotContain("oh")'),
    ("startsWith", "startsWith", False, f'{_S}.startsWith("Jo")'),
    ("doesNotStartWith", "startsWith", True, f'{_S}.doesNotStartWith("Joe")'),
    ("endsWith", "endsWith", False, 'personalEmail.address.endsWith(".com")'),
    ("doesNotEndWith", "endsWith", True, 'personalEmail.address.doesNotEndWith(".com", false)'),
    ("notContains", "contains", True, f'{_S}.notContains("oh")'),
    ("notStartsWith", "startsWith", True, f'{_S}.notStartsWith("Joe")'),
    ("notEndsWith", "endsWith", True, 'personalEmail.address.notEndsWith(".com")'),
]
FUNCTIONS: dict[str, Function] = {f.name: f for f in [
    *(_function(name, "string", (1, 2), _text, base, example, negate=neg) for name, base, neg, example in _TEXT),
    _function("like", "string", (1, 1), _text, "like", f'{_S}.like("J_h%")'),
    _function("notLike", "string", (1, 1), _text, "like", f'{_S}.notLike("J_h%")', negate=True),
    _function("equals", "string", (1, None), _equals, "equals", f'{_S}.equals("John", "Jane", false)'),
    _function("notEqualTo", "string", (1, None), _equals, "equals", f'{_S}.notEqualTo("John")', negate=True),
    _function("notEquals", "string", (1, None), _equals, "equals", f'{_S}.notEquals("John")', negate=True),
    _function("matches", "string", (1, 1), _pattern, "matches", f'{_S}.matches("(?i)^john")'),
    _function("notMatches", "string", (1, 1), _pattern, "matches", f'{_S}.notMatches("^[0-9]")', negate=True),
    _function("regexGroup", "string", (2, 2), _regex_group, "regexGroup",
              'personalEmail.address.regexGroup("@(\\\\w+)", 1) = "example"'),
    _function("getMonth", "time", (0, 0), _result("number"), "getMonth", "person.birthDate.getMonth() = 6"),
    _function("getYear", "time", (0, 0), _result("number"), "getYear",
              "person.birthDate.getYear() in [1991, 1992, 1993]"),
    _function("getDayOfMonth", "time", (0, 0), _result("number"), "getDayOfMonth",
              "_tenant.lastSeen.getDayOfMonth() <= 15"),
    _function("intersects", "list", (1, 1), _same_list, "intersects", '_tenant.colors.intersects(["red", "blue"])'),
    _function("intersection", "list", (1, 1), _same_list, "intersection",
              '_tenant.colors.intersection(_tenant.visited) = ["red", "blue"]'),
    _function("subsetOf", "list", (1, 1), _same_list, "subsetOf", "_tenant.colors.subsetOf(_tenant.visited)"),
    _function("supersetOf", "list", (1, 1), _same_list, "supersetOf", '_tenant.visited.supersetOf(["sushi", "pizza"])'),
    _function("includes", "list", (1, 1), _includes, "includes", '_tenant.colors.includes("red")'),
    _function("distinct", "list", (0, 0), _scalars(lambda t: t), "distinct", "_tenant.colors.distinct().count() > 1"),
    _function("count", "list", (0, 0), _result("number"), "count", "_tenant.orders.count() >= 2"),
    _function("head", "list", (0, 0), lambda c, n, t, s: element(t), "head", '_tenant.colors.head() = "red"'),
    _function("sum", "list", (0, 1), _aggregate, "sum", "_tenant.orders.sum(price) > 100", per_item=True),
    _function("avg", "list", (0, 1), _aggregate, "avg", "_tenant.scores.avg() >= 4", per_item=True),
    _function("average", "list", (0, 1), _aggregate, "avg", "_tenant.orders.average(price) > 20", per_item=True),
    _function("min", "list", (0, 1), _aggregate, "min", "_tenant.scores.min() > 1", per_item=True),
    _function("max", "list", (0, 1), _aggregate, "max", "_tenant.orders.max(price) >= 50", per_item=True),
    _function("topN", "list", (2, 2), _ranked, "topN", "_tenant.orders.topN(price, 2).sum(price) > 100",
              per_item=True),
    _function("bottomN", "list", (2, 2), _ranked, "bottomN",
              '_tenant.orders.bottomN(price, 1).head().isNotNull()', per_item=True),
    _function("exists", "any", (0, 1), _condition, "exists",
              'xEvent[productListItems.exists(SKU = "X1" and quantity > 1)].count() > 0', per_item=True),
    _function("all", "list", (1, 1), _condition, "all", '_tenant.orders.all(storeId = "S1")', per_item=True),
    _function("filter", "list", (1, 1), _condition, "filtered", "_tenant.orders.filter(price > 10).count() > 1",
              per_item=True),
    _function("map", "list", (1, 1), _mapped, "mapped", '_tenant.orders.map(storeId).includes("S1")', per_item=True),
    _function("keys", "map", (0, 0), _result("list of string"), "keys", '_tenant.prefs.keys().includes("lang")'),
    _function("values", "map", (0, 0), lambda c, n, t, s: "list of " + element(t), "values",
              '_tenant.accounts.values().exists(status = "active")'),
    _function("get", "map", (1, 1), _get, "get", '_tenant.prefs.get("lang") = "fr"'),
    _function("isNull", "any", (0, 0), _result("boolean"), "exists", "homeAddress.isNull()", negate=True),
    _function("isNotNull", "any", (0, 0), _result("boolean"), "exists", "homeAddress.isNotNull()"),
    _function("if", "", (3, 3), _if, "if", 'if(homeAddress.city = "Paris", 1, 2) = 1'),
    _function("currentMonth", "", (0, 0), _result("number"), "currentMonth",
              "person.birthDate.getMonth() = currentMonth()"),
    _function("currentYear", "", (0, 0), _result("number"), "currentYear",
              "_tenant.lastSeen.getYear() = currentYear()"),
    _function("currentDayOfMonth", "", (0, 0), _result("number"), "currentDayOfMonth",
              "person.birthDate.getDayOfMonth() = currentDayOfMonth()"),
]}  # fmt: skip
METHODS = {name: f for name, f in FUNCTIONS.items() if f.applies_to}
CALLS = {name: f for name, f in FUNCTIONS.items() if not f.applies_to}

REFUSED = {
    "groupBy": "groupBy makes a map of lists, which no comparison or function of Accord can use; "
               "count or filter the list instead (orders.filter(storeId = \"S1\").count() > 0)",
}  # fmt: skip
"""Documented functions Accord refuses, with why."""


def check(c: Checking, node: Method | Call, scope: str) -> str:
    """Check a call of a function of this table (its name is one); the kind of its result."""
    spec = FUNCTIONS[node.name]
    low, high = spec.arity
    if len(node.args) < low or (high is not None and len(node.args) > high):
        takes = f"{low}" if low == high else f"{low} or more" if high is None else f"{low} to {high}"
        return c.fail(node, f"{node.name} takes {takes} argument(s), not {len(node.args)}")
    target = ""
    if isinstance(node, Method):
        target = c.kind(node.target, scope)
        if not _accepts(spec.applies_to, target):
            return c.fail(node.target, f"{node.name} needs {TARGETS[spec.applies_to]}, not {shown(target)}")
    return spec.check(c, node, target, scope)


def literals(node: Method | Call) -> tuple[Any, ...]:
    """The arguments' values where they are written out (else None), as implementations read them."""
    return tuple(a.value if isinstance(a, Literal) else None for a in node.args)
