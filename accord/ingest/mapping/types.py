"""The value kinds the mapping type checker reasons about, and their engine types."""

from __future__ import annotations

from enum import StrEnum

import ibis.expr.datatypes as dt


class Kind(StrEnum):
    string = "string"
    integer = "integer"
    number = "number"
    boolean = "boolean"
    date = "date"
    datetime = "datetime"
    array = "array"
    object = "object"
    map = "map"
    null = "null"
    any = "any"


SCALARS = frozenset({Kind.string, Kind.integer, Kind.number, Kind.boolean, Kind.date, Kind.datetime, Kind.null})


def kind_of(dtype: dt.DataType) -> Kind:
    if dtype.is_null():
        return Kind.null
    if dtype.is_string():
        return Kind.string
    if dtype.is_integer():
        return Kind.integer
    if dtype.is_floating() or dtype.is_decimal():
        return Kind.number
    if dtype.is_boolean():
        return Kind.boolean
    if dtype.is_date():
        return Kind.date
    if dtype.is_timestamp():
        return Kind.datetime
    if dtype.is_array():
        return Kind.array
    if dtype.is_struct():
        return Kind.object
    if dtype.is_map():
        return Kind.map
    return Kind.any


def accepts(expected: Kind, actual: Kind) -> bool:
    """Whether a value of `actual` kind may be passed where `expected` is asked for."""
    if expected == Kind.any or actual in (Kind.null, Kind.any):
        return True
    if expected == Kind.string:
        return actual in SCALARS  # scalars read as their text, as the reference product does
    if expected == Kind.number:
        return actual in (Kind.integer, Kind.number)
    if expected == Kind.datetime:
        return actual in (Kind.datetime, Kind.date)
    return expected == actual
