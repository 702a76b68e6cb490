"""Every example in docs/mapping.md runs here: the documentation cannot drift from the code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest

from accord.ingest import FUNCTIONS
from accord.ingest.mapping.compiler import compile_expression
from accord.lake import jsonable

DOC = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"
ROW = re.compile(r"^\| `(?P<expr>.+?)` \| `(?P<input>.+?)` \| `(?P<result>.+?)` \|$")


def examples() -> list[tuple[str, dict[str, Any], Any]]:
    found = []
    for line in DOC.read_text().splitlines():
        match = ROW.match(line.replace("\\|", "\x00"))
        if match:
            expr = match["expr"].replace("\x00", "|")
            found.append((expr, json.loads(match["input"]), json.loads(match["result"])))
    return found


def evaluate(expression: str, row: dict[str, Any]) -> Any:
    columns = {k: pa.array([v], pa.string()) for k, v in row.items()} or {"_": pa.array([None], pa.string())}
    table = ibis.memtable(pa.table(columns))
    compiled = compile_expression(expression, table)
    con = ibis.duckdb.connect()
    try:
        value = con.to_pyarrow(table.select(v=compiled.value))["v"][0].as_py()
    finally:
        con.disconnect()
    return jsonable(value)


@pytest.mark.parametrize(("expression", "row", "expected"), examples(), ids=[e[0][:60] for e in examples()])
def test_documented_example(expression: str, row: dict[str, Any], expected: Any) -> None:
    assert evaluate(expression, row) == expected


def test_every_function_has_a_documented_example() -> None:
    documented = " ".join(e[0] for e in examples())
    missing = [name for name in FUNCTIONS if f"{name}(" not in documented]
    assert missing == []
