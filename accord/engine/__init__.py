"""The compute backend: Ibis over DuckDB, embedded in the calling process.

DuckDB locks a database file to one process, so Accord uses in-memory DuckDB connections over
Parquet files: any number of processes can read the lake, and each job owns its connection. Each
connection spills into a folder of its own: DuckDB names its spill files alike in every process,
so two connections spilling into one folder overwrite each other's blocks."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import numpy as np
import pyarrow as pa
import sqlglot.expressions as sge

from accord.jobs import scratch_name
from accord.settings import Settings


def _options(settings: Settings) -> dict[str, Any]:
    root = settings.spill_root
    root.mkdir(parents=True, exist_ok=True)
    # DuckDB makes this folder when it first spills and removes it when the connection closes; the
    # folder of a killed process says whose it was, so that the next job removes it
    options: dict[str, Any] = {"memory_limit": settings.duckdb_memory_limit,
                               "temp_directory": str(root / scratch_name("engine"))}  # fmt: skip
    if settings.duckdb_threads:
        options["threads"] = settings.duckdb_threads
    return options


def connect(settings: Settings) -> Any:
    """A fresh in-memory DuckDB backend configured from the settings, spilling into a folder of its own."""
    con = ibis.duckdb.connect(**_options(settings))
    # DuckDB draws its own progress bar on the terminal for long queries; Accord reports progress itself
    # (the CLI reads `query_progress`), and a library must not write to its caller's terminal
    con.raw_sql("SET enable_progress_bar_print = false")
    return con


def raw_connection(settings: Settings | None = None, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A plain DuckDB connection, for libraries that want one (Splink) and for small work.

    With settings it is configured and spills like `connect`; without, it never spills (small work only)."""
    config: dict[str, Any] = _options(settings) if settings is not None else {"temp_directory": ""}
    if threads is not None:
        config["threads"] = threads
    con = duckdb.connect(config=config)
    con.execute("SET enable_progress_bar_print = false")
    return con


def field_at(table: Any, path: str) -> Any:
    """The value at a dotted path into nested struct columns (`person.name.firstName`) of an Ibis table,
    or of a mapping from top-level names to columns."""
    head, *rest = path.split(".")
    value = table[head]
    for part in rest:
        value = value[part]
    return value


def sql_string(text: str) -> str:
    """A value quoted as a SQL string literal by the expression builder, never by hand."""
    return sge.Literal.string(text).sql("duckdb")


_COMPILED: OrderedDict[Any, str] = OrderedDict()
_COMPILED_LOCK = threading.Lock()
COMPILED_KEPT = 64
"""How many compiled statements `compiled` keeps (the most recently used)."""


def compiled(con: Any, expr: Any) -> str:
    """An expression's SQL, compiled once for all the expressions of the same shape.

    Compiling a large expression (a batch's mapping and validation) takes Ibis most of a second; a
    stream ingests batch after batch of the same shape, each on a connection of its own. The key is the
    expression with its tables unbound from their connection (a table's name and schema, not its
    connection, are in the SQL), so an expression of the same tables, names and operations is compiled once."""
    op = expr.op()
    bound = op.find(ops.DatabaseTable)
    unbound = op.replace({t: ops.UnboundTable(t.name, t.schema, t.namespace) for t in bound}) if bound else op
    # Python takes -0.0 for 0.0 (and so do the expressions' equality and hash): the floats are keyed as written
    floats = tuple(repr(x.value) for x in op.find(ops.Literal) if isinstance(x.value, float))
    key = (con.name, unbound, floats)
    with _COMPILED_LOCK:
        sql = _COMPILED.get(key)
        if sql is not None:
            _COMPILED.move_to_end(key)
            return sql
    sql = str(con.compile(expr))
    with _COMPILED_LOCK:
        _COMPILED[key] = sql
        while len(_COMPILED) > COMPILED_KEPT:
            _COMPILED.popitem(last=False)
    return sql


def to_arrow(con: Any, expr: Any) -> pa.Table:
    """An expression's rows as an Arrow table, its SQL compiled once per shape (`compiled`); as Ibis's own
    `to_pyarrow` when it reads in-memory tables (which Ibis hands the engine as it runs the query)."""
    if expr.op().find(ops.InMemoryTable):
        return expr.to_pyarrow()
    table = con.raw_sql(compiled(con, expr)).to_arrow_table()
    return table.cast(expr.schema().to_pyarrow())


def copy_to_parquet(con: Any, expr: Any, target: str, partition_by: str | None = None) -> int:
    """Write an expression's rows as Parquet (zstd); returns how many rows were written."""
    options = "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880"
    if partition_by is not None:
        options += f", PARTITION_BY ({sge.to_identifier(partition_by, quoted=True).sql('duckdb')}), OVERWRITE true"
    statement = f"COPY ({compiled(con, expr)}) TO {sql_string(target)} ({options})"
    result = con.raw_sql(statement).fetchone()
    return int(result[0]) if result else 0


def temporary_table(con: Any, name: str, expr: Any) -> Any:
    """An expression's rows kept in a temporary table of the connection, made in one statement; the table.

    Ibis's `create_table` creates the table, then inserts into it (two statements, and a deep copy of the
    expression tree), which costs a noticeable fraction of a second per call on small work."""
    target = sge.to_identifier(name, quoted=True).sql("duckdb")
    con.raw_sql(f"CREATE OR REPLACE TEMPORARY TABLE {target} AS {con.compile(expr)}")
    return con.table(name)


def values_table(con: Any, name: str, columns: dict[str, tuple[str, list[Any]]]) -> Any:
    """Columns of values (each `name: (engine type, values)`, all as long) as a temporary table of the
    connection, replacing one of that name; the table. The values go as parameters, never into the SQL."""
    target = sge.to_identifier(name, quoted=True).sql("duckdb")
    chosen = ", ".join(f"unnest(?::{kind}[]) AS {sge.to_identifier(column, quoted=True).sql('duckdb')}"
                       for column, (kind, _values) in columns.items())  # fmt: skip
    con.con.execute(f"CREATE OR REPLACE TEMPORARY TABLE {target} AS SELECT {chosen}",
                    [values for _kind, values in columns.values()])  # fmt: skip
    return con.table(name)


@ibis.udf.scalar.builtin(name="list_has_any", signature=((dt.Array(dt.string), dt.Array(dt.string)), dt.boolean))
def has_any(values: Any, wanted: Any) -> Any:  # type: ignore[empty-body]
    """Whether two lists of text share a value (the engine's own function)."""


def drop_temporary_table(con: Any, name: str) -> None:
    """Drop a temporary table if it exists (Ibis 12 names a DuckDB temporary table's schema wrongly)."""
    con.raw_sql(f"DROP TABLE IF EXISTS {sge.to_identifier(name, quoted=True).sql('duckdb')}")


_UNITS = {"bytes": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4, "PB": 1000**5,
          "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5}  # fmt: skip


def size_bytes(text: str) -> int:
    """A size as the settings give it (`4GB`, `512MiB`), in bytes."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*", text)
    if found is None:
        raise ValueError(f"not a size: {text!r}")
    units = {k.lower(): v for k, v in _UNITS.items()} | {"b": 1}
    return int(float(found[1]) * units[found[2].lower()])


def memory_limit_bytes(con: Any) -> int:
    """The memory limit of a connection in bytes, as the engine itself reads the setting.

    Asked of the engine rather than parsed from the settings, so that a job sizes its work by the
    very limit the engine enforces (DuckDB answers in its own words: '3.7 GiB')."""
    text = str(con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0])
    amount, unit = text.split()
    return int(float(amount) * _UNITS[unit])


def _readable(table: pa.Table) -> pa.Table:
    """The table, with its record batches that start at an offset (cut by a slice) copied.

    DuckDB 1.5 misreads a struct within a struct of such a batch: the offset is not passed down to the
    inner struct's fields, and values of other rows come back. A slice of a table has at most its first
    batch cut at the start, so little is copied."""
    batches = [batch.take(pa.array(np.arange(batch.num_rows))) if any(column.offset for column in batch.columns)
               else batch for batch in table.to_batches()]  # fmt: skip
    return pa.Table.from_batches(batches, schema=table.schema)


@contextmanager
def arrow_tables(con: Any, tables: dict[str, pa.Table]) -> Iterator[dict[str, Any]]:
    """Arrow tables as engine tables, without a copy (but see `_readable`), for the length of the block.

    Unlike `ibis.memtable`, whose data the connection keeps until it closes, the tables are let go
    at the end of the block: a job that hands the engine one part of a large file after another
    holds one part at a time."""
    for name, table in tables.items():
        con.con.register(name, _readable(table))
    try:
        yield {name: con.table(name) for name in tables}
    finally:
        for name in tables:
            con.con.unregister(name)
