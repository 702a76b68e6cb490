"""An activation's built files read back as the profiles a streaming destination takes, their JSON made by the engine.

The engine writes each profile's row as JSON text (`ProfileRow`'s shape, keys in sorted order) with how
many identity values it carries, and Python holds that one text per profile: no dict is made unless a
destination asks for one (a template that reads single fields), and a body that holds the profiles
whole only joins their texts. Values are as the engine writes JSON: dates and times as text
(`2024-05-01`, `2024-05-01 09:30:00`, and in UTC with `+00` when they carry a time zone), decimals
as numbers, nested structs as objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot.expressions as sge

from accord.destinations.export import STATUS, AudienceExport
from accord.destinations.flows import OPERATION, FlowDefinition
from accord.destinations.outgoing import OutgoingProfiles
from accord.engine import raw_connection

BATCH_ROWS = 10_000
"""Rows read back from a built file at a time (a streaming run holds one such batch, not the audience)."""


def outgoing_profiles(exports: list[AudienceExport], flow: FlowDefinition) -> Iterator[OutgoingProfiles]:
    """The rows of the built files as a streaming destination takes them, in file order, in lists of at most
    `BATCH_ROWS` (columns, not a profile, at a time: a generator step or an object per profile would cost
    more than the rest)."""
    con = raw_connection(threads=1)  # one thread: the lanes send on the other core meanwhile
    try:
        con.execute("SET TimeZone = 'UTC'")  # times with a zone are written in UTC, whatever the machine's
        for export in exports:
            for file in export.files:
                query = profiles_query(str(file.path), flow, export.segment_id, export.segment_name)
                for batch in _read_ahead(con.execute(query).to_arrow_reader(BATCH_ROWS)):
                    ids, texts, counts = (batch.column(i).to_pylist() for i in range(3))
                    yield OutgoingProfiles.of_texts(ids, texts, counts)
    finally:
        con.close()


def _read_ahead(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    """The reader's batches, the engine making the next one in a thread of its own while the caller
    takes this one: the engine works without the interpreter's lock, so its work overlaps with the
    sending. Only the engine's work goes to that thread: Python work there would fight the event
    loop for the lock and slow the sending down more than it gains."""
    with ThreadPoolExecutor(1, thread_name_prefix="profiles") as engine:
        ahead = engine.submit(_next_batch, reader)
        while (batch := ahead.result()) is not None:
            ahead = engine.submit(_next_batch, reader)
            yield batch


def _next_batch(reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None


def profiles_query(path: str, flow: FlowDefinition, segment_id: str, segment_name: str) -> str:
    """The query that reads a built file as (profile id, its row as JSON text, identity values it carries).

    Built as an expression tree: target names, namespaces and the segment's name are quoted by the builder.
    Structs, not maps (three times slower to build): the segment's id is a field name, and the identities
    are the pieces of an object the engine joins, a piece for each namespace that has a value."""
    identities: dict[str, list[str]] = {}
    for entry in flow.mapping:
        if entry.namespace:
            identities.setdefault(entry.namespace, []).append(entry.target)
    attributes = sorted(m.target for m in flow.mapping if not m.namespace)
    # NaN and infinities have no JSON form (the engine would write bare `NaN`): they go out as null
    floats = {f.name for f in pq.read_schema(path) if pa.types.is_floating(f.type)}
    profile_id = sge.cast(_column("graph"), "VARCHAR")
    # a namespace mapped twice is the value of its last target that has one, as a dict built in order would be
    values = {ns: sge.cast(sge.Coalesce(this=_column(targets[-1]), expressions=[_column(t) for t in targets[-2::-1]])
                           if len(targets) > 1 else _column(targets[0]), "VARCHAR")
              for ns, targets in sorted(identities.items())}  # fmt: skip
    pieces = [
        sge.Case(ifs=[sge.If(this=sge.Is(this=value, expression=sge.Null()), true=sge.Null())],
                 default=_joined(sge.Literal.string(json.dumps(ns) + ":["), sge.func("to_json", value),
                                 sge.Literal.string("]")))
        for ns, value in values.items()
    ]  # fmt: skip
    # concat_ws skips the pieces that are null (written as a plain call: the builder would make it null-propagating)
    joined = sge.Anonymous(this="concat_ws", expressions=[sge.Literal.string(","), *pieces])
    carried = _joined(sge.Literal.string("{"), joined, sge.Literal.string("}")) if pieces else sge.Literal.string("{}")
    fields: dict[str, sge.Expr] = {
        "attributes": _struct({t: _finite(t) if t in floats else _column(t) for t in attributes})
        if attributes
        else sge.cast(
            sge.Literal.string("{}"), "JSON"),
        "identities": sge.cast(carried, "JSON"),
        "profileId": profile_id,
        "segments": _struct({segment_id: _struct({"name": sge.Literal.string(segment_name),
                                                  "status": _column(STATUS)})}),
    }  # fmt: skip
    if flow.sync_mode is not None:  # what to do with the record its dedup key names, in the keys' sorted place
        fields["operation"] = _column(OPERATION)
    row = _struct(dict(sorted(fields.items())))
    counted: sge.Expr = sge.Literal.number(0)
    for value in values.values():
        counted = sge.Add(this=counted, expression=sge.Case(
            ifs=[sge.If(this=sge.Is(this=value, expression=sge.Null()), true=sge.Literal.number(0))],
            default=sge.Literal.number(1)))  # fmt: skip
    query = sge.select(
        sge.alias_(profile_id, "profile_id"), sge.alias_(sge.func("to_json", row), "text"),
        sge.alias_(counted, "identifiers"),
    ).from_(sge.func("read_parquet", sge.Literal.string(path)))  # fmt: skip
    return query.sql("duckdb")


def _column(name: str) -> sge.Column:
    return sge.column(sge.to_identifier(name, quoted=True))


def _finite(name: str) -> sge.Expr:
    return sge.Case(ifs=[sge.If(this=sge.func("isfinite", _column(name)), true=_column(name))])


def _struct(fields: dict[str, sge.Expr]) -> sge.Struct:
    return sge.Struct(expressions=[sge.PropertyEQ(this=sge.to_identifier(k, quoted=True), expression=v)
                                   for k, v in fields.items()])  # fmt: skip


def _joined(*parts: sge.Expr) -> sge.Expr:
    return sge.DPipe(this=sge.DPipe(this=parts[0], expression=parts[1]), expression=parts[2])
