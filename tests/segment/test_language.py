"""The PQL parser and checker: every form parses, and bad input is refused with where and why."""

from __future__ import annotations

import pytest

from accord.segment import PQLError, check, parse_pql
from accord.segment.ast import Chain, Events, InList, Method, Occurs

PROFILE = {"person.name.firstName": "string", "homeAddress.city": "string", "person.birthDate": "date",
           "_tenant.age": "integer", "consents.marketing.email.val": "string"}  # fmt: skip
EVENT = {"eventType": "string", "timestamp": "date-time", "commerce.order.priceTotal": "number"}


def refused(text: str) -> list[dict[str, object]]:
    with pytest.raises(PQLError) as caught:
        check(parse_pql(text), text, PROFILE, EVENT)
    return caught.value.problems


def test_forms_parse_into_their_nodes() -> None:
    assert isinstance(parse_pql('homeAddress.city in ["Paris", "Oslo"]'), InList)
    assert isinstance(parse_pql("person.birthDate occurs <= 7 days before today"), Occurs)
    chain = parse_pql('CHAIN(xEvent, timestamp, [C0: WHAT(eventType = "a") WHEN(<= 24 hours before now), '
                      'C1: WHAT(eventType = "b") WHEN(<= 2 hours after C0)])')  # fmt: skip
    assert isinstance(chain, Chain) and [s.name for s in chain.steps] == ["C0", "C1"]
    assert chain.steps[1].when is not None and chain.steps[1].when.seconds == 7200
    counted = parse_pql('xEvent[eventType = "x"].count()')
    assert isinstance(counted, Method) and isinstance(counted.target, Events) and counted.name == "count"


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ('homeAddress.cty = "Paris"', "did you mean homeAddress.city", 1, 1),
        ('person.name.firstName.startWith("A")', "did you mean startsWith", 1, 1),
        ('homeAddress.city = "Paris" and\n  xEvent[eventTyp = "x"].count() > 1', "did you mean eventType", 2, 10),
        ("xEvent.cont() > 1", "did you mean count", 1, 1),
        ('_tenant.age > "ten"', "cannot compare number with string", 1, 1),
        ("homeAddress.city.startsWith(3)", "compares with a string", 1, 29),
        ('homeAddress.city.matches("[")', "invalid regular expression", 1, 26),
        ('homeAddress.city.matches("(a+)+$")', "exponential time", 1, 26),
        ('homeAddress.city.matches("(?=a)b")', "lookarounds or back-references", 1, 26),
        ("homeAddress.city", "a condition is needed here", 1, 1),
        ("homeAddress.city in [null]", "cannot hold null", 1, 21),
        ("person.birthDate occurs = 3 days before now", "takes <=, <, >= or >", 1, 1),
        ("date(2024, 2, 30) < person.birthDate", "day is out of range", 1, 1),
        ("xEvent.sum(eventType) > 1", "sum needs numbers", 1, 12),
        ("xEvent[xEvent.count() > 1].count() > 1", "inside an event condition", 1, 8),
        (
            'CHAIN(xEvent, timestamp, [A: WHAT(eventType = "a"), B: WHAT(eventType = "b") WHEN(<= 1 hours after Z)])',
            "earlier step",
            1,
            53,
        ),
        ("nonsense(1)", "unknown function 'nonsense'", 1, 1),
    ],
)
def test_problems_say_what_and_where(text: str, message: str, line: int, column: int) -> None:
    problems = refused(text)
    found = next((p for p in problems if message in str(p["message"])), None)
    assert found is not None, problems
    assert (found["line"], found["column"]) == (line, column)
    assert str(found["caret"]).splitlines()[-1] == " " * (column - 1) + "^"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ('homeAddress.city = "Paris', "unexpected character"),
        ("homeAddress.city = ", "ends too early"),
        ("(homeAddress.city = 1", "ends too early"),
        ("homeAddress.city = = 1", "unexpected"),
        (" and ".join(["true"] * 300), "nests 300 levels deep"),
        ("x" * 30_000, "longer than 20,000"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(PQLError, match=message):
        parse_pql(text)


def test_every_problem_is_reported_at_once() -> None:
    assert len(refused('homeAddress.cty = "a" and person.name.frstName = "b" and xEvent.cnt() > 1')) == 3


def test_streaming_eligibility_says_why() -> None:
    def eligible(text: str) -> tuple[bool, str]:
        found = check(parse_pql(text), text, PROFILE, EVENT)
        return found.streaming, found.streaming_reason

    assert eligible('homeAddress.city = "Paris"')[0]
    assert eligible('xEvent[eventType = "a" and timestamp occurs <= 24 hours before now].count() > 1')[0]
    assert "not bounded" in eligible('xEvent[eventType = "a" and timestamp occurs <= 2 days before now].exists()')[1]
    assert "not bounded" in eligible('xEvent[eventType = "a" or timestamp occurs <= 1 hours before now].exists()')[1]
    assert "first step" in eligible('CHAIN(xEvent, timestamp, [A: WHAT(eventType = "a")])')[1]
    assert "another segment" in eligible('inSegment("x")')[1]
