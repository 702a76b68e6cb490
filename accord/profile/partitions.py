"""Partitions of graph ids: how the profile store build stays within the engine's memory limit.

A step whose working set grows with its input (a join's hash table, a sort, the merge) runs over one
range of graph ids at a time: ranges holding about as many people each, as many as it takes for each
range's rows to fit in a share of the memory limit. Written one after the other, the sorted ranges
make one file sorted by graph; a person's rows all lie in one range, so the result does not depend
on where the cuts fall, nor on how many there are (one, when everything fits). Rows are streamed out
of the engine in batches small enough for the same share."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from accord.engine import memory_limit_bytes

SORT_MEMORY_PER_INPUT = 2
"""Engine memory a join-and-sort step may need per byte of the rows it writes (Arrow size). Measured on
the profile benchmark: the sort spills, the join's hash table does not shrink, and 230 MB of web
profiles (1,000,000 records joined to their graphs, then sorted) failed under 200 MB and passed under
400 MB."""
MERGE_MEMORY_PER_INPUT = 4
"""Engine memory a merge may need per byte of its fragments (Arrow size). Measured: merging 627 MB of
fragments (1,000,000 people) peaked at 1.46 GB, 2.3 times its input; the rest is room for the
engine's buffers per thread."""
BATCHES_PER_PARTITION = 16
"""A batch streamed out of the engine takes at most this share of a partition's memory."""
MAX_BATCH_ROWS = 256_000
MIN_BATCH_ROWS = 1_024
SAMPLE_ROWS = 1_000
"""Rows read to measure a table's width: few, for rows may be wide."""
ROW_GROUP = 122_880
"""Rows per Parquet row group at most, as `accord.engine.copy_to_parquet` writes them."""


@dataclass(frozen=True)
class Plan:
    """How a step runs: the graph ids that cut it into partitions, and how many rows a batch holds."""

    cuts: np.ndarray
    batch_rows: int

    @property
    def partitions(self) -> int:
        return len(self.cuts) + 1


def plan(con: Any, people: np.ndarray, rows: int, row_bytes: float, memory_per_input: int) -> Plan:
    """The partitions and batches for `rows` rows of `row_bytes` bytes each (Arrow size) to fit in the
    connection's memory limit, a step needing `memory_per_input` bytes of memory per byte of its rows."""
    budget = max(memory_limit_bytes(con) // memory_per_input, 1)
    count = max(math.ceil(rows * row_bytes / budget), 1)
    batch_rows = int(budget / BATCHES_PER_PARTITION / max(row_bytes, 1.0))
    return Plan(partition_cuts(people, count), min(max(batch_rows, MIN_BATCH_ROWS), MAX_BATCH_ROWS))


def measure(con: Any, table: ir.Table) -> tuple[int, float]:
    """How many rows a table has, and their Arrow size per row, estimated from the first rows (both are
    cheap on Parquet: the count comes from the files' footers)."""
    sample = con.to_pyarrow(table.limit(SAMPLE_ROWS))
    if sample.num_rows == 0:
        return 0, 0.0
    return int(con.execute(table.count())), sample.nbytes / sample.num_rows


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array, in order (without the sort `np.unique` would do again)."""
    if len(values) == 0:
        return values
    return values[np.flatnonzero(np.r_[True, values[1:] != values[:-1]])]


def partition_cuts(people: np.ndarray, count: int) -> np.ndarray:
    """The graph ids that cut `people` (sorted distinct graph ids) into `count` partitions of about as many
    people each (fewer when there are fewer people). Partition i holds the ids from cut i - 1, included,
    to cut i, excluded; the first and the last are open-ended."""
    count = min(count, len(people))
    if count <= 1:
        return people[:0]
    return people[(np.arange(1, count) * len(people)) // count]


def bounds(graphs: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Where each partition starts and ends in a sorted array of graph ids (one more bound than partitions)."""
    return np.r_[0, np.searchsorted(graphs, cuts), len(graphs)]


def sorted_parts(rows: ir.Table, order: list[Any], cuts: np.ndarray) -> list[ir.Table]:
    """The rows of each partition, sorted by `order` (which starts with the graph)."""
    limits: list[int | None] = [None, *(int(cut) for cut in cuts), None]
    parts = []
    for low, high in itertools.pairwise(limits):
        part = rows if low is None else rows.filter(rows.graph >= low)
        part = part if high is None else part.filter(part.graph < high)
        parts.append(part.order_by(order))
    return parts


def write_arrow(con: Any, parts: Iterable[ir.Table], path: Path, batch_rows: int = MAX_BATCH_ROWS) -> int:
    """Stream the rows of each expression in turn into one Arrow IPC file (uncompressed, so that it can be
    memory-mapped); returns how many rows were written."""
    rows, writer = 0, None
    with pa.OSFile(str(path), "wb") as sink:
        try:
            for part in parts:
                reader = con.to_pyarrow_batches(part, chunk_size=batch_rows)
                writer = writer or pa.ipc.new_file(sink, reader.schema)
                for batch in reader:
                    writer.write_batch(batch)
                    rows += batch.num_rows
        finally:
            if writer is not None:
                writer.close()
    return rows


def write_parquet(con: Any, parts: Iterable[ir.Table], path: Path, batch_rows: int = ROW_GROUP) -> int:
    """Stream the rows of each expression in turn into one Parquet file (zstd); returns how many rows.

    The expressions are taken one at a time: a generator can build each when its turn comes."""
    rows, writer = 0, None
    try:
        for part in parts:
            reader = con.to_pyarrow_batches(part, chunk_size=min(batch_rows, ROW_GROUP))
            writer = writer or pq.ParquetWriter(str(path), reader.schema, compression="zstd")
            for batch in reader:
                writer.write_batch(batch, row_group_size=ROW_GROUP)
                rows += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows
