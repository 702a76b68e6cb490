"""A small JSON filter over recipient columns, compiled to SQLAlchemy expressions (never SQL text).

    {"field": "email", "op": "endsWith", "value": "@example.com"}
    {"and": [<filter>, ...]}   {"or": [<filter>, ...]}   {"not": <filter>}

Fields are the `recipient` target mapping's columns (externalId, email, firstName, lastName, phone) and
`custom.<name>`. Operators: eq, ne, in, contains, startsWith, endsWith, isNull, notNull. The three text
operators ignore case on every database (SQLite's LIKE ignores ASCII case and PostgreSQL's does not: both
compare lower-cased text, so the same filter selects the same recipients on both); eq, ne and in are exact.
A filter is checked whole: every problem is reported at once, with its path (`$.and[1].op`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, true

from accord.campaign.exceptions import CampaignInputError
from accord.campaign.models import RecipientRecord

COLUMNS: dict[str, Any] = {
    "externalId": RecipientRecord.external_id,
    "email": RecipientRecord.email,
    "firstName": RecipientRecord.first_name,
    "lastName": RecipientRecord.last_name,
    "phone": RecipientRecord.phone,
}
OPERATORS = ("eq", "ne", "in", "contains", "startsWith", "endsWith", "isNull", "notNull")
_NO_VALUE = ("isNull", "notNull")
MAX_DEPTH = 32


def compile_filter(document: Any) -> ColumnElement[bool]:
    """The filter as a SQLAlchemy condition on RecipientRecord; CampaignInputError listing every problem."""
    problems: list[str] = []
    condition = _compile(document, "$", problems, 0)
    if problems:
        raise CampaignInputError(f"the query has {len(problems)} problem(s): {'; '.join(problems)}",
                                 field="query", problems=problems)  # fmt: skip
    return condition


def _compile(node: Any, path: str, problems: list[str], depth: int) -> ColumnElement[bool]:
    if depth > MAX_DEPTH:
        problems.append(f"{path}: nested deeper than {MAX_DEPTH}")
        return true()
    if not isinstance(node, dict):
        problems.append(f"{path}: a filter is an object")
        return true()
    for combinator, combine in (("and", and_), ("or", or_)):
        if combinator in node:
            parts = node[combinator]
            if set(node) != {combinator} or not isinstance(parts, list) or not parts:
                problems.append(f"{path}: `{combinator}` takes a non-empty list of filters and nothing beside it")
                return true()
            compiled = [_compile(p, f"{path}.{combinator}[{i}]", problems, depth + 1) for i, p in enumerate(parts)]
            return combine(*compiled)
    if "not" in node:
        if set(node) != {"not"}:
            problems.append(f"{path}: `not` takes one filter and nothing beside it")
            return true()
        return not_(_compile(node["not"], f"{path}.not", problems, depth + 1))
    return _condition(node, path, problems)


def _condition(node: dict[str, Any], path: str, problems: list[str]) -> ColumnElement[bool]:
    unknown = set(node) - {"field", "op", "value"}
    if unknown:
        problems.append(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; a condition has field, op, value")
    column = _column(node.get("field"), path, problems)
    op, value = node.get("op"), node.get("value")
    if op not in OPERATORS:
        problems.append(f"{path}.op: unknown operator {op!r}; operators: {', '.join(OPERATORS)}")
        return true()
    if op in _NO_VALUE:
        if "value" in node:
            problems.append(f"{path}.value: `{op}` takes no value")
    elif op == "in":
        if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
            problems.append(f"{path}.value: `in` takes a list of strings or numbers")
    elif not isinstance(value, str | int | float) or isinstance(value, bool):
        problems.append(f"{path}.value: `{op}` takes a string or a number")
    if column is None or problems:
        return true()
    return _apply(column, op, value)


def _column(name: Any, path: str, problems: list[str]) -> Any:
    if isinstance(name, str) and name in COLUMNS:
        return COLUMNS[name]
    if isinstance(name, str) and name.startswith("custom.") and len(name) > 7:
        return RecipientRecord.custom[name[7:]].as_string()
    problems.append(f"{path}.field: unknown field {name!r}; fields: {', '.join(COLUMNS)}, custom.<name>")
    return None


def _apply(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "isNull":
        return column.is_(None)  # type: ignore[no-any-return]
    if op == "notNull":
        return column.is_not(None)  # type: ignore[no-any-return]
    if op == "in":
        return column.in_([str(v) for v in value]) if value else false()  # type: ignore[no-any-return]
    text = str(value)
    if op == "eq":
        return column == text  # type: ignore[no-any-return]
    if op == "ne":
        return or_(column != text, column.is_(None))  # a recipient without the field is not equal to it
    lowered = func.lower(column)
    match op:
        case "contains":
            return lowered.contains(text.lower(), autoescape=True)  # type: ignore[no-any-return]
        case "startsWith":
            return lowered.startswith(text.lower(), autoescape=True)  # type: ignore[no-any-return]
        case _:
            return lowered.endswith(text.lower(), autoescape=True)  # type: ignore[no-any-return]
