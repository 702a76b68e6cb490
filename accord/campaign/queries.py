"""The recipient filter: a small JSON tree compiled to SQLAlchemy expressions (never SQL text), shared by a
delivery's `query` target and the workflows' query and split activities.

    {"field": "email", "op": "endsWith", "value": "@example.com"}
    {"and": [<filter>, ...]}   {"or": [<filter>, ...]}   {"not": <filter>}   {"list": "vip"}

Fields are the `recipient` target mapping's columns (externalId, email, firstName, lastName, phone),
`custom.<name>`, and the opt-out flags blackListEmail, blackListMobile, blackList (true or false, with eq
and ne). `{"list": name}` picks the list's (confirmed) members. Operators: eq, ne, in, contains, startsWith,
endsWith, isNull, notNull. The three text operators ignore case on every database (SQLite's LIKE ignores
ASCII case and PostgreSQL's does not: both compare lower-cased text, so the same filter selects the same
recipients on both); eq, ne and in are exact. A filter is checked whole: every problem is reported at once,
with its path (`$.and[1].op`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field
from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from accord.campaign.exceptions import CampaignInputError
from accord.campaign.models import ListMemberRecord, ListRecord, RecipientRecord

COLUMNS: dict[str, Any] = {
    "externalId": RecipientRecord.external_id,
    "email": RecipientRecord.email,
    "firstName": RecipientRecord.first_name,
    "lastName": RecipientRecord.last_name,
    "phone": RecipientRecord.phone,
}
FLAGS: dict[str, Any] = {
    "blackListEmail": RecipientRecord.black_list_email,
    "blackListMobile": RecipientRecord.black_list_mobile,
    "blackList": RecipientRecord.black_list,
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


def filter_problems(document: Any) -> list[str]:
    """Every problem of a filter, with its path; none for a good one."""
    problems: list[str] = []
    _compile(document, "$", problems, 0)
    return problems


def _checked(document: dict[str, Any]) -> dict[str, Any]:
    problems = filter_problems(document)
    if problems:
        raise ValueError("; ".join(problems))
    return document


RecipientFilter = Annotated[
    dict[str, Any],
    AfterValidator(_checked),
    Field(description="A recipient filter: {field, op, value}, {and: [...]}, {or: [...]}, {not: ...}, {list: name} "
          "(see docs/campaign.md)."),
]  # fmt: skip
"""A filter as an option of a document (a workflow activity's), checked when the document is."""


def matching_ids(session: Session, document: dict[str, Any]) -> set[int]:
    """The ids of the recipients the filter picks: one statement, whatever their number."""
    return set(session.scalars(select(RecipientRecord.id).where(compile_filter(document))))


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
    if "list" in node:
        name = node["list"]
        if set(node) != {"list"} or not isinstance(name, str) or not name:
            problems.append(f"{path}: `list` takes a list's name and nothing beside it")
            return true()
        member = (
            select(ListMemberRecord.recipient_id)
            .join(ListRecord, ListRecord.id == ListMemberRecord.list_id)
            .where(ListRecord.name == name, ListMemberRecord.status == "member",
                   ListMemberRecord.recipient_id == RecipientRecord.id)
        )  # fmt: skip
        return exists(member)
    if node.get("field") in FLAGS:
        return _flag(node, path, problems)
    return _condition(node, path, problems)


def _flag(node: dict[str, Any], path: str, problems: list[str]) -> ColumnElement[bool]:
    """An opt-out flag: eq or ne true or false."""
    unknown = set(node) - {"field", "op", "value"}
    if unknown:
        problems.append(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; a condition has field, op, value")
    op, value = node.get("op"), node.get("value")
    if op not in ("eq", "ne"):
        problems.append(f"{path}.op: {node['field']} takes eq or ne, not {op!r}")
    if not isinstance(value, bool):
        problems.append(f"{path}.value: {node['field']} is true or false")
    if op not in ("eq", "ne") or not isinstance(value, bool):
        return true()
    column = FLAGS[node["field"]]
    return column.is_(value) if op == "eq" else column.is_not(value)  # type: ignore[no-any-return]


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
    problems.append(f"{path}.field: unknown field {name!r}; fields: {', '.join([*COLUMNS, *FLAGS])}, custom.<name>")
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
