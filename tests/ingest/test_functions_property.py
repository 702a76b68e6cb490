"""The compiled string functions agree with a plainly written Python reference on any input."""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.ingest.mapping.compiler import compile_expression

TEXT = st.text(alphabet=st.sampled_from(list("abcXYZ019 -_.@éüñ,;'\"\t")), max_size=12)


def run(expression: str, columns: dict[str, list[Any]]) -> list[Any]:
    table = ibis.memtable(pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}))
    compiled = compile_expression(expression, table)
    con = ibis.duckdb.connect()
    try:
        return con.to_pyarrow(table.select(v=compiled.value))["v"].to_pylist()
    finally:
        con.disconnect()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=20), st.integers(0, 6), st.integers(0, 8))
def test_string_functions_match_python(rows: list[tuple[str, str]], start: int, width: int) -> None:
    a = [r[0] for r in rows]
    b = [r[1] for r in rows]
    columns = {"a": a, "b": b}
    assert run('concat(a, "|", b)', columns) == [x + "|" + y for x, y in rows]
    assert run("upper(a)", columns) == [x.upper() for x in a]
    assert run("lower(a)", columns) == [x.lower() for x in a]
    assert run(f"substr(a, {start}, {start + width})", columns) == [x[start : start + width] for x in a]
    assert run(f'lpad(a, {width}, "*")', columns) == [x.rjust(width, "*") for x in a]
    assert run('replacestr(a, "a", b)', columns) == [x.replace("a", y) for x, y in rows]
    assert run("length(a)", columns) == [len(x) for x in a]
    assert run("is_empty(a)", columns) == [x == "" for x in a]
    assert run('iif(a == b, "same", "different")', columns) == ["same" if x == y else "different" for x, y in rows]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.integers(-(10**12), 10**12).map(str), TEXT), min_size=1, max_size=20))
def test_to_integer_converts_exactly_what_python_converts(values: list[str]) -> None:
    def reference(text: str) -> int | None:
        try:
            return int(text.strip(" \t")) if text.strip(" \t").lstrip("+-").isdigit() else None
        except ValueError:
            return None

    assert run("to_integer(a)", {"a": values}) == [reference(v) for v in values]
