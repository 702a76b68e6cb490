"""Statistics from what the lake already stores: the footers of a dataset's Parquet files, which hold each row
group's row count and, per column, its values present, minimum and maximum. No row is read, so the answer comes
as fast at ten million rows as at ten; distinct counts need every row (`reading.statistics`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from accord.catalog import BatchRecord, resolve_sandbox
from accord.lake.datasets import find_dataset
from accord.lake.values import jsonable
from accord.schema import FieldType, resolve_schema_by_id, walk

if TYPE_CHECKING:
    from accord.workspace import Workspace

CUT_AT = 256
"""The engine writes at most this many bytes of a text's minimum and maximum (the maximum rounded up): one that
long is not a value of the column, and is not shown as one."""

WITHOUT_RANGE = frozenset({FieldType.boolean})
"""Scalar types whose minimum and maximum say nothing worth showing (as `statistics` leaves them out)."""


def stored_statistics(workspace: Workspace, sandbox: str, name: str) -> dict[str, Any]:
    """Row count and, per scalar field: values present, min and max, read from the Parquet footers of the
    dataset's committed batches. `statistics`' shape, with `distinct` None; an array or a map has a `count` of
    None (its footer counts items, not rows), and a min or max the footers do not hold exactly is None."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        record = find_dataset(session, sandbox_id, name)
        schema = resolve_schema_by_id(session, record.schema_id)
        batch_ids = list(session.scalars(select(BatchRecord.id).where(
            BatchRecord.dataset_id == record.id, BatchRecord.status == "success")))  # fmt: skip
    fields = [(path, spec) for path, spec in walk(schema.fields) if spec.type != FieldType.object]
    scalar = {path: spec.type for path, spec in fields if spec.type not in (FieldType.array, FieldType.map)}
    tally = _Tally(scalar)
    for file in workspace.lake.batch_files(sandbox_id, record.id, batch_ids):
        tally.add(file)
    stats: dict[str, Any] = {}
    for path, spec in fields:
        entry: dict[str, Any] = {"type": spec.type.value, "count": tally.count.get(path)}
        if path in scalar and spec.type not in WITHOUT_RANGE:
            entry |= {"distinct": None, "min": jsonable(tally.low.get(path)), "max": jsonable(tally.high.get(path))}
        stats[path] = entry
    return {"dataset": name, "rowCount": tally.rows, "fields": stats}


class _Tally:
    """The footers of a dataset's files summed up, column by column."""

    def __init__(self, scalar: Mapping[str, FieldType]) -> None:
        self.scalar = scalar
        self.rows = 0
        self.count: dict[str, int | None] = dict.fromkeys(scalar, 0)
        self.low: dict[str, Any] = {}
        self.high: dict[str, Any] = {}
        self.inexact: set[str] = set()

    def add(self, file: str) -> None:
        import pyarrow.parquet as pq  # here, not at the top: catalog-only commands stay fast

        footer = pq.read_metadata(file)
        self.rows += footer.num_rows
        for index in range(footer.num_row_groups):
            group = footer.row_group(index)
            for column_index in range(group.num_columns):
                column = group.column(column_index)
                if column.path_in_schema in self.scalar:
                    self._column(column.path_in_schema, column.statistics)

    def _column(self, path: str, stats: Any) -> None:
        if stats is None or not stats.has_null_count:
            self.count[path] = None
            self.inexact.add(path)
            return
        if self.count[path] is not None:
            self.count[path] = (self.count[path] or 0) + stats.num_values
        if stats.num_values == 0 or path in self.inexact:
            return
        if not stats.has_min_max or any(isinstance(v, bytes | str) and len(v) >= CUT_AT
                                        for v in (stats.min_raw, stats.max_raw)):  # fmt: skip
            self.inexact.add(path)
            self.low.pop(path, None)
            self.high.pop(path, None)
            return
        low, high = stats.min, stats.max
        self.low[path] = low if path not in self.low else min(self.low[path], low)
        self.high[path] = high if path not in self.high else max(self.high[path], high)
