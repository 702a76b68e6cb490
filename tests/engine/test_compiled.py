"""A statement is compiled once per shape, and never handed to an expression of another shape."""

from __future__ import annotations

from typing import Any

import ibis

from accord import engine


def test_like_expressions_on_other_connections_share_their_statement_and_others_do_not() -> None:
    first, second = ibis.duckdb.connect(), ibis.duckdb.connect()
    for con in (first, second):
        con.raw_sql("CREATE TABLE t AS SELECT 1.5::DOUBLE AS x, 'a' AS y")

    def query(con: Any, wanted: float) -> Any:
        table = con.table("t")
        return table.filter(table.x >= wanted).select("y")

    assert engine.to_arrow(first, query(first, 1.0)).to_pylist() == [{"y": "a"}]
    assert engine.to_arrow(second, query(second, 1.0)).to_pylist() == [{"y": "a"}]
    # the second connection's read took the statement the first one compiled (the very same text)
    assert engine.compiled(second, query(second, 1.0)) is engine.compiled(first, query(first, 1.0))
    assert engine.to_arrow(first, query(first, 2.0)).to_pylist() == []  # another value: another statement
    # Python takes -0.0 for 0.0, and so does the expressions' equality: the statement must not be shared
    assert "-0.0" in engine.compiled(first, ibis.literal(-0.0).name("v").as_table())
    assert "-0.0" not in engine.compiled(first, ibis.literal(0.0).name("v").as_table())
    second.raw_sql("CREATE OR REPLACE TABLE t AS SELECT 1.5::DOUBLE AS x, 7 AS y")  # another shape of t
    assert engine.to_arrow(second, query(second, 1.0)).to_pylist() == [{"y": 7}]
