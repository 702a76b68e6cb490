"""The recipient filter of the query and split activities: a small JSON tree compiled to SQLAlchemy expressions.

`{"field": "email", "op": "endsWith", "value": "@example.com"}`, `{"all": [...]}`, `{"any": [...]}`,
`{"not": {...}}`, `{"list": "vip"}` (members of a list). Fields are the recipient's columns (`externalId`,
`email`, `firstName`, `lastName`, `phone`, `blackListEmail`...) or `custom.<name>`. Values are bound
parameters: no user text becomes SQL. (The `mail` part's `accord/campaign/queries.py` holds the filter of a
delivery's target; the two may become one.)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, String, and_, cast, exists, not_, or_, select, true
from sqlalchemy.orm import Session

from accord.campaign.models import ListMemberRecord, ListRecord, RecipientRecord

COLUMNS = {
    "externalId": RecipientRecord.external_id,
    "email": RecipientRecord.email,
    "firstName": RecipientRecord.first_name,
    "lastName": RecipientRecord.last_name,
    "phone": RecipientRecord.phone,
    "blackListEmail": RecipientRecord.black_list_email,
    "blackListMobile": RecipientRecord.black_list_mobile,
    "blackList": RecipientRecord.black_list,
}
Operator = Literal["eq", "ne", "in", "contains", "startsWith", "endsWith", "exists", "missing"]


class RecipientFilter(BaseModel):
    """One condition on recipients, or a combination of them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    field: str | None = Field(default=None, description="A recipient column or `custom.<name>`.")
    op: Operator = "eq"
    value: Any = None
    all_of: list[RecipientFilter] | None = Field(default=None, alias="all", description="Every one of these.")
    any_of: list[RecipientFilter] | None = Field(default=None, alias="any", description="At least one of these.")
    not_: RecipientFilter | None = Field(default=None, alias="not", description="Not this.")
    in_list: str | None = Field(default=None, alias="list", description="Members of the list of this name.")

    @model_validator(mode="after")
    def _one_kind(self) -> RecipientFilter:
        kinds = [k for k in ("field", "all_of", "any_of", "not_", "in_list") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a filter is one of: field (with op and value), all, any, not, list")
        if self.field is not None:
            if self.field not in COLUMNS and not (self.field.startswith("custom.") and len(self.field) > 7):
                raise ValueError(f"unknown field {self.field!r}; fields: {', '.join(COLUMNS)}, custom.<name>")
            if self.op == "in" and not isinstance(self.value, list):
                raise ValueError("`in` takes a list of values")
            if self.op not in ("exists", "missing", "in") and self.value is None:
                raise ValueError(f"`{self.op}` takes a value")
        return self


def condition(tree: RecipientFilter) -> ColumnElement[bool]:
    """The filter as a SQLAlchemy condition on the recipients table."""
    if tree.all_of is not None:
        return and_(true(), *(condition(t) for t in tree.all_of))
    if tree.any_of is not None:
        return or_(*(condition(t) for t in tree.any_of)) if tree.any_of else not_(true())
    if tree.not_ is not None:
        return not_(condition(tree.not_))
    if tree.in_list is not None:
        member = (
            select(ListMemberRecord.recipient_id)
            .join(ListRecord, ListRecord.id == ListMemberRecord.list_id)
            .where(
                ListRecord.name == tree.in_list,
                ListMemberRecord.status == "member",
                ListMemberRecord.recipient_id == RecipientRecord.id,
            )
        )
        return exists(member)
    return _compare(tree)


def _compare(tree: RecipientFilter) -> ColumnElement[bool]:
    assert tree.field is not None
    column: Any = COLUMNS.get(tree.field)
    if column is None:
        column = RecipientRecord.custom[tree.field.removeprefix("custom.")].as_string()
    elif column.type.python_type is bool:
        return _compare_bool(column, tree)
    text = cast(column, String)
    value = tree.value
    match tree.op:
        case "eq":
            return text == str(value)
        case "ne":
            return or_(text != str(value), text.is_(None))
        case "in":
            return text.in_([str(v) for v in value])
        case "contains":
            return text.contains(str(value), autoescape=True)
        case "startsWith":
            return text.startswith(str(value), autoescape=True)
        case "endsWith":
            return text.endswith(str(value), autoescape=True)
        case "exists":
            return and_(text.is_not(None), text != "")
        case _:
            return or_(text.is_(None), text == "")


def _compare_bool(column: Any, tree: RecipientFilter) -> ColumnElement[bool]:
    wanted = tree.value not in (False, "false", "0", 0, "n", "no")
    return column.is_(wanted) if tree.op != "ne" else column.is_not(wanted)


def matching_ids(session: Session, tree: RecipientFilter) -> set[int]:
    """The ids of the recipients the filter picks: one statement, whatever their number."""
    return set(session.scalars(select(RecipientRecord.id).where(condition(tree))))
