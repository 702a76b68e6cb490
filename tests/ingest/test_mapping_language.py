"""The mapping language refuses bad mappings before any row is read, with positions."""

from __future__ import annotations

import re
from pathlib import Path

import ibis
import pyarrow as pa
import pytest

from accord.ingest import FUNCTIONS, InvalidMappingError, load_mapping, parse_mapping
from accord.ingest.mapping.compiler import compile_expression, compile_mapping
from accord.ingest.mapping.parser import ExpressionSyntaxError, parse_expression
from accord.schema import SchemaDocument
from accord.schema.model import compose, standard_field_groups

SOURCE = ibis.memtable(pa.table({"email": ["a@b.c"], "first": ["Ann"], "points": ["3"]}))


def crm_schema():  # type: ignore[no-untyped-def]
    document = SchemaDocument.model_validate(
        {"name": "crm", "class": "profile", "fieldGroups": ["demographic-details", "personal-contact-details"]}
    )
    resolved, problems = compose(document, standard_field_groups())
    assert resolved is not None, problems
    return resolved


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("lower(", 1, 7, "ends too early"),
        ("lower(email))", 1, 13, "unexpected ')'"),
        ("concat(a,\n  b c)", 2, 5, "unexpected 'c'"),
        ('"unclosed', 1, 1, "unexpected character"),
        ("a ++ b", 1, 4, "unexpected '+'"),
    ],
)
def test_syntax_errors_point_at_the_spot(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression(text)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert message in str(caught.value)
    assert caught.value.caret.splitlines()[-1] == " " * (column - 1) + "^"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("lower(emial)", "unknown column 'emial'; did you mean email?"),
        ("lowr(email)", "unknown function 'lowr'; did you mean lower"),
        ("substr(email)", "substr() takes 2 to 3 arguments, got 1"),
        ('substr(email, "a", 2)', "substr() argument 2 must be integer, not string"),
        ("iif(email, 1, 2)", "iif() argument 1 must be boolean, not string"),
        ("email + 1", "+ needs numbers"),
        ('matches_regex(email, "(")', "invalid regular expression"),
        ('zone_date_to_utc(date(email), "Mars/Olympus")', "unknown time zone"),
        ("date(email, first)", "must be a literal"),
        ("to_integer(points) == true", "cannot compare integer with boolean"),
    ],
)
def test_ill_typed_or_unknown_names_are_refused(expression: str, message: str) -> None:
    with pytest.raises(InvalidMappingError) as caught:
        compile_expression(expression, SOURCE)
    assert message in caught.value.message


def test_all_problems_of_a_mapping_set_come_at_once() -> None:
    mapping = parse_mapping(
        {
            "mappings": [
                {"source": "emial", "destination": "personalEmail.address"},
                {"expression": "upper(first", "destination": "person.name.firstName"},
                {"source": "first", "destination": "person.name.fristName"},
                {"expression": "to_integer(points) > 2", "destination": "person.birthDate"},
                {"source": "first", "destination": "person.name.lastName"},
                {"source": "email", "destination": "person.name.lastName"},
            ]
        }
    )
    with pytest.raises(InvalidMappingError) as caught:
        compile_mapping(mapping, SOURCE, crm_schema())
    paths = [p["path"] for p in caught.value.problems]
    assert paths == [
        "mappings[0].source",
        "mappings[1].expression",
        "mappings[2].destination",
        "mappings[3]",
        "mappings[5].destination",
    ]
    assert "did you mean person.name.firstName" in caught.value.problems[2]["message"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"mappings": []}, "at least 1 item"),
        ({"mappings": [{"destination": "a"}]}, "exactly one of `source`"),
        ({"mappings": [{"destination": "a", "source": "b", "expression": "c"}]}, "exactly one of"),
        ({"mappings": [{"destination": "a", "source": "b", "extra": 1}]}, "Extra inputs"),
        ({"mappings": "nope"}, "valid list"),
        ("just text", "valid dictionary"),
    ],
)
def test_malformed_mapping_documents(document: object, message: str) -> None:
    with pytest.raises(InvalidMappingError, match=message):
        parse_mapping(document)


def test_mapping_files_report_syntax_positions(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "m.yaml"
    bad_yaml.write_text("mappings:\n  - source: a\n   destination: b\n")
    with pytest.raises(InvalidMappingError) as caught:
        load_mapping(bad_yaml)
    assert caught.value.problems[0]["line"] == 3
    bad_json = tmp_path / "m.json"
    bad_json.write_text('{"mappings": [}')
    with pytest.raises(InvalidMappingError, match="not valid JSON"):
        load_mapping(bad_json)
    with pytest.raises(InvalidMappingError, match="cannot read"):
        load_mapping(tmp_path / "missing.yaml")
    adobe_style = tmp_path / "adobe.json"
    adobe_style.write_text('[{"sourceType": "EXPRESSION", "source": "lower(email)", "destination": "x"}]')
    assert load_mapping(adobe_style).mappings[0].expression == "lower(email)"


def test_sql_injection_in_literals_stays_a_literal() -> None:
    compiled = compile_expression('concat(email, "\'); DROP TABLE x; --")', SOURCE)
    con = ibis.duckdb.connect()
    value = con.to_pyarrow(SOURCE.select(v=compiled.value))["v"][0].as_py()
    assert value == "a@b.c'); DROP TABLE x; --"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_arity_message_is_grammatical(name: str) -> None:
    """A wrong number of arguments is told in a sentence: 'takes 1 argument', 'takes 2 to 3 arguments'."""
    function = FUNCTIONS[name]
    least = len(function.params) - function.optional
    count = least - 1 if least > 0 else len(function.params) + 1
    with pytest.raises(InvalidMappingError) as caught:
        compile_expression(f"{name}({', '.join(['email'] * count)})", SOURCE)
    message = caught.value.problems[0]["message"]
    match = re.fullmatch(rf"{name}\(\) takes ([0-9]+(?: to [0-9]+)?(?: or more)?) (arguments?), got {count}", message)
    assert match is not None, message
    assert match[2] == ("argument" if match[1] == "1" else "arguments"), message


def test_a_one_argument_function_says_argument() -> None:
    with pytest.raises(InvalidMappingError) as caught:
        compile_expression("lower(email, email)", SOURCE)
    assert caught.value.problems[0]["message"] == "lower() takes 1 argument, got 2"
