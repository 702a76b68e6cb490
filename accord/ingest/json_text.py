"""The engine's JSON functions over text, as Ibis expressions that never fail on text that is not JSON."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.datatypes as dt


@ibis.udf.scalar.builtin(name="json_valid")
def _json_valid(text: str) -> bool:  # type: ignore[empty-body]
    ...


@ibis.udf.scalar.builtin(name="json_type")
def _json_type(text: str) -> str:  # type: ignore[empty-body]
    ...


@ibis.udf.agg.builtin(name="json_group_structure")
def group_structure(value: dt.JSON) -> str:  # type: ignore[empty-body]
    """The merged shape of JSON values (DuckDB's `json_group_structure`): a key whose values differ is JSON."""


def json_valid(text: Any) -> Any:
    """Whether text is valid JSON (null for null)."""
    return _json_valid(text)


def json_kind(text: Any) -> Any:
    """`OBJECT`, `ARRAY`, `VARCHAR`, `BOOLEAN`, `NULL` or a number type; null where the text is not JSON.

    The engine's `json_type` fails on text that is not JSON, and a condition beside it does not stop
    it being evaluated: only a CASE does."""
    return ibis.ifelse(_json_valid(text), _json_type(text), ibis.null().cast("string"))


@ibis.udf.scalar.builtin(name="strlen")
def strlen(text: str) -> int:  # type: ignore[empty-body]
    """The length of text in bytes (the engine's `length` counts characters, at some cost)."""
