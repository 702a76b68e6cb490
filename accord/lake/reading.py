"""Reading a dataset's committed rows through the engine: the table itself, a preview, statistics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
from sqlalchemy import select

from accord.catalog import BatchRecord, resolve_sandbox
from accord.engine import field_at
from accord.errors import InvalidInputError
from accord.lake.datasets import find_dataset
from accord.lake.values import jsonable
from accord.schema import FieldType, ResolvedSchema, field_dtype, resolve_schema_by_id, walk

if TYPE_CHECKING:
    from accord.workspace import Workspace


def open_dataset(
    workspace: Workspace, con: Any, sandbox: str, name: str, provenance: bool = False,
    batches: set[str] | None = None, table_name: str | None = None,
) -> tuple[Any, ResolvedSchema]:  # fmt: skip
    """The committed rows of a dataset as an Ibis table with the schema's current columns.

    With `provenance`, two more columns say where each row comes from: `_acc_batch` (its batch id)
    and `_acc_record` (`batch/file/row`, stable while the batch exists). With `batches`, only the rows
    of these batches (only their files are read). With `table_name`, the files are read under that name
    in the connection (else under a new one), so that like reads compile alike (`engine.compiled`)."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        record = find_dataset(session, sandbox_id, name)
        schema = resolve_schema_by_id(session, record.schema_id)
        batch_ids = list(
            session.scalars(
                select(BatchRecord.id)
                .where(BatchRecord.dataset_id == record.id, BatchRecord.status == "success")
                .order_by(BatchRecord.created_at)
            )
        )
    if batches is not None:
        batch_ids = [b for b in batch_ids if b in batches]
    files = workspace.lake.batch_files(sandbox_id, record.id, batch_ids)
    dtypes = {k: field_dtype(v) for k, v in schema.fields.items()}
    extra = {"_acc_batch": "string", "_acc_record": "string"} if provenance else {}
    if not files:
        # Cast back to the schema's types: Arrow makes map keys non-nullable, and a dataset with no
        # batch yet must union with the others (graph builds read every profile-enabled dataset).
        empty = ibis.memtable(ibis.schema({**dtypes, **extra}).to_pyarrow().empty_table())
        return empty.select(**{k: empty[k].cast(t) for k, t in {**dtypes, **extra}.items()}), schema
    table = con.read_parquet(files, table_name=table_name, union_by_name=True, filename=provenance,
                             file_row_number=provenance)  # fmt: skip
    columns = {
        k: (table[k].cast(dtype) if k in table.columns else ibis.null().cast(dtype)) for k, dtype in dtypes.items()
    }
    if provenance:
        batch = table.filename.re_extract(r"batch=([0-9a-f]+)", 1)
        file = table.filename.re_extract(r"([^/]+)\.parquet$", 1)
        columns["_acc_batch"] = batch
        columns["_acc_record"] = batch.concat("/", file, "/", table.file_row_number.cast("string"))
    return table.select(**columns), schema


def preview(workspace: Workspace, sandbox: str, name: str, limit: int = 100) -> list[dict[str, Any]]:
    from accord.engine import connect

    if not 1 <= limit <= 10_000:
        raise InvalidInputError("preview limit must be between 1 and 10,000", code="DATASET-0401-400")
    con = connect(workspace.settings)
    try:
        table, _ = open_dataset(workspace, con, sandbox, name)
        rows = table.limit(limit).to_pyarrow().to_pylist()
    finally:
        con.disconnect()
    return [_drop_nulls(jsonable(r)) for r in rows]


def _drop_nulls(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, dict):
            value = _drop_nulls(value)
            if not value:
                continue
        if value is not None:
            out[key] = value
    return out


def statistics(workspace: Workspace, sandbox: str, name: str) -> dict[str, Any]:
    """Row count and, per scalar field: values present, distinct values (approximate), min, max."""
    from accord.engine import connect

    con = connect(workspace.settings)
    try:
        table, schema = open_dataset(workspace, con, sandbox, name)
        fields = [(p, s) for p, s in walk(schema.fields) if s.type not in (FieldType.object,)]
        metrics: dict[str, Any] = {"_rows": table.count()}

        for index, (path, spec) in enumerate(fields):
            expr = field_at(table, path)
            metrics[f"n{index}"] = expr.count()
            if spec.type not in (FieldType.array, FieldType.map, FieldType.boolean):
                metrics[f"d{index}"] = expr.nunique()
                metrics[f"lo{index}"] = expr.min()
                metrics[f"hi{index}"] = expr.max()
        result = table.aggregate(**metrics).to_pyarrow().to_pylist()[0]
    finally:
        con.disconnect()
    stats = {}
    for index, (path, spec) in enumerate(fields):
        entry = {"type": spec.type.value, "count": result[f"n{index}"]}
        if f"d{index}" in result:
            entry |= {
                "distinct": result[f"d{index}"],
                "min": jsonable(result[f"lo{index}"]),
                "max": jsonable(result[f"hi{index}"]),
            }
        stats[path] = entry
    return {"dataset": name, "rowCount": result["_rows"], "fields": stats}
