"""The PQL parser and checker: every form parses, and bad input is refused with where and why."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.segment import PQLError, check, parse_pql
from accord.segment.ast import Chain, Events, InList, Method, Occurs
from accord.segment.parser import _parser
from accord.segment.syntax_errors import WORDS

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
        # what RE2 (the engine's matcher, and so every engine's) refuses, with its reason
        ('homeAddress.city.matches("a{1001}")', "invalid repetition size", 1, 26),
        ('homeAddress.city.matches("n\\\\Z")', "invalid escape sequence", 1, 26),
        ('homeAddress.city.matches("(?>A)nn")', "invalid perl operator", 1, 26),
        ('homeAddress.city.notMatches("An*+")', "bad repetition operator", 1, 29),
        ('homeAddress.city.regexGroup("(a)\\\\1", 1) = "a"', "back-references", 1, 29),
        ("homeAddress.city.matches(person.name.firstName)", "as a string written out", 1, 26),
        (f'homeAddress.city.matches("{"a" * 501}")', "at most 500 characters", 1, 26),
        ('homeAddress.city.matches("(?=a)b")', "lookarounds or back-references", 1, 26),
        ("homeAddress.city", "a condition is needed here", 1, 1),
        ("homeAddress.city in [null]", "cannot hold null", 1, 21),
        (
            'CHAIN(xEvent, timestamp, [A: WHAT(eventType = "a") WHEN(= 3 days before now)])',
            "WHEN(= 3 days before now) (a calendar form) is not a sequence step's window",
            1,
            57,
        ),
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
    ("text", "message", "line", "column"),
    [
        # a function's name in another case is suggested as it is spelt
        ('homeAddress.city.STARTSWITH("P")', "unknown function 'STARTSWITH'; did you mean startsWith?", 1, 1),
        ("CURRENTYEAR() = 2026", "unknown function 'CURRENTYEAR'; did you mean currentYear?", 1, 1),
        ("xEvent.COUNT() > 1", "unknown event function 'COUNT'; did you mean count?", 1, 1),
        # an object is named as one, with fields to read
        ("person.name = 1", "'person.name' is an object, not a value: read one of its fields "
                            "(person.name.firstName)", 1, 1),
        ("xEvent.max(commerce.order) > 1", "'commerce.order' is an object, not a value", 1, 12),
        # a list aggregated as a function is the method: what it says of a value that is no list
        ("count(homeAddress.city) > 0", "count needs a list, not string", 1, 7),
        # let: a value that is a condition goes in parentheses; = only
        ("let S = _tenant.age = 1 in S", "unexpected '='", 1, 21),
        ("let S < 1 in S = 1", "`let` gives a name a value with =, not <", 1, 7),
    ],
)  # fmt: skip
def test_names_and_objects_are_told_as_written(text: str, message: str, line: int, column: int) -> None:
    with pytest.raises(PQLError) as caught:
        check(parse_pql(text), text, PROFILE, EVENT)
    [found] = caught.value.problems
    assert message in str(found["message"]), found
    assert (found["line"], found["column"]) == (line, column)


PATTERNS = [r"[[:alpha:]]+", r"(?i)^ann", r"\pL\d", r"(?P<x>a)", r"(?<x>a)", r"(?U)a+", r"(?s)a.b", r"\x{41}",
            r"\Qa.b\E", r"a{1000}", r"a{1001}", r"(?m)^b", r"\bAnn\b", r"[^\x00-\x7F]", r"a{2,1}", r"n\Z",
            r"(?>A)nn", r"An*+", r"(?=a)b", r"(a)\1", r"(a|a)*$", r"\w{3}", r"\C", r"[\d-z]"]  # fmt: skip
"""Patterns of many sorts, among them what the backtracking and the RE2 dialects do not share."""


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_regular_expression_the_checker_takes_runs_in_the_batch_engine(pattern: str) -> None:
    """The checker takes exactly what the batch engine's RE2 runs: no job fails on a pattern it accepted."""
    import duckdb

    text = f"homeAddress.city.matches({json.dumps(pattern)})"
    try:
        check(parse_pql(text), text, PROFILE, EVENT)
    except PQLError as refused_pattern:
        [found] = refused_pattern.problems
        assert (found["line"], found["column"]) == (1, 26)
        with pytest.raises(duckdb.Error):
            duckdb.execute("select regexp_matches('Ann', ?)", [pattern]).fetchall()
        return
    for value in ("Ann", "Zoë", "a.b\nb", "A1"):
        duckdb.execute("select regexp_matches(?, ?)", [value, pattern]).fetchall()


@pytest.mark.parametrize("text", [
    "person.name.frstName occurs = 3 hours before now",
    "person.name.frstName occurs != 3 days before today",
    'xEvent[timestmp occurs = 2 hours before now and eventType = "a"].count() > 0',
])  # fmt: skip
def test_a_calendar_form_tells_of_its_field_once(text: str) -> None:
    """`x occurs = N units before X` reads x at both ends of the slot: a problem with x is still one problem."""
    assert len(refused(text)) == 1, refused(text)


@pytest.mark.parametrize(("text", "alternatives"), [
    (" or ".join(['homeAddress.city = "a"'] * 250), True),
    (" and ".join(["_tenant.age > 1"] * 250), True),
    ("not " * 250 + "(_tenant.age = 1)", False),
    ("_tenant.age" + " + 1" * 250 + " = 3", False),
    ("if(true, " * 120 + "1" + ", 2)" * 120 + " = 1", False),
])  # fmt: skip
def test_too_deep_suggests_a_list_only_for_chains_of_or_and_and(text: str, alternatives: bool) -> None:
    with pytest.raises(PQLError, match="levels deep; at most 200") as caught:
        parse_pql(text)
    assert ("use `in [...]`" in str(caught.value.problems[0]["message"])) is alternatives


def test_the_caret_keeps_the_tabs_before_the_spot() -> None:
    text = "\t_tenant.age > 1 and\t\thomeAddress.cty = 1"
    [found] = refused(text)
    source, caret = str(found["caret"]).splitlines()
    assert caret == "\t" + " " * len("_tenant.age > 1 and") + "\t\t^"
    assert source[len(caret) - 1 :].startswith("homeAddress.cty")
    assert found["column"] == len(caret)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("homeAddress.city = ", "ends too early; expected a value"),
        ("homeAddress.city = = 1", "unexpected '='; expected a value"),
        ('homeAddress.city = "a" homeAddress.city = "b"', "unexpected 'homeAddress.city'; expected an operator"),
        ("person.birthDate occurs <= 3 dayz before now", "unexpected 'dayz'; expected a unit of time"),
        ("person.birthDate.occurs(this decade)", "expected 'day', 'week', 'month' or 'year'"),
        (" and ".join(["true"] * 300), "nests 300 levels deep"),
        ("x" * 30_000, "longer than 20,000"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(PQLError, match=re.escape(message)):
        parse_pql(text)


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ('homeAddress.city = "Paris', 'the string opened at line 1, column 20 is never closed (a " is missing)', 1, 20),
        ("(homeAddress.city = 1", "the parenthesis '(' opened at line 1, column 1 is never closed", 1, 1),
        ('xEvent[eventType = "a".count() > 0', "the bracket '[' opened at line 1, column 7 is never closed", 1, 7),
        ('homeAddress.city in ["a", "b" and xEvent.count() > 0', "'[' opened at line 1, column 21 is never closed",
         1, 21),
        ('_tenant.age = 1\n  and (homeAddress.city = "a"\n  or _tenant.age = 2',
         "the parenthesis '(' opened at line 2, column 7 is never closed", 2, 7),
        ('homeAddress.city in ["a", "b")', "this ')' does not match the '[' opened at line 1, column 21", 1, 30),
        ('homeAddress.city = "a")', "this ')' closes no parenthesis", 1, 23),
        ('homeAddress.city = "a\\"', "the string opened at line 1, column 20 is never closed", 1, 20),
    ],
)  # fmt: skip
def test_an_unclosed_bracket_or_quote_is_named_where_it_opened(text: str, message: str, line: int,
                                                               column: int) -> None:  # fmt: skip
    with pytest.raises(PQLError) as caught:
        parse_pql(text)
    [found] = caught.value.problems
    assert message in str(found["message"]), found
    assert (found["line"], found["column"]) == (line, column)
    assert str(found["caret"]).splitlines()[-1] == " " * (column - 1) + "^"


GRAMMAR_NAMES = {terminal.name for terminal in _parser().terminals} | {"$END"}
PQL_KEYWORDS = {"CHAIN", "WHAT", "WHEN"}
"""Terminal names that are also words of PQL, as a user writes them."""
VALID = [
    'homeAddress.city in ["Paris", "Oslo"] and not (_tenant.age * 2 - 10 < 70)',
    'person.name.firstName.equals("ann", false) or person.birthDate.occurs(this year)',
    "person.birthDate occurs <= 400 days before today",
    'xEvent[eventType = "commerce.purchases" and timestamp occurs <= 30 days before now].count() > 1',
    "xEvent.sum(commerce.order.priceTotal) >= date(2024, 1, 31) - 1",
    'CHAIN(xEvent, timestamp, [C0: WHAT(eventType = "a") WHEN(<= 20 days before now), '
    'C1: WHAT(eventType = "b") WHEN(<= 10 days after C0)])',
    'inSegment("vip") and homeAddress.city notIn ["Paris"]',
]


def malformed() -> list[str]:
    """Every prefix of some valid expressions, and each with one character left out, that does not parse."""
    found = []
    for text in VALID:
        for variant in [text[:end] for end in range(1, len(text))] + [text[:i] + text[i + 1:]
                                                                       for i in range(len(text))]:  # fmt: skip
            try:
                parse_pql(variant)
            except PQLError:
                found.append(variant)
    return found


def test_syntax_errors_never_name_the_grammars_tokens() -> None:
    texts = malformed()
    assert len(texts) > 500
    for text in texts:
        with pytest.raises(PQLError) as caught:
            parse_pql(text)
        [found] = caught.value.problems
        named = set(re.findall(r"\$END|\b[A-Z_]{2,}\b", str(found["message"]))) & GRAMMAR_NAMES
        assert not named - PQL_KEYWORDS, (text, found["message"])
        assert "expected one of" not in str(found["message"])
        lines = text.splitlines() or [""]
        assert 1 <= int(found["line"]) <= len(lines), (text, found)  # type: ignore[call-overload]
        assert 1 <= int(found["column"]) <= len(lines[int(found["line"]) - 1]) + 1, (text, found)  # type: ignore[call-overload]


def test_every_token_of_the_grammar_has_words() -> None:
    assert GRAMMAR_NAMES - {"WS"} == set(WORDS)


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
    assert "depends on the time" in eligible("person.birthDate occurs <= 3 days before now")[1]


FRAGMENTS = [
    *PROFILE, *EVENT, "xEvent", "_tenant.orders", "$1.homeAddress.city", "$2.x", "(P) =>", "P.homeAddress.city",
    "0", "1", "1.5", "3", "9999", "99999999999999999999", "9" * 400, "9" * 400 + ".5", '"a"', "'b'", '"(a+)+"',
    "true", "false", "null", "=", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "!", "^", "^^.",
    "and", "or", "not", "in", "notIn", "like", "(", ")", "[", "]", ",", ".", ":", "occurs", "on", "between",
    "before", "after", "from", "now", "today", "yesterday", "tomorrow", "this", "last", "next", "days", "day",
    "hours", "months", "years", "millennia", "century", "date(", "date(9999, 12, 31)", "date(1, 1, 1)",
    "date(2024, 2, 30)", "CHAIN(xEvent, timestamp, [", "A:", "WHAT(", "WHEN(", "COUNT(", "WHERE(", "exists",
    "forall", "select", "where", "let", "sum", "avg", "count", "over", "E", "E.eventType", ", I from E.x where",
    ".count()", ".sum(", ".exists(", ".map(", ".get(", ".head()", ".occurs(", "this month)", "inSegment(",
    "currentMonth()", "if(", "bucket()", "date(2026, " + "9" * 400 + ", 1)",
]  # fmt: skip


TOKEN = re.compile(r'"[^"]*"|[A-Za-z_$][A-Za-z0-9_.]*|\d+(?:\.\d+)?|\S')
SEEDS = [*VALID, "person.birthDate occurs on date(2024, 2, 3)", "person.birthDate occurs = 3 days before today",
         "person.birthDate occurs between date(2020, 1, 1) and next month", 'exists E from xEvent where (E.eventType '
         '= "a"), I from E.productListItems where I.SKU = "x"', "let S = (_tenant.age) in (S > 1)"]  # fmt: skip
texts = st.one_of(
    st.tuples(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12), st.sampled_from([" ", ""])).map(
        lambda t: t[1].join(t[0])),
    st.tuples(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 60), st.sampled_from(FRAGMENTS)),
                                               min_size=1, max_size=3)).map(
        lambda t: " ".join(_replaced(TOKEN.findall(t[0]), t[1]))),
)  # fmt: skip
"""Token soup, and valid definitions with a few of their tokens replaced by others."""


def _replaced(tokens: list[str], changes: list[tuple[int, str]]) -> list[str]:
    for where, fragment in changes:
        tokens[where % len(tokens)] = fragment
    return tokens


@settings(max_examples=400, deadline=None)
@given(texts)
def test_any_text_gives_a_tree_or_a_pql_error(text: str) -> None:
    """Whatever is written, parsing and checking either succeed or say what is wrong where: no other error."""
    try:
        check(parse_pql(text), text, PROFILE, EVENT)
    except PQLError as caught:
        assert all(p["line"] >= 1 and p["column"] >= 1 for p in caught.problems), caught.problems


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["=", "!=", "<=", ">"]), st.sampled_from(["0", "1", "999", "1000", "12001", "9" * 25, "2.5"]),
       st.sampled_from(["milliseconds", "days", "weeks", "months", "years", "decades", "centuries", "millennia"]),
       st.sampled_from(["before", "after"]), st.sampled_from(["now", "today", "yesterday", "tomorrow"]))  # fmt: skip
def test_a_checked_time_form_evaluates_at_the_clocks_ends(op: str, amount: str, unit: str, direction: str,
                                                          anchor: str) -> None:  # fmt: skip
    """A time form that checks can be evaluated, whatever its reach, for a value at either end of the calendar."""
    from datetime import UTC, date, datetime

    from accord.segment.evaluator import compile_python

    text = f"person.birthDate occurs {op} {amount} {unit} {direction} {anchor}"
    try:
        tree = parse_pql(text)
        check(tree, text, PROFILE, EVENT)
    except PQLError:
        return
    for born in (date(1, 1, 1), date(9999, 12, 31), date(2026, 1, 1)):
        compile_python(tree)({"attributes": {"person": {"birthDate": born}}}, datetime(2026, 6, 1, tzinfo=UTC))
