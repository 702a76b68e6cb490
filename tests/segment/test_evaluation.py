"""Batch (engine) and streaming (Python) evaluation agree with each other and with a plain reference."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.segment.ast import Node
from accord.segment.checker import check
from accord.segment.compiler import compile_job
from accord.segment.evaluator import compile_python
from accord.segment.parser import parse_pql
from accord.segment.references import inline
from tests.segment.reference import Reference

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PROFILE_FIELDS = {"person.name.firstName": "string", "person.birthDate": "date", "homeAddress.city": "string",
                  "_tenant.age": "integer", "consents.marketing.email.val": "string"}  # fmt: skip
EVENT_FIELDS = {"eventType": "string", "timestamp": "date-time", "commerce.order.priceTotal": "number"}
PROFILE_SCHEMA = pa.schema([
    ("graph", pa.int64()),
    ("person", pa.struct([("name", pa.struct([("firstName", pa.string())])), ("birthDate", pa.date32())])),
    ("homeAddress", pa.struct([("city", pa.string())])),
    ("_tenant", pa.struct([("age", pa.int64())])),
    ("consents", pa.struct([("marketing", pa.struct([("email", pa.struct([("val", pa.string())]))]))])),
])  # fmt: skip
EVENT_SCHEMA = pa.schema([
    ("graph", pa.int64()), ("eventType", pa.string()), ("timestamp", pa.timestamp("us", tz="UTC")),
    ("commerce", pa.struct([("order", pa.struct([("priceTotal", pa.float64())]))])),
])  # fmt: skip

names = st.sampled_from(["Ann", "ann", "Bob", "Anna", "Zoë", "", None])
cities = st.sampled_from(["Paris", "Oslo", "paris", None])
event_types = st.sampled_from(["commerce.purchases", "commerce.productViews", "web.webpagedetails.pageViews"])
moments = st.integers(-60 * 24 * 3600, 2 * 24 * 3600).map(lambda s: NOW + timedelta(seconds=s))
events = st.fixed_dictionaries({
    "eventType": event_types, "timestamp": moments,
    "commerce": st.fixed_dictionaries({"order": st.fixed_dictionaries({
        "priceTotal": st.one_of(st.none(), st.sampled_from([0.0, 9.5, 50.0, 120.25]))})}),
})  # fmt: skip
profiles = st.fixed_dictionaries({
    "person": st.fixed_dictionaries({"name": st.fixed_dictionaries({"firstName": names}), "birthDate": st.one_of(
        st.none(), st.dates(date(1950, 1, 1), date(2026, 12, 31)))}),
    "homeAddress": st.fixed_dictionaries({"city": cities}),
    "_tenant": st.fixed_dictionaries({"age": st.one_of(st.none(), st.integers(0, 99))}),
    "consents": st.fixed_dictionaries({"marketing": st.fixed_dictionaries({"email": st.fixed_dictionaries(
        {"val": st.sampled_from(["y", "n", "dn", None])})})}),
    "events": st.lists(events, max_size=6),
})  # fmt: skip

ATOMS = [
    'person.name.firstName = "Ann"', 'person.name.firstName.equals("ann", false)',
    'person.name.firstName.startsWith("An")', 'person.name.firstName.notContains("n")',
    'person.name.firstName.like("A_n%")', 'person.name.firstName.matches("^[AB]")',
    'person.name.firstName.matches("^\\\\w{3}$")',  # RE2's \w is ASCII on every path: not Zoë, as in the engine
    'person.name.firstName.isNull()', 'homeAddress.city in ["Paris", "Oslo"]', 'homeAddress.city notIn ["Paris"]',
    "_tenant.age >= 30", "_tenant.age * 2 - 10 < 70", "_tenant.age / 0 > 1", "person.birthDate < date(1990, 1, 1)",
    "person.birthDate.occurs(this year)", "person.birthDate occurs <= 400 days before today",
    'consents.marketing.email.val notIn ["n", "dn"]', "person.birthDate.exists()",
    'xEvent[eventType = "commerce.purchases" and timestamp occurs <= 30 days before now].count() > 1',
    'xEvent[eventType = "commerce.purchases"].sum(commerce.order.priceTotal) >= 50',
    "xEvent.avg(commerce.order.priceTotal) > 20", "xEvent.max(timestamp) occurs <= 7 days before now",
    "xEvent[timestamp occurs <= 24 hours before now].exists()",
    'xEvent.any(eventType = "commerce.productViews" and commerce.order.priceTotal.isNull())',
    'xEvent[eventType != "commerce.purchases"].all(timestamp occurs >= 1 days before now)',
    "xEvent.min(commerce.order.priceTotal) = 0", 'xEvent[eventType = "none"].sum(commerce.order.priceTotal) = 0',
    'not (xEvent[eventType = "none"].all(eventType = "x"))',
    'CHAIN(xEvent, timestamp, [C0: WHAT(eventType = "commerce.productViews") WHEN(<= 20 days before now), '
    'C1: WHAT(eventType = "commerce.purchases") WHEN(<= 10 days after C0)])',
    'CHAIN(xEvent, timestamp, [A: WHAT(eventType = "commerce.productViews"), B: WHAT(eventType != "x")])',
    'inSegment("adults")', 'not inSegment("adults")', 'not inSegment("adult buyers")',
    'not inSegment("adult buyers") and not inSegment("parisians")',
]  # fmt: skip
SEGMENTS = {
    "adults": "_tenant.age >= 18",
    "parisians": 'homeAddress.city = "Paris"',
    "adult buyers": 'inSegment("adults") and xEvent[eventType = "commerce.purchases"].exists()',
}
"""Audiences that `inSegment` names; their conditions are unknown for some profiles (no age, no city)."""


def resolve(text: str) -> Node:
    """The definition with the audiences it names inlined, as jobs and streaming evaluate it."""
    return inline(parse_pql(text), lambda name: (name, parse_pql(SEGMENTS[name])), ("definition",))


def definitions() -> st.SearchStrategy[str]:
    return st.recursive(
        st.sampled_from(ATOMS),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
            inner.map(lambda x: f"not ({x})"),
        ),
        max_leaves=4,
    )


def batch(texts: list[str], people: list[dict[str, Any]]) -> list[list[bool]]:
    rows = [{"graph": n, **{k: v for k, v in p.items() if k != "events"}} for n, p in enumerate(people)]
    happened = [{"graph": n, **e} for n, p in enumerate(people) for e in p["events"]]
    con = ibis.duckdb.connect()
    try:
        profile_table = ibis.memtable(pa.Table.from_pylist(rows, schema=PROFILE_SCHEMA))
        event_table = ibis.memtable(pa.Table.from_pylist(happened, schema=EVENT_SCHEMA))
        nodes = {f"d{i}": resolve(t) for i, t in enumerate(texts)}
        result = con.to_pyarrow(compile_job(nodes, profile_table, event_table, NOW, {}, {}).order_by("graph"))
    finally:
        con.disconnect()
    return [[bool(row[f"d{i}"]) for i in range(len(texts))] for row in result.to_pylist()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(definitions(), min_size=1, max_size=4), people=st.lists(profiles, min_size=1, max_size=8))
def test_batch_streaming_and_reference_agree(texts: list[str], people: list[dict[str, Any]]) -> None:
    trees = [parse_pql(t) for t in texts]
    for text, tree in zip(texts, trees, strict=True):
        check(tree, text, PROFILE_FIELDS, EVENT_FIELDS)
    reference = Reference(NOW, {name: parse_pql(text) for name, text in SEGMENTS.items()})
    expected = [[reference.qualifies(tree, {k: v for k, v in p.items() if k != "events"}, p["events"])
                 for tree in trees] for p in people]  # fmt: skip
    streaming = [compile_python(resolve(text)) for text in texts]
    streamed = [[f({"attributes": {k: v for k, v in p.items() if k != "events"}, "events": p["events"]}, NOW)
                 for f in streaming] for p in people]  # fmt: skip
    assert streamed == expected
    assert batch(texts, people) == expected


def test_every_atom_is_both_true_and_false_somewhere() -> None:
    """The generated cases exercise each form: each atom holds for some profile and not for another."""
    people: list[dict[str, Any]] = [
        {"person": {"name": {"firstName": "Ann"}, "birthDate": date(1985, 3, 1)}, "homeAddress": {"city": "Paris"},
         "_tenant": {"age": 41}, "consents": {"marketing": {"email": {"val": "y"}}},
         "events": [{"eventType": "commerce.productViews", "timestamp": NOW - timedelta(days=3),
                     "commerce": {"order": {"priceTotal": None}}},
                    {"eventType": "commerce.purchases", "timestamp": NOW - timedelta(days=2, hours=23),
                     "commerce": {"order": {"priceTotal": 50.0}}},
                    {"eventType": "commerce.purchases", "timestamp": NOW - timedelta(hours=2),
                     "commerce": {"order": {"priceTotal": 0.0}}},
                    {"eventType": "web.webpagedetails.pageViews", "timestamp": NOW - timedelta(hours=1),
                     "commerce": {"order": {"priceTotal": None}}}]},
        {"person": {"name": {"firstName": "Zoë"}, "birthDate": date(2026, 2, 1)}, "homeAddress": {"city": "Lima"},
         "_tenant": {"age": 12}, "consents": {"marketing": {"email": {"val": "n"}}}, "events": []},
        {"person": {"name": {"firstName": None}, "birthDate": None}, "homeAddress": {"city": None},
         "_tenant": {"age": None}, "consents": {"marketing": {"email": {"val": None}}}, "events": []},
    ]  # fmt: skip
    results = batch(ATOMS, people)
    reference = Reference(NOW, {name: parse_pql(text) for name, text in SEGMENTS.items()})
    for index, text in enumerate(ATOMS):
        column = [row[index] for row in results]
        expected = [reference.qualifies(parse_pql(text), {k: v for k, v in p.items() if k != "events"}, p["events"])
                    for p in people]  # fmt: skip
        assert column == expected, text
    constant = {"_tenant.age / 0 > 1": False, 'xEvent[eventType = "none"].sum(commerce.order.priceTotal) = 0': True,
                'not (xEvent[eventType = "none"].all(eventType = "x"))': False}  # fmt: skip
    for index, text in enumerate(ATOMS):
        column = [row[index] for row in results]
        assert column == [constant[text]] * 3 if text in constant else set(column) == {False, True}, text


@given(value=st.text("ab_%", max_size=8), pattern=st.text("ab_%", max_size=6))
def test_like_without_backtracking_matches_the_sql_meaning(value: str, pattern: str) -> None:
    import re

    from accord.segment.text_patterns import like

    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    assert like(value, pattern) == (re.fullmatch(regex, value, re.DOTALL) is not None)


class CountedText(str):
    """A string that counts how many of its characters are looked at, and stops a matcher that
    looks at more than `budget` of them (a backtracking one would take years: it fails at once)."""

    looked = 0
    budget = 0

    def __getitem__(self, index: Any) -> str:
        CountedText.looked += 1
        assert CountedText.looked <= CountedText.budget, "more than value x pattern characters looked at"
        return str.__getitem__(self, index)


@pytest.mark.parametrize(("value", "pattern", "expected"), [
    ("a" * 20_000, "%a" * 50 + "%b%", False),  # every `a` matches, the `b` never: a backtracking matcher's worst case
    ("a" * 20_000 + "b", "%a" * 50 + "%b", True),
    ("ab" * 5_000, "%a_" * 40 + "%c%", False),
])  # fmt: skip
def test_a_hostile_like_pattern_costs_at_most_value_times_pattern(value: str, pattern: str, expected: bool) -> None:
    from accord.segment.text_patterns import like

    CountedText.looked, CountedText.budget = 0, len(value) * len(pattern.replace("%", ""))
    assert like(CountedText(value), pattern) is expected
    assert CountedText.looked > 0  # the count is of this matcher's work


HOSTILE_PATTERNS = [("(a|a)*$", True), ("(a+)+$", False), ("(a*)*b", False), ("(x+x+)+y", False), ("(a|aa)+$", False)]
"""Patterns a backtracking matcher (Python's `re`) takes exponential time over on `a` x 34 then `!`."""


@pytest.mark.parametrize(("pattern", "found"), HOSTILE_PATTERNS)
def test_a_hostile_regular_expression_takes_linear_time_in_every_engine(pattern: str, found: bool) -> None:
    text = f'person.name.firstName.matches("{pattern}") or person.name.firstName.regexGroup("{pattern}", 0) = "x"'
    tree = parse_pql(text)
    check(tree, text, PROFILE_FIELDS, EVENT_FIELDS)  # accepted: RE2 runs it in linear time
    person = {"person": {"name": {"firstName": "a" * 34 + "!"}, "birthDate": None}, "homeAddress": {"city": None},
              "_tenant": {"age": None}, "consents": {"marketing": {"email": {"val": None}}}, "events": []}  # fmt: skip
    attributes = {k: v for k, v in person.items() if k != "events"}
    started = time.monotonic()
    expected = Reference(NOW, {}).qualifies(tree, attributes, [])
    streamed = compile_python(tree)({"attributes": attributes, "events": []}, NOW)
    batched = batch([text], [person])[0][0]
    assert streamed == batched == expected == found
    assert time.monotonic() - started < 5, "a backtracking matcher ran"
