"""The compute backend: Ibis over DuckDB, embedded in the calling process.

DuckDB locks a database file to one process, so Accord uses in-memory DuckDB connections over
Parquet files: any number of processes can read the lake, and each job owns its connection. Each
connection spills into a folder of its own: DuckDB names its spill files alike in every process,
so two connections spilling into one folder overwrite each other's blocks."""

from __future__ import annotations

from typing import Any

import duckdb
import ibis
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


def copy_to_parquet(con: Any, expr: Any, target: str, partition_by: str | None = None) -> int:
    """Write an expression's rows as Parquet (zstd); returns how many rows were written."""
    options = "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880"
    if partition_by is not None:
        options += f", PARTITION_BY ({sge.to_identifier(partition_by, quoted=True).sql('duckdb')}), OVERWRITE true"
    statement = f"COPY ({con.compile(expr)}) TO {sql_string(target)} ({options})"
    result = con.raw_sql(statement).fetchone()
    return int(result[0]) if result else 0
