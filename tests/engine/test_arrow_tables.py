"""Arrow tables handed to the engine without a copy read as they are, slices included."""

from __future__ import annotations

import pyarrow as pa
import pytest

from accord.engine import arrow_tables, connect
from accord.settings import Settings

ROWS = [
    {"graph": i, "person": None if i % 4 == 3 else {"name": {"first": f"F{i}", "last": None}, "age": i,
                                                      "tags": [{"label": {"text": f"t{i}"}}]},
     "scores": [i, i + 1], "city": f"C{i}" if i % 2 else None}
    for i in range(10)
]  # fmt: skip


def _in_batches(rows: list[dict[str, object]], size: int) -> pa.Table:
    """A table whose batches each start at offset 0, as one read from an Arrow file."""
    return pa.Table.from_batches([pa.RecordBatch.from_pylist(rows[i : i + size]) for i in range(0, len(rows), size)])


@pytest.mark.parametrize(("start", "end"), [(0, 10), (1, 7), (5, 9), (4, 8), (9, 10), (3, 3)])
def test_a_slice_reads_as_it_is_nested_fields_included(settings: Settings, start: int, end: int) -> None:
    table = _in_batches(ROWS, 4).slice(start, end - start)
    con = connect(settings)
    try:
        with arrow_tables(con, {"people": table}) as tables:
            people = tables["people"]
            read = con.to_pyarrow(people.select(
                "graph", "person", "scores", "city", first=people.person["name"]["first"],
                label=people.person["tags"][0]["label"]["text"]).order_by("graph")).to_pylist()  # fmt: skip
    finally:
        con.disconnect()
    expected = [{**row, "first": row["person"] and row["person"]["name"]["first"],
                 "label": row["person"] and row["person"]["tags"][0]["label"]["text"]}
                for row in ROWS[start:end]]  # fmt: skip
    assert read == expected


def test_tables_are_let_go_after_the_block(settings: Settings) -> None:
    con = connect(settings)
    try:
        with arrow_tables(con, {"people": _in_batches(ROWS, 4)}) as tables:
            assert con.execute(tables["people"].count()) == 10
        assert "people" not in con.list_tables()
    finally:
        con.disconnect()
