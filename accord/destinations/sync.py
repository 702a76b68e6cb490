"""Record-style sync modes (the reverse-ETL vocabulary): insert, update, upsert and mirror, keyed by the dedup key.

A flow with a `syncMode` treats each row as a record of the destination named by the flow's dedup key
(one identity, or one or two attributes), not as a profile. Each run compares the audience's records
with what the destination last acknowledged (a snapshot per audience: each record's key, a hash of its
row, the profile it came from and the key's values) and sends, by mode:

- `insert`: records whose key the destination does not have;
- `update`: records it has whose row changed (the first run, when nothing is known, sends every record
  as an update: the destination applies it to those it holds);
- `upsert`: both;
- `mirror`: both, and a `delete` of every record it has that is no longer in the audience (the profile
  left, refused the channel, lost its key, or its key changed: the old key is deleted, the new inserted).

Each row says what to do with it (`operation`: insert, update, delete). The snapshot is then what the
destination holds as far as Accord knows: the previous one with the acknowledged operations applied.
Records whose profile ended in a dead letter keep their previous state, so the next run sends exactly
them again (with what changed meanwhile). All of it is engine expressions: no loop over the audience.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from accord.destinations.flows import OPERATION, FlowDefinition
from accord.destinations.spec import profile_graphs

if TYPE_CHECKING:
    import ibis.expr.types as ir

KEY = "_key"
"""A record's key as one text (the dedup key's values, joined), what records are matched by."""
SAMPLE_KEYS = 5
"""Keys shown per operation by a dry run."""
_JOIN = "\x1f"


def record_key(rows: ir.Table, flow: FlowDefinition) -> ir.Value:
    """The dedup key's values as one text (rows without a key value are left out before: see `mandatory_targets`)."""
    return ibis.literal(_JOIN).join([rows[t].cast("string") for t in flow.dedup_key])


def mandatory_targets(flow: FlowDefinition) -> list[str]:
    """Targets a row must have: the flow's mandatory ones, and in a sync mode the dedup key's (a record without
    a key cannot be matched at the destination)."""
    extra = [t for t in flow.dedup_key if t not in flow.mandatory] if flow.sync_mode else []
    return [*flow.mandatory, *extra]


def snapshot_columns(flow: FlowDefinition) -> list[str]:
    return [KEY, "_hash", "graph", *flow.dedup_key]


def sync_changes(
    current: ir.Table, previous: ir.Table | None, flow: FlowDefinition, status: str
) -> tuple[ir.Table, ir.Table]:
    """What the flow's mode sends (rows with `_change` and `operation`), and the snapshot it compared with (empty
    before the first run; `records_held` applies the operations to it).

    `current` are the audience's records as they should be at the destination (after every exclusion), with
    `_key` and `_hash`; `previous` the last acknowledged snapshot (None before the first run); `status` the
    column of the segment status (`exited` in deletes)."""
    mode = flow.sync_mode
    columns = snapshot_columns(flow)
    known = previous is not None
    if previous is None:
        previous = current.select(*columns).filter(ibis.literal(False))
    else:  # the same types as today's rows, whatever the earlier run wrote
        previous = previous.select(**{c: previous[c].cast(current[c].type()) for c in columns})
    fresh = current.anti_join(previous, [current[KEY] == previous[KEY], current._hash == previous._hash])
    is_known = fresh[KEY].isin(previous[KEY])
    if mode == "update" and not known:
        operation: Any = ibis.literal("update")
    else:
        operation = ibis.cases((is_known, "update"), else_="insert")
    sent = fresh.mutate(**{OPERATION: operation})
    if mode == "insert":
        sent = sent.filter(sent[OPERATION] == "insert")
    elif mode == "update":
        sent = sent.filter(sent[OPERATION] == "update")
    elif mode == "mirror":
        sent = sent.union(_deletes(current, previous, flow, status))
    return sent.mutate(_change=sent[OPERATION]), previous


def records_held(previous: ir.Table, sent: ir.Table, flow: FlowDefinition) -> ir.Table:
    """The records the destination holds once it has acknowledged every operation sent: the previous snapshot with
    the sent records replaced (insert, update) or removed (delete)."""
    columns = snapshot_columns(flow)
    kept = previous.anti_join(sent, previous[KEY] == sent[KEY]).select(*columns)
    return kept.union(sent.filter(sent[OPERATION] != "delete").select(*columns))


def _deletes(current: ir.Table, previous: ir.Table, flow: FlowDefinition, status: str) -> ir.Table:
    """A `delete` row for every record the destination has that the audience no longer holds: its key's values
    (from the snapshot), nothing else, and the status `exited` (the record left)."""
    gone = previous.anti_join(current, previous[KEY] == current[KEY])
    values: dict[str, Any] = {}
    for name in current.columns:
        kind = current[name].type()
        if name in (KEY, "graph", *flow.dedup_key):
            values[name] = gone[name].cast(kind)
        elif name == status:
            values[name] = ibis.literal("exited")
        elif name == "_exited":
            values[name] = ibis.literal(True)
        else:
            values[name] = ibis.null().cast(kind)
    return gone.select(**values).mutate(**{OPERATION: ibis.literal("delete")})


def key_samples(con: Any, sent: ir.Table, flow: FlowDefinition) -> dict[str, list[dict[str, Any]]]:
    """A few keys of each operation (the first in key order), as `{target: value}`: what a dry run shows."""
    ranked = sent.mutate(_n=ibis.row_number().over(group_by=sent[OPERATION], order_by=sent[KEY]))
    picked = ranked.filter(ranked._n < SAMPLE_KEYS).order_by([OPERATION, KEY])
    rows = con.to_pyarrow(picked.select(OPERATION, *[picked[t].cast("string") for t in flow.dedup_key])).to_pylist()
    samples: dict[str, list[dict[str, Any]]] = {}
    for row in rows:  # at most SAMPLE_KEYS rows per operation
        samples.setdefault(row[OPERATION], []).append({t: row[t] for t in flow.dedup_key})
    return samples


def acknowledged_records(
    snapshot: pa.Table | None, previous: pa.Table | None, sent: pa.Table | None, failed_profiles: set[str]
) -> pa.Table | None:
    """What the destination holds after a run: `snapshot` (everything acknowledged), except that records sent for
    profiles that failed keep their `previous` state, so that the next run sends them again."""
    if snapshot is None or sent is None or not failed_profiles:
        return snapshot
    failed_keys = pc.unique(sent.filter(pc.is_in(sent["graph"], value_set=profile_graphs(failed_profiles)))[KEY])
    kept = snapshot.filter(pc.invert(pc.is_in(snapshot[KEY], value_set=failed_keys)))
    if previous is None:
        return kept
    restored = previous.filter(pc.is_in(previous[KEY], value_set=failed_keys)).select(kept.column_names)
    return pa.concat_tables([kept, restored.cast(kept.schema)])
