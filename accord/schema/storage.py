"""How fields are stored: the engine type of each field type."""

from __future__ import annotations

import ibis.expr.datatypes as dt

from accord.schema.fields import FieldSpec, FieldType


def field_dtype(spec: FieldSpec) -> dt.DataType:
    """The engine type that stores a field."""
    scalar: dict[FieldType, dt.DataType] = {
        FieldType.string: dt.string,
        FieldType.integer: dt.int64,
        FieldType.number: dt.float64,
        FieldType.boolean: dt.boolean,
        FieldType.date: dt.date,
        FieldType.date_time: dt.Timestamp(timezone="UTC"),
    }
    if spec.type in scalar:
        return scalar[spec.type]
    if spec.type == FieldType.object:
        return dt.Struct({k: field_dtype(v) for k, v in (spec.properties or {}).items()})
    if spec.type == FieldType.array:
        assert spec.items is not None
        return dt.Array(field_dtype(spec.items))
    assert spec.values is not None
    return dt.Map(dt.string, field_dtype(spec.values))
