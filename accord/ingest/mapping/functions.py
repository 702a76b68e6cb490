"""The data prep function library: each function's signature and its engine expression.

A function is data: its parameter kinds, its result kind, which arguments must be literals, and a
builder that returns an Ibis expression. Conversions that can fail also return a failure condition,
so a row whose value cannot be converted becomes a diagnostic instead of a silent null.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from accord.ingest.mapping.types import Kind


@ibis.udf.scalar.builtin(name="sha256")
def _sha256(value: str) -> str:  # type: ignore[empty-body]
    ...


@ibis.udf.scalar.builtin(name="sha1")
def _sha1(value: str) -> str:  # type: ignore[empty-body]
    ...


@ibis.udf.scalar.builtin(name="md5")
def _md5(value: str) -> str:  # type: ignore[empty-body]
    ...


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(value: str, fmt: str) -> dt.timestamp: ...


@ibis.udf.scalar.builtin(name="timezone")
def _timezone(zone: str, value: dt.timestamp) -> dt.Timestamp(timezone="UTC"): ...  # type: ignore[valid-type]


Builder = Callable[[list[ir.Value], list[Any]], ir.Value]
FailureCheck = Callable[[list[ir.Value], ir.Value], ir.BooleanValue]


@dataclass(frozen=True)
class Function:
    """One function of the mapping language."""

    name: str
    params: tuple[Kind, ...]
    returns: Kind
    build: Builder
    doc: str
    optional: int = 0
    """How many trailing parameters may be left out."""
    variadic: bool = False
    """The last parameter may repeat."""
    literal_args: tuple[int, ...] = ()
    """Positions of arguments that must be literals (formats, patterns, zones)."""
    fails_when: FailureCheck | None = None
    """A row condition under which the call failed (e.g. a value that does not convert)."""
    literal_check: Callable[[list[Any]], str | None] | None = field(default=None)
    """Checks literal arguments at compile time; returns a problem or None."""


def _text(value: ir.Value) -> ir.StringValue:
    return value if value.type().is_string() else value.cast("string")  # type: ignore[return-value]


def _java_date_format(pattern: str) -> str:
    """Turn a Java DateTimeFormatter pattern (yyyy-MM-dd HH:mm:ss) into strptime's; `%` patterns pass."""
    if "%" in pattern:
        return pattern
    tokens = [
        ("yyyy", "%Y"), ("yy", "%y"), ("MMMM", "%B"), ("MMM", "%b"), ("MM", "%m"), ("M", "%-m"),
        ("dd", "%d"), ("d", "%-d"), ("HH", "%H"), ("H", "%-H"), ("hh", "%I"), ("mm", "%M"), ("ss", "%S"),
        ("SSSSSS", "%f"), ("SSS", "%g"), ("EEEE", "%A"), ("EEE", "%a"), ("a", "%p"), ("XXX", "%z"),
        ("Z", "%z"), ("X", "%z"), ("'T'", "T"),
    ]  # fmt: skip
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "'":
            end = pattern.find("'", i + 1)
            end = len(pattern) if end < 0 else end
            out.append(pattern[i + 1 : end])
            i = end + 1
            continue
        for java, c_format in tokens:
            if pattern.startswith(java, i):
                out.append(c_format)
                i += len(java)
                break
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def _check_regex(args: list[Any]) -> str | None:
    try:
        re.compile(args[1])
    except (re.error, TypeError) as exc:
        return f"invalid regular expression: {exc}"
    return None


def _check_zone(args: list[Any]) -> str | None:
    try:
        zoneinfo.ZoneInfo(str(args[1]))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {args[1]!r}; use an IANA name such as Europe/Paris"
    return None


def _parse_date(args: list[ir.Value], _lits: list[Any]) -> ir.Value:
    value = _text(args[0])
    if len(args) == 1:
        return value.try_cast(dt.Timestamp(timezone="UTC"))
    fmt = _lits[1]
    return _try_strptime(value, _java_date_format(str(fmt))).cast(dt.Timestamp(timezone="UTC"))


def _decode(args: list[ir.Value], _lits: list[Any]) -> ir.Value:
    key, rest = args[0], args[1:]
    pairs = [(rest[i], rest[i + 1]) for i in range(0, len(rest) - 1, 2)]
    default = rest[-1] if len(rest) % 2 == 1 else ibis.null()
    return key.cases(*pairs, else_=default)  # type: ignore[attr-defined]


def _is_empty(args: list[ir.Value], _lits: list[Any]) -> ir.Value:
    value = args[0]
    if value.type().is_string():
        return value.isnull() | (value.length() == 0)  # type: ignore[attr-defined]
    if value.type().is_array():
        return value.isnull() | (value.length() == 0)  # type: ignore[attr-defined]
    return value.isnull()


def _extract_regex(args: list[ir.Value], lits: list[Any]) -> ir.Value:
    pattern = str(lits[1])
    groups = re.compile(pattern).groups
    text = _text(args[0])
    matched = text.re_search(pattern)
    parts = [text.re_extract(pattern, i) for i in range(groups + 1)]
    return ibis.ifelse(matched, ibis.array(parts), ibis.null().cast("array<string>"))


def _convert(target: str) -> tuple[Builder, FailureCheck]:
    def build(args: list[ir.Value], _lits: list[Any]) -> ir.Value:
        value = args[0]
        if target == "int64" and value.type().is_string():  # whole numbers only: no rounding of '1.5'
            return ibis.ifelse(value.re_search(INTEGER_TEXT), value.try_cast(target), ibis.null().cast(target))  # type: ignore[attr-defined]
        return value.try_cast(target)  # the engine's casts accept surrounding white space

    return build, lambda args, result: result.isnull() & args[0].notnull()


def _fn(name: str, params: Sequence[Kind], returns: Kind, build: Builder, doc: str, **extra: Any) -> Function:
    return Function(name, tuple(params), returns, build, doc, **extra)


S, INT, N, B, D, A = Kind.string, Kind.integer, Kind.number, Kind.boolean, Kind.datetime, Kind.any
INTEGER_TEXT = r"^\s*[+-]?[0-9]+\s*$"
URL_HOST = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^\]]+\]|[^:/?#]+)"

_LIBRARY: list[Function] = [
    _fn("concat", [A], S, lambda a, _: _text(a[0]).concat(*[_text(x) for x in a[1:]]) if len(a) > 1 else _text(a[0]),
        "joins values as text (null if any is null)",
        variadic=True),
    _fn("lower", [S], S, lambda a, _: _text(a[0]).lower(), "lower-cases text"),
    _fn("upper", [S], S, lambda a, _: _text(a[0]).upper(), "upper-cases text"),
    _fn("trim", [S], S, lambda a, _: _text(a[0]).strip(), "removes leading and trailing white space"),
    _fn("ltrim", [S], S, lambda a, _: _text(a[0]).lstrip(), "removes leading white space"),
    _fn("rtrim", [S], S, lambda a, _: _text(a[0]).rstrip(), "removes trailing white space"),
    _fn("substr", [S, INT, INT], S,
        lambda a, _: _text(a[0]).substr(a[1], a[2] - a[1]) if len(a) == 3 else _text(a[0]).substr(a[1]),
        "substr(text, start, end): characters from start (0-based) up to end (exclusive)", optional=1),
    _fn("left", [S, INT], S, lambda a, _: _text(a[0]).left(a[1]), "the first n characters"),
    _fn("right", [S, INT], S, lambda a, _: _text(a[0]).right(a[1]), "the last n characters"),
    _fn("split", [S, S], Kind.array, lambda a, _: _text(a[0]).split(a[1]), "splits text on a separator",
        literal_args=(1,)),
    _fn("replacestr", [S, S, S], S, lambda a, _: _text(a[0]).replace(a[1], a[2]),
        "replaces every occurrence of a string"),
    _fn("lpad", [S, INT, S], S, lambda a, _: _text(a[0]).lpad(a[1], a[2]),
        "pads on the left up to a length (never shortens)"),
    _fn("rpad", [S, INT, S], S, lambda a, _: _text(a[0]).rpad(a[1], a[2]),
        "pads on the right up to a length (never shortens)"),
    _fn("length", [S], INT, lambda a, _: _text(a[0]).length().cast("int64"), "number of characters"),
    _fn("sha256", [S], S, lambda a, _: _sha256(_text(a[0])), "SHA-256 hash as hex"),
    _fn("sha1", [S], S, lambda a, _: _sha1(_text(a[0])), "SHA-1 hash as hex"),
    _fn("md5", [S], S, lambda a, _: _md5(_text(a[0])), "MD5 hash as hex"),
    _fn("iif", [B, A, A], A, lambda a, _: ibis.ifelse(a[0], a[1], a[2]), "iif(condition, then, else)"),
    _fn("decode", [A, A, A], A, _decode, "decode(key, k1, v1, k2, v2, ..., default)", variadic=True),
    _fn("coalesce", [A, A], A, lambda a, _: ibis.coalesce(*a), "the first value that is not null", variadic=True),
    _fn("is_empty", [A], B, _is_empty, "true for null, empty text or an empty array"),
    _fn("to_integer", [A], INT, *_convert("int64")[:1], "converts to an integer", fails_when=_convert("int64")[1]),
    _fn("to_bigint", [A], INT, *_convert("int64")[:1], "converts to a 64-bit integer", fails_when=_convert("int64")[1]),
    _fn("to_float", [A], N, *_convert("float64")[:1], "converts to a floating-point number",
        fails_when=_convert("float64")[1]),
    _fn("to_decimal", [A], N, *_convert("decimal(38, 9)")[:1], "converts to a decimal number",
        fails_when=_convert("decimal(38, 9)")[1]),
    _fn("date", [S, S], D, _parse_date,
        "date(text, format): parses a date-time; format as yyyy-MM-dd HH:mm:ss or strptime %Y-%m-%d",
        optional=1, literal_args=(1,), fails_when=lambda a, r: a[0].notnull() & r.isnull()),
    _fn("now", [], D, lambda a, _: ibis.now().cast(dt.Timestamp(timezone="UTC")), "the time of ingestion"),
    _fn("dformat", [D, S], S, lambda a, lits: a[0].strftime(_java_date_format(str(lits[1]))),
        "formats a date-time with a pattern", literal_args=(1,)),
    _fn("zone_date_to_utc", [D, S], D,
        lambda a, lits: _timezone(ibis.literal(str(lits[1])), a[0].cast(dt.timestamp)),
        "reads a local date-time in a time zone and returns it in UTC", literal_args=(1,),
        literal_check=_check_zone),
    _fn("extract_regex", [S, S], Kind.array, _extract_regex,
        "[whole match, group 1, ...] of a regular expression, or null", literal_args=(1,),
        literal_check=_check_regex),
    _fn("matches_regex", [S, S], B, lambda a, lits: _text(a[0]).re_search(f"^(?:{lits[1]})$"),
        "true when the whole text matches a regular expression", literal_args=(1,), literal_check=_check_regex),
    _fn("get_url_host", [S], S,
        lambda a, _: ibis.ifelse(_text(a[0]).re_search(URL_HOST), _text(a[0]).re_extract(URL_HOST, 1),
                                 ibis.null().cast("string")),
        "the host of a URL"),
    _fn("uuid", [], S, lambda a, _: ibis.uuid().cast("string"), "a random UUID"),
    _fn("guid", [], S, lambda a, _: ibis.uuid().cast("string"), "a random UUID (alias of uuid)"),
]  # fmt: skip

FUNCTIONS: dict[str, Function] = {f.name: f for f in _LIBRARY}
