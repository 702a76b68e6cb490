"""PQL's functions and methods (strings, lists, maps, objects, dates, `if`): every one has a doc example that
checks, and the batch engine, the streaming evaluator and the reference give the same answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.schema import parse_fields_document
from accord.segment.checker import check
from accord.segment.compiler import compile_job
from accord.segment.evaluator import compile_python
from accord.segment.exceptions import PQLError
from accord.segment.functions import FUNCTIONS, REFUSED
from accord.segment.kinds import schema_fields
from accord.segment.parser import parse_pql
from tests.segment.reference import Reference

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
DOCS = Path(__file__).parents[2] / "docs" / "segmentation.md"
_S, _N, _I, _D = {"type": "string"}, {"type": "number"}, {"type": "integer"}, {"type": "date"}
_ORDER = {"type": "object", "properties": {"storeId": _S, "price": _N}}
PROFILE_TREE = {
    "person": {"type": "object", "properties": {"name": {"type": "object", "properties": {"firstName": _S}},
                                                "birthDate": _D}},
    "homeAddress": {"type": "object", "properties": {"city": _S, "countryCode": _S}},
    "personalEmail": {"type": "object", "properties": {"address": _S}},
    "_tenant": {"type": "object", "properties": {
        "age": _I, "lastSeen": {"type": "date-time"}, "colors": {"type": "array", "items": _S},
        "visited": {"type": "array", "items": _S}, "scores": {"type": "array", "items": _I},
        "orders": {"type": "array", "items": _ORDER}, "prefs": {"type": "map", "values": _S},
        "accounts": {"type": "map", "values": {"type": "object", "properties": {"status": _S, "balance": _N}}}}},
}  # fmt: skip
EVENT_TREE = {
    "eventType": _S, "timestamp": {"type": "date-time"},
    "productListItems": {"type": "array", "items": {"type": "object", "properties": {
        "SKU": _S, "name": _S, "quantity": _I, "priceTotal": _N}}},
}  # fmt: skip
PROFILE_FIELDS = schema_fields(parse_fields_document(PROFILE_TREE))
EVENT_FIELDS = schema_fields(parse_fields_document(EVENT_TREE))
_ORDER_ARROW = pa.struct([("storeId", pa.string()), ("price", pa.float64())])
PROFILE_SCHEMA = pa.schema([
    ("graph", pa.int64()),
    ("person", pa.struct([("name", pa.struct([("firstName", pa.string())])), ("birthDate", pa.date32())])),
    ("homeAddress", pa.struct([("city", pa.string()), ("countryCode", pa.string())])),
    ("personalEmail", pa.struct([("address", pa.string())])),
    ("_tenant", pa.struct([
        ("age", pa.int64()), ("lastSeen", pa.timestamp("us", tz="UTC")), ("colors", pa.list_(pa.string())),
        ("visited", pa.list_(pa.string())), ("scores", pa.list_(pa.int64())), ("orders", pa.list_(_ORDER_ARROW)),
        ("prefs", pa.map_(pa.string(), pa.string())),
        ("accounts", pa.map_(pa.string(), pa.struct([("status", pa.string()), ("balance", pa.float64())])))])),
])  # fmt: skip
EVENT_SCHEMA = pa.schema([
    ("graph", pa.int64()), ("eventType", pa.string()), ("timestamp", pa.timestamp("us", tz="UTC")),
    ("productListItems", pa.list_(pa.struct([("SKU", pa.string()), ("name", pa.string()), ("quantity", pa.int64()),
                                             ("priceTotal", pa.float64())]))),
])  # fmt: skip


def _arrow_maps(value: Any) -> Any:
    """Python dicts of map fields as Arrow takes them (a list of pairs)."""
    tenant = dict(value.get("_tenant") or {})
    for name in ("prefs", "accounts"):
        if tenant.get(name) is not None:
            tenant[name] = list(tenant[name].items())
    return {**value, "_tenant": tenant}


def batch(texts: list[str], people: list[dict[str, Any]]) -> list[list[bool]]:
    rows = [{"graph": n, **_arrow_maps({k: v for k, v in p.items() if k != "events"})} for n, p in enumerate(people)]
    happened = [{"graph": n, **e} for n, p in enumerate(people) for e in p.get("events", [])]
    con = ibis.duckdb.connect()
    try:
        profiles = ibis.memtable(pa.Table.from_pylist(rows, schema=PROFILE_SCHEMA))
        events = ibis.memtable(pa.Table.from_pylist(happened, schema=EVENT_SCHEMA))
        nodes = {f"d{i}": parse_pql(t) for i, t in enumerate(texts)}
        result = con.to_pyarrow(compile_job(nodes, profiles, events, NOW, {}, {}).order_by("graph"))
    finally:
        con.disconnect()
    return [[bool(row[f"d{i}"]) for i in range(len(texts))] for row in result.to_pylist()]


def every_engine(texts: list[str], people: list[dict[str, Any]]) -> list[list[bool]]:
    """What the reference says, after holding the streaming evaluator and the batch engine to it."""
    for text in texts:
        check(parse_pql(text), text, PROFILE_FIELDS, EVENT_FIELDS)
    reference = Reference(NOW)
    attributes = [{k: v for k, v in p.items() if k != "events"} for p in people]
    expected = [[reference.qualifies(parse_pql(t), a, p.get("events", [])) for t in texts]
                for a, p in zip(attributes, people, strict=True)]  # fmt: skip
    streaming = [compile_python(parse_pql(t)) for t in texts]
    streamed = [[f({"attributes": a, "events": p.get("events", [])}, NOW) for f in streaming]
                for a, p in zip(attributes, people, strict=True)]  # fmt: skip
    assert streamed == expected
    assert batch(texts, people) == expected
    return expected


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_has_a_doc_example_that_checks(name: str) -> None:
    example = FUNCTIONS[name].example
    assert f"{name}(" in example, f"{name} has no example of its own"
    check(parse_pql(example), example, PROFILE_FIELDS, EVENT_FIELDS)
    assert f"`{example}`" in DOCS.read_text(encoding="utf-8"), f"docs/segmentation.md does not show {name}'s example"


ANN: dict[str, Any] = {
    "person": {"name": {"firstName": "Ann"}, "birthDate": date(1990, 6, 3)},
    "homeAddress": {"city": "Paris", "countryCode": None},
    "personalEmail": {"address": "ann@example.com"},
    "_tenant": {
        "age": 36,
        "lastSeen": NOW - timedelta(days=2),
        "colors": ["red", "blue", "red", None],
        "visited": ["red", "blue", "green"],
        "scores": [4, 5, None],
        "orders": [
            {"storeId": "S1", "price": 80.0},
            {"storeId": "S2", "price": 40.0},
            {"storeId": "S1", "price": None},
        ],
        "prefs": {"lang": "fr", "tz": None},
        "accounts": {"a": {"status": "active", "balance": 3.5}},
    },
    "events": [
        {
            "eventType": "commerce.purchases",
            "timestamp": NOW - timedelta(hours=3),
            "productListItems": [{"SKU": "X1", "name": "Jacket", "quantity": 2, "priceTotal": 90.5}],
        }
    ],
}
BOB: dict[str, Any] = {
    "person": {"name": {"firstName": "bob"}, "birthDate": date(1985, 6, 15)},
    "homeAddress": {"city": None, "countryCode": None},
    "personalEmail": {"address": "BOB@mail.org"},
    "_tenant": {
        "age": None,
        "lastSeen": None,
        "colors": [],
        "visited": ["red"],
        "scores": [],
        "orders": [],
        "prefs": {},
        "accounts": {"b": {"status": "closed", "balance": None}},
    },
    "events": [
        {
            "eventType": "commerce.productViews",
            "timestamp": NOW - timedelta(days=1),
            "productListItems": [
                {"SKU": "X2", "name": "montana wind jacket", "quantity": 1, "priceTotal": None},
                {"SKU": None, "name": None, "quantity": None, "priceTotal": None},
            ],
        }
    ],
}
NOBODY: dict[str, Any] = {"person": {"name": {"firstName": None}, "birthDate": None},
          "homeAddress": None, "personalEmail": {"address": None},
          "_tenant": {"age": None, "lastSeen": None, "colors": None, "visited": None, "scores": None,
                      "orders": None, "prefs": None, "accounts": None}, "events": []}  # fmt: skip
CASES = [  # expression, then whether Ann, Bob and nobody qualify
    ('person.name.firstName.doesNotStartWith("A")', [False, True, False]),
    ('person.name.firstName.startsWith("B", false)', [False, True, False]),
    ('person.name.firstName.equals("ann", "BOB", false)', [True, True, False]),
    ('person.name.firstName.notEqualTo("Ann")', [False, True, False]),
    ('personalEmail.address.doesNotEndWith(".com")', [False, True, False]),
    ('personalEmail.address.doesNotContain("mail", false)', [True, False, False]),
    ('personalEmail.address.regexGroup("@(\\\\w+)", 1) = "example"', [True, False, False]),
    ('personalEmail.address.regexGroup("^(x)?", 1) = ""', [True, True, False]),
    ("person.birthDate.getMonth() = currentMonth()", [True, True, False]),
    ("person.birthDate.getDayOfMonth() = currentDayOfMonth()", [False, True, False]),
    ("_tenant.lastSeen.getYear() = currentYear()", [True, False, False]),
    ('_tenant.colors.intersects(["blue", "pink"])', [True, False, False]),
    ('_tenant.colors.intersection(_tenant.visited) = ["blue", "red"]', [True, False, False]),
    ("_tenant.colors.subsetOf(_tenant.visited)", [True, True, False]),
    ('_tenant.visited.supersetOf(["red"])', [True, True, False]),
    ('_tenant.colors.includes("red")', [True, False, False]),
    ("_tenant.colors.distinct().count() = 2", [True, False, False]),
    ("_tenant.colors.count() = 0", [False, True, True]),
    ('_tenant.colors.head() = "red"', [True, False, False]),
    ("_tenant.scores.sum() = 9", [True, False, False]),
    ("_tenant.scores.avg() > 4", [True, False, False]),
    ("_tenant.orders.max(price) = 80", [True, False, False]),
    ("_tenant.orders.topN(price, 1).sum(price) = 80", [True, False, False]),
    ('_tenant.orders.bottomN(price, 1).all(storeId = "S2")', [True, True, True]),
    ('_tenant.orders.filter(storeId = "S1").count() = 2', [True, False, False]),
    ('_tenant.orders.map(storeId).distinct() = ["S1", "S2"]', [True, False, False]),
    ('_tenant.orders.exists(price > 50)', [True, False, False]),
    ('_tenant.prefs.keys() = ["lang", "tz"]', [True, False, False]),
    ('_tenant.prefs.get("lang") = "fr"', [True, False, False]),
    ('_tenant.accounts.values().exists(status = "active")', [True, False, False]),
    ("_tenant.prefs.isNull()", [False, True, True]),
    ("homeAddress.isNull()", [False, True, True]),
    ("homeAddress.isNotNull()", [True, False, False]),
    ('if(homeAddress.city = "Paris", 1, 2) = 2', [False, True, True]),
    ('xEvent[productListItems.exists(name.equals("MONTANA WIND JACKET", false))].count() > 0', [False, True, False]),
    ("xEvent[productListItems.sum(quantity) >= 2].exists()", [True, False, False]),
    # `in` a list field (unknown when the list or the value is missing), a field of a function's object, filters
    ('"red" in _tenant.colors', [True, False, False]),
    ('"red" notIn _tenant.colors', [False, True, False]),
    ("homeAddress.city notIn _tenant.visited", [True, False, False]),
    ("_tenant.scores.max() in _tenant.scores", [True, False, False]),
    ("_tenant.orders.topN(price, 2).head().price = 80", [True, False, False]),
    ('_tenant.orders.bottomN(price, 1).head().storeId = "S2"', [True, False, False]),
    ('_tenant.accounts.get("a").status = "active"', [True, False, False]),
    ("_tenant.orders[price > 50]", [True, False, False]),
    ("not (_tenant.orders[price > 50])", [False, True, True]),
    ('_tenant.orders[storeId = "S1"].count() = 2', [True, False, False]),
    ('xEvent[productListItems[SKU = "X1"]]', [True, False, False]),
    ('xEvent[productListItems[name like "%jacket"]].count() > 0', [False, True, False]),
]  # fmt: skip


def test_each_function_gives_the_documented_answer_in_every_engine() -> None:
    texts = [text for text, _ in CASES]
    answers = every_engine(texts, [ANN, BOB, NOBODY])
    for index, (text, expected) in enumerate(CASES):
        assert [row[index] for row in answers] == expected, text


ATOMS = [
    'person.name.firstName.doesNotContain("n", false)', 'person.name.firstName.equals("Ann", "Bob")',
    'person.name.firstName.notEqualTo("Ann")', 'person.name.firstName.regexGroup("^(A)(n*)", 2) = "nn"',
    "person.birthDate.getMonth() >= currentMonth()", '_tenant.colors.intersects(["red", "pink"])',
    '_tenant.colors.intersection(["red", "blue"]) = ["red"]', "_tenant.colors.subsetOf(_tenant.visited)",
    "_tenant.colors.supersetOf(_tenant.visited)", '_tenant.colors.includes("blue")',
    "_tenant.colors.distinct().count() >= 2", '_tenant.colors.head() = "red"', "_tenant.scores.sum() > 5",
    "_tenant.scores.min() < 3", "_tenant.orders.avg(price) > 20", "_tenant.orders.topN(price, 2).sum(price) > 60",
    '_tenant.orders.bottomN(price, 1).exists(storeId = "S1")', '_tenant.orders.all(storeId = "S1")',
    '_tenant.prefs.keys().includes("lang")', '_tenant.prefs.values().includes("fr")', "_tenant.prefs.isNotNull()",
    '_tenant.accounts.values().exists(balance > 1)', "homeAddress.isNull()",
    'if(_tenant.age > 30, "old", "young") = "old"', 'xEvent[productListItems.exists(quantity > 1)].count() > 0',
    '"red" in _tenant.colors', '"blue" notIn _tenant.visited', "_tenant.scores.min() in _tenant.scores",
    "_tenant.orders.topN(price, 2).head().price > 20", '_tenant.orders.bottomN(price, 1).head().storeId = "S1"',
    '_tenant.accounts.get("a").balance > 1', '_tenant.orders[storeId = "S1"]', "_tenant.orders[price > 20].count() > 1",
    "xEvent[productListItems[quantity > 1]]", "xEvent[productListItems[quantity > 1]].count() > 1",
    'exists E from xEvent where (E.eventType = "commerce.purchases"), I from E.productListItems where I.quantity > 1',
    "person.birthDate.getYear() < 1990", "person.birthDate.getDayOfMonth() <= currentDayOfMonth()",
    "_tenant.lastSeen.getYear() = currentYear()", "_tenant.lastSeen.getDayOfMonth() > 20",
    "_tenant.lastSeen.getMonth() = currentMonth()", '_tenant.orders.map(storeId).includes("S1")',
    '_tenant.prefs.get("lang") = "fr"', "_tenant.orders.filter(price > 20).count() >= 1",
]  # fmt: skip
last_seen = st.one_of(st.none(), st.integers(-400 * 86_400, 40 * 86_400).map(lambda s: NOW + timedelta(seconds=s)))
"""A timestamp from about a year before NOW to a month after it: date functions see other years, months and days."""
colors = st.one_of(st.none(), st.lists(st.sampled_from(["red", "blue", "green", None]), max_size=4))
orders = st.one_of(st.none(), st.lists(st.fixed_dictionaries({
    "storeId": st.sampled_from(["S1", "S2", None]), "price": st.sampled_from([None, 10.0, 30.5, 50.0])}),
    max_size=4))  # fmt: skip
people = st.fixed_dictionaries({
    "person": st.fixed_dictionaries({"name": st.fixed_dictionaries({"firstName": st.sampled_from(
        ["Ann", "Annn", "ann", "Bob", None])}), "birthDate": st.one_of(st.none(), st.dates(date(1950, 1, 1)))}),
    "homeAddress": st.one_of(st.none(), st.fixed_dictionaries({"city": st.sampled_from(["Paris", None]),
                                                               "countryCode": st.none()})),
    "personalEmail": st.fixed_dictionaries({"address": st.none()}),
    "_tenant": st.fixed_dictionaries({
        "age": st.one_of(st.none(), st.integers(0, 99)), "lastSeen": last_seen, "colors": colors,
        "visited": colors, "scores": st.one_of(st.none(), st.lists(st.one_of(st.none(), st.integers(0, 5)),
                                                                   max_size=4)),
        "orders": orders,
        "prefs": st.one_of(st.none(), st.dictionaries(st.sampled_from(["lang", "tz"]),
                                                      st.sampled_from(["fr", "en", None]), max_size=2)),
        "accounts": st.one_of(st.none(), st.dictionaries(st.sampled_from(["a", "b"]), st.fixed_dictionaries(
            {"status": st.sampled_from(["active", None]), "balance": st.sampled_from([None, 0.5, 2.0])}),
            max_size=2))}),
    "events": st.lists(st.fixed_dictionaries({
        "eventType": st.just("commerce.purchases"), "timestamp": st.just(NOW - timedelta(hours=1)),
        "productListItems": st.one_of(st.none(), st.lists(st.fixed_dictionaries({
            "SKU": st.just("X"), "name": st.none(), "quantity": st.sampled_from([None, 1, 2]),
            "priceTotal": st.none()}), max_size=3))}), max_size=2),
})  # fmt: skip
definitions = st.recursive(
    st.sampled_from(ATOMS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        inner.map(lambda x: f"not ({x})"),
    ),
    max_leaves=3,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(definitions, min_size=1, max_size=3), crowd=st.lists(people, min_size=1, max_size=6))
def test_batch_streaming_and_reference_agree_on_functions(texts: list[str], crowd: list[dict[str, Any]]) -> None:
    every_engine(texts, crowd)


@pytest.mark.parametrize(("text", "message", "line", "column"), [
    ('person.name.firstName.doesNotStartWith("A", "b")', "(case sensitive) is true or false", 1, 45),
    ("person.name.firstName.notEqualTo()", "takes 1 or more argument(s), not 0", 1, 1),
    ("_tenant.colors.topN(3)", "takes 2 argument(s), not 1", 1, 1),
    ('_tenant.age.includes("x")', "includes needs a list, not number", 1, 1),
    ("_tenant.colors.sum() > 1", "sum needs numbers, not string", 1, 1),
    ('_tenant.orders.exists(SKU = "x")', "the items of _tenant.orders have no field 'SKU'", 1, 23),
    ('_tenant.colors.exists(storeId = "x")', "needs a list of objects, not list of string", 1, 1),
    ('_tenant.orders.intersects(["a"])', "compares lists of values, not of objects", 1, 1),
    ('_tenant.prefs.get(1) = "x"', "get takes a key (a string), not number", 1, 19),
    ('personalEmail.address.regexGroup("@(x)", 2) = "x"', "from 0 to 1", 1, 42),
    ("homeAddress = 1", "cannot compare object with number", 1, 1),
    ('if(_tenant.age > 1, 1, "a") = 1', "one kind of value", 1, 1),
    ("currentMonth(1) = 1", "currentMonth takes 0 argument(s), not 1", 1, 1),
    ('person.name.firstName.doesNotStrtWith("A")', "did you mean doesNotStartWith", 1, 1),
    ("curentYear() = 2026", "did you mean currentYear", 1, 1),
    ('_tenant.orders.groupBy(storeId).count() > 1', "groupBy(...) is not supported", 1, 1),
    ("_tenant.colors.intersection([\"a\"]) < [\"b\"]", "does not order lists", 1, 1),
    ("1 in _tenant.colors", "cannot look for a number in a list of string", 1, 1),
    ('"x" in homeAddress.city', "`in` looks for a value in a list, not in string", 1, 8),
    ("person.birthDate notIn _tenant.orders", "cannot look for a date in a list of object", 1, 1),
    ("_tenant.orders.head().prize = 1", "the object has no field 'prize'; did you mean price", 1, 23),
    ('_tenant.colors.head().name = "x"', "a string has no fields", 1, 23),
    ('_tenant.orders[SKU = "x"]', "the items of _tenant.orders have no field 'SKU'", 1, 16),
    ('xEvent[productListItems[SKU = "x"].count() > 0 and productListItems[quantity]].exists()',
     "a condition is needed here, not a number", 1, 69),
])  # fmt: skip
def test_bad_function_calls_say_what_and_where(text: str, message: str, line: int, column: int) -> None:
    with pytest.raises(PQLError) as caught:
        check(parse_pql(text), text, PROFILE_FIELDS, EVENT_FIELDS)
    problems = caught.value.details["problems"]
    found = [p for p in problems if message in p["message"]]
    assert found, problems
    assert (found[0]["line"], found[0]["column"]) == (line, column)


def test_refused_functions_are_listed_in_the_docs() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name in REFUSED:
        assert f"`{name}`" in text.split("### Documented forms Accord refuses", 1)[-1], name


def _misspelled() -> list[str]:
    """Every field of the test schemas written with a letter too, where a user could write it: at the top, in
    an event filter, in a condition on a list's items and after a function's object."""
    texts = []
    for path in PROFILE_FIELDS:
        written = path.replace("[]", "").replace("{}", "")
        texts.append(f"{written}x.isNull()")
        for items in ("_tenant.orders", "_tenant.accounts.values()"):
            texts.append(f"{items}.exists({written.rsplit('.', 1)[-1]}x.isNull())")
            texts.append(f"{items}.head().{written.rsplit('.', 1)[-1]}x.isNull()")
    texts += [f"xEvent[{path.replace('[]', '')}x.isNull()].exists()" for path in EVENT_FIELDS]
    texts += ["xEvent[productListItems.exists(SKUx.isNull())].exists()", "_tenant.orders.price > 1",
              '_tenant.accounts.status = "x"', 'xEvent[productListItems.SKU = "x"].exists()']  # fmt: skip
    return texts


def test_no_problem_names_a_path_in_the_schemas_notation() -> None:
    """`orders[].price` is how the field list names the items' fields, not something a user writes: no
    problem (a did-you-mean above all) shows it."""
    for text in _misspelled():
        with pytest.raises(PQLError) as caught:
            check(parse_pql(text), text, PROFILE_FIELDS, EVENT_FIELDS)
        for found in caught.value.problems:
            assert "[]" not in found["message"] and "{}" not in found["message"], (text, found["message"])
