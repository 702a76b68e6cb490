"""Conform mapped values to a schema: convert to each field's type and check its rules, as Ibis
expressions evaluated by the engine over whole columns (no per-row Python).

The result is one output column per top-level schema field, a single `ok` condition for the fast
path, and the list of row errors for the rows that fail (computed only for those)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from accord.engine import field_at
from accord.identity import INVALID_IDENTITY, MAX_PER_RECORD, TOO_MANY_IDENTITIES, count_identities
from accord.ingest import exceptions as codes
from accord.ingest.exceptions import RECORD_TOO_LARGE, InvalidMappingError
from accord.ingest.json_text import json_kind
from accord.ingest.mapping.compiler import Compiled, MappedFields
from accord.ingest.mapping.types import Kind
from accord.schema import FieldSpec, FieldType, ResolvedSchema, field_dtype

FORMAT_PATTERNS = {
    "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    "uri": r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "hostname": r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$",
    "ipv4": r"^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)$",
}
INTEGER_TEXT = r"^\s*[+-]?[0-9]+\s*$"
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
ERROR_TYPE = dt.Array(dt.Struct({"code": dt.string, "path": dt.string, "message": dt.string}))


def schema_dtypes(schema: ResolvedSchema) -> dict[str, dt.DataType]:
    return {name: field_dtype(spec) for name, spec in schema.fields.items()}


@dataclass(frozen=True)
class Check:
    failed: ir.BooleanValue
    code: str
    path: str
    message: ir.StringValue


@dataclass
class Conformed:
    columns: dict[str, ir.Value]
    checks: list[Check]

    def ok(self) -> ir.BooleanValue:
        return ~any_failed(self.checks)

    def errors(self) -> ir.ArrayValue:
        return row_errors(self.checks)


def any_failed(checks: list[Check]) -> ir.BooleanValue:
    """Whether any of the checks fails for the row (a check that cannot tell does not fail)."""
    if not checks:
        return ibis.literal(False)
    return ibis.or_(*[c.failed.fill_null(False) for c in checks])


def row_errors(checks: list[Check]) -> ir.ArrayValue:
    """The errors of the checks a row fails, in the checks' order."""
    items = [
        ibis.ifelse(
            c.failed.fill_null(False),
            ibis.struct({"code": ibis.literal(c.code), "path": ibis.literal(c.path), "message": c.message}),
            ibis.null(),
        )
        for c in checks
    ]
    if not items:
        return ibis.literal([], type=ERROR_TYPE)
    return ibis.array(items).cast(ERROR_TYPE).filter(lambda e: e.notnull())


def _quote(value: ir.Value) -> ir.StringValue:
    text = value.cast("string") if not value.type().is_string() else value
    return ibis.literal("'").concat(text.substr(0, 100), ibis.literal("'"))  # type: ignore[attr-defined]


def _message(*parts: str | ir.Value) -> ir.StringValue:
    pieces = [ibis.literal(p) if isinstance(p, str) else p for p in parts]
    if len(pieces) == 1:
        return pieces[0]  # type: ignore[return-value]
    return ibis.coalesce(pieces[0].concat(*pieces[1:]), ibis.literal("".join(p for p in parts if isinstance(p, str))))  # type: ignore[attr-defined]


def _convert(path: str, compiled: Compiled, spec: FieldSpec, checks: list[Check]) -> ir.Value:
    """The value converted to the field's type, adding a check for values that do not convert."""
    value, kind = compiled.value, compiled.kind
    target = field_dtype(spec)
    if kind == Kind.null:
        return ibis.null().cast(target)
    if spec.type == FieldType.string:
        return value if kind == Kind.string else value.cast("string")
    if kind == Kind.string:
        if spec.type == FieldType.boolean:
            lowered = value.strip().lower()  # type: ignore[attr-defined]
            converted = ibis.cases(
                (lowered.isin(TRUE_WORDS), True), (lowered.isin(FALSE_WORDS), False), else_=ibis.null().cast("boolean")
            )
        elif spec.type == FieldType.integer:  # the engine would round '1.5' and read '0x10': only whole numbers
            converted = ibis.ifelse(value.re_search(INTEGER_TEXT), value.try_cast(target), ibis.null().cast(target))  # type: ignore[attr-defined]
        else:
            converted = value.try_cast(target)  # the engine's casts accept surrounding white space
        # Cheapest test first: the text is looked at only where the conversion gave nothing.
        failed = converted.isnull() & value.notnull() & (value.strip().length() > 0)  # type: ignore[attr-defined]
        checks.append(
            Check(
                failed,
                codes.TYPE_CONVERSION,
                path,
                _message("cannot convert ", _quote(value), f" to {spec.type.value}"),
            )
        )
        return converted
    converted = value.try_cast(target)
    checks.append(
        Check(
            value.notnull() & converted.isnull(),
            codes.TYPE_CONVERSION,
            path,
            _message("cannot convert ", _quote(value), f" to {spec.type.value}"),
        )
    )
    return converted


def _rules(path: str, value: ir.Value, spec: FieldSpec, checks: list[Check]) -> None:
    """Checks of the field's own rules on a converted value."""
    if spec.required:
        checks.append(
            Check(value.isnull(), codes.REQUIRED_MISSING, path, ibis.literal(f"required field {path} is missing"))
        )
    if spec.type != FieldType.string and spec.minimum is None and spec.maximum is None:
        return
    v: Any = value
    if spec.enum is not None:
        checks.append(
            Check(
                ~v.isin(spec.enum),
                codes.ENUM_MISMATCH,
                path,
                _message(_quote(v), f" is not one of {', '.join(spec.enum[:20])}"),
            )
        )
    if spec.format is not None:
        checks.append(
            Check(
                ~v.re_search(FORMAT_PATTERNS[spec.format]),
                codes.FORMAT_MISMATCH,
                path,
                _message(_quote(v), f" is not a valid {spec.format}"),
            )
        )
    if spec.pattern is not None:
        checks.append(
            Check(
                ~v.re_search(spec.pattern),
                codes.FORMAT_MISMATCH,
                path,
                _message(_quote(v), f" does not match the pattern {spec.pattern}"),
            )
        )
    if spec.max_length is not None:
        checks.append(
            Check(
                v.length() > spec.max_length,
                codes.OUT_OF_RANGE,
                path,
                _message("value is longer than ", str(spec.max_length), " characters"),
            )
        )
    if spec.minimum is not None:
        checks.append(
            Check(v < spec.minimum, codes.OUT_OF_RANGE, path, _message(_quote(v), f" is below {spec.minimum}"))
        )
    if spec.maximum is not None:
        checks.append(
            Check(v > spec.maximum, codes.OUT_OF_RANGE, path, _message(_quote(v), f" is above {spec.maximum}"))
        )


def _conform_nested(value: ir.Value, spec: FieldSpec) -> ir.Value:
    """Reshape a nested source value (from JSON or Parquet) to the field's type, field by field."""
    target = field_dtype(spec)
    source = value.type()
    if spec.type == FieldType.object and source.is_struct():
        names = source.names  # type: ignore[attr-defined]
        return ibis.ifelse(
            value.isnull(),
            ibis.null().cast(target),
            ibis.struct(
                {
                    name: _conform_nested(value[name], child) if name in names else ibis.null().cast(field_dtype(child))  # type: ignore[index]
                    for name, child in (spec.properties or {}).items()
                }
            ),
        )
    if spec.type == FieldType.array and source.is_array():
        assert spec.items is not None
        items = spec.items
        return value.map(lambda element: _conform_nested(element, items))  # type: ignore[attr-defined]
    if spec.type == FieldType.map and source.is_struct():
        assert spec.values is not None
        keys = source.names  # type: ignore[attr-defined]
        entries = [_conform_nested(value[k], spec.values) for k in keys]  # type: ignore[index]
        key_array = ibis.array(
            [ibis.ifelse(e.notnull(), ibis.literal(k), ibis.null()) for k, e in zip(keys, entries, strict=True)]
        )
        built = ibis.map(key_array.filter(lambda k: k.notnull()), ibis.array(entries).filter(lambda e: e.notnull()))
        return ibis.ifelse(value.isnull(), ibis.null().cast(target), built)  # a record without it has none, not {}
    if source == target:
        return value
    return value.try_cast(target)


def _parse_json_text(path: str, text: Any, spec: FieldSpec, checks: list[Check]) -> ir.Value:
    """Text holding an object or array, parsed to the field's type; other text fails the row (it
    would otherwise become null, or an object of nulls, without a word)."""
    expected = "ARRAY" if spec.type == FieldType.array else "OBJECT"
    present = text.notnull() & (text.strip().length() > 0)
    fits = json_kind(text) == expected
    message = _message(_quote(text), f" is not a JSON {'array' if expected == 'ARRAY' else 'object'}")
    checks.append(Check(present & ~fits.fill_null(False), codes.TYPE_CONVERSION, path, message))
    return ibis.ifelse(fits, text.try_cast("json").try_cast(field_dtype(spec)), ibis.null().cast(field_dtype(spec)))


def unmapped_required(schema: ResolvedSchema, mapped: MappedFields) -> list[str]:
    """Required leaf fields that nothing in the mapping can fill."""
    from accord.schema import walk

    missing = []
    for path, spec in walk(schema.fields):
        if spec.required and spec.type != FieldType.object:
            covered = any(path == m or path.startswith(m + ".") for m in mapped.values)
            if not covered:
                missing.append(path)
    return missing


def conform(schema: ResolvedSchema, mapped: MappedFields, identities: IdentityCheck | None = None) -> Conformed:
    """Build the output columns (mapped fields only) and the checks for a schema from mapped values."""
    missing = unmapped_required(schema, mapped)
    if missing:
        raise InvalidMappingError(
            "mapping",
            [{"path": p, "message": "required field is not mapped, so every row would fail"} for p in missing],
        )
    checks: list[Check] = []
    for destination, compiled in mapped.values.items():
        for condition, message, value in compiled.failures:
            checks.append(
                Check(
                    condition,
                    codes.MAPPING_FAILED,
                    destination,
                    _message(f"{message} ", _quote(value), f" (mapping: {mapped.sources[destination][:80]})"),
                )
            )

    def build(path: str, spec: FieldSpec) -> ir.Value | None:
        compiled = mapped.values.get(path)
        if compiled is not None:
            if spec.type in (FieldType.object, FieldType.array, FieldType.map):
                if compiled.kind == Kind.string:  # JSON text in a column: parse it
                    return _conform_nested(_parse_json_text(path, compiled.value, spec, checks), spec)
                return _conform_nested(compiled.value, spec)
            value = _convert(path, compiled, spec, checks)
            if identities is not None and path in identities.fields and spec.type == FieldType.string:
                value = identities.normalize(path, value, checks)
            _rules(path, value, spec, checks)
            return value
        if spec.type == FieldType.object:
            children = {name: build(f"{path}.{name}", child) for name, child in (spec.properties or {}).items()}
            present = {name: child for name, child in children.items() if child is not None}
            return ibis.struct(present) if present else None
        return None

    # Only mapped fields are written: readers cast to the full schema, which fills the rest with nulls
    # (writing the null fields costs time and space for nothing).
    columns: dict[str, ir.Value] = {}
    for name, spec in schema.fields.items():
        value = build(name, spec)
        if value is not None:
            columns[name] = value
    if identities is not None:
        identities.check_record(columns, checks)
    return Conformed(columns, checks)


RECORD_LIMITS = {"experienceevent": 10 * 1024, "profile": 100 * 1024}
"""The reference product's guardrails: an event of at most 10 KB, a profile record of at most 100 KB."""


def size_check(
    table: ir.Table, class_name: str, hidden: frozenset[str] = frozenset(), text: ir.StringValue | None = None
) -> Check:
    """Rows over their class's size limit, measured as received: the record's own text where the
    reader kept it (JSON), else the text of its values."""
    limit = RECORD_LIMITS.get(class_name, RECORD_LIMITS["profile"])
    columns = [c for c in table.columns if c not in hidden]
    size: Any
    if text is not None:
        size = text.length()
    elif all(table[c].type().is_string() for c in columns):  # delimited text: add up the values' lengths
        size = sum((table[c].length().fill_null(0) for c in columns), ibis.literal(0))
    else:  # nested input: the length of the record as JSON
        size = ibis.struct({c: table[c] for c in columns}).cast("json").cast("string").length()
    kind = "event" if class_name == "experienceevent" else "record"
    message = _message(f"the {kind} is larger than {limit // 1024} KB (", size.cast("string"), " bytes)")
    return Check(size > limit, RECORD_TOO_LARGE, "", message)


@dataclass
class IdentityCheck:
    """The identity rules of a schema: its descriptors' namespaces, and the namespaces identityMap may use."""

    fields: dict[str, tuple[str, Any]]
    """Descriptor path -> (namespace symbol, its rule)."""
    known: list[str]

    def normalize(self, path: str, value: ir.Value, checks: list[Check]) -> ir.Value:
        symbol, rule = self.fields[path]
        message = _message(_quote(value), f" is not a valid {symbol} identity ({rule.expectation})")
        checks.append(Check(rule.invalid(value), INVALID_IDENTITY, path, message))
        return rule.normalize(value)

    def check_record(self, columns: dict[str, ir.Value], checks: list[Check]) -> None:
        """identityMap: known namespaces, ids of 1 to 1,024 characters, at most 20 identities in all."""
        identity_map = columns.get("identityMap")
        count: Any = ibis.literal(0)
        if identity_map is not None and identity_map.type().is_map():
            m: Any = identity_map
            unknown = m.keys().filter(lambda k: ~k.isin(self.known)).length() > 0
            checks.append(Check(unknown, INVALID_IDENTITY, "identityMap",
                                _message("identityMap uses a namespace that does not exist: ",
                                         m.keys().join(", "))))  # fmt: skip
            sizes = m.values().map(lambda ids: ids.map(lambda i: ibis.coalesce(i.id.length(), 0)))
            bad_id = (sizes.map(lambda s: s.mins()).mins() < 1) | (sizes.map(lambda s: s.maxs()).maxs() > 1024)
            message = ibis.literal("an identityMap id is empty or longer than 1,024 characters")
            checks.append(Check(bad_id, INVALID_IDENTITY, "identityMap", message))
            count = count_identities(m)
        for path in self.fields:
            if path.split(".")[0] in columns:
                count = count + field_at(columns, path).notnull().cast("int64")
        checks.append(Check(count > MAX_PER_RECORD, TOO_MANY_IDENTITIES, "identityMap",
                            _message("the record has more than 20 identities")))  # fmt: skip
