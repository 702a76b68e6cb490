"""The identities of each record, and the one identity whose graph a record feeds (its profile identity).

A record may carry several identities, and the linking rules (a unique namespace, a user's removal,
the graph size limit) may leave them in different graphs. The record still feeds exactly one
profile: the graph of its *profile identity*, the first of its identities in this order:
1. the value of the schema's primary identity field (`"primary": true` on an identity descriptor);
2. an identityMap entry marked `"primary": true`;
3. any other identity;
and within each, the namespace of lowest rank (`rules_config.namespace_ranks`: the linking rules'
priority list), then the namespace symbol, then the id (code points). Only identities of namespaces
that build graphs count. The full build (`graph.record_graphs`), the profile store built on it, and
lookups that read the lake (`profile.lookup`) all choose with `profile_identities`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from accord.engine import field_at
from accord.identity.namespaces import SEPARATOR, Namespace
from accord.identity.rules import normalize_column

SCHEMA_PRIMARY, MAP_PRIMARY, OTHER = 0, 1, 2
"""How a record's identity was marked (the first criterion of the profile identity)."""


def sole_identity(schema: Any, graph_namespaces: list[str]) -> Any:
    """The identity field of a schema whose records have at most one identity (one identity field, no
    identityMap), or None. Such records link nothing, and their graph is their identity's graph."""
    linking = [d for d in schema.identities if d.namespace in graph_namespaces]
    return linking[0] if len(linking) == 1 and "identityMap" not in schema.fields else None


def record_identities(
    table: ir.Table, schema: Any, dataset_id: str, known: Mapping[str, Namespace], seen: ir.Value | None = None
) -> ir.Table | None:
    """(record, dataset, batch, seen, single, namespace, id, primary) for every identity of every row
    of one dataset (read with provenance), or None when its schema has no identity that builds graphs.

    Identity fields were normalised at ingestion; identityMap ids are kept as sent, so they are
    normalised here by their namespace's rule: an identity is the same whichever field carried it."""
    graph_namespaces = sorted(s for s, n in known.items() if n.builds_graph)
    linking = [d for d in schema.identities if d.namespace in graph_namespaces]
    single = ibis.literal(sole_identity(schema, graph_namespaces) is not None)
    when = ibis.null().cast("timestamp('UTC')") if seen is None else seen.cast("timestamp('UTC')")
    base = {"record": table._acc_record, "dataset": ibis.literal(dataset_id), "batch": table._acc_batch,
            "seen": when, "single": single}  # fmt: skip
    parts: list[ir.Table] = []
    for descriptor in linking:
        marked = ibis.literal(SCHEMA_PRIMARY if descriptor.primary else OTHER).cast("int8")
        # cast: every part of every dataset has the same nullable types (a dataset without batches is
        # an Arrow table whose map keys cannot be null), so that they unite
        parts.append(table.select(**base, namespace=ibis.literal(descriptor.namespace).cast("string"),
                                  id=field_at(table, descriptor.path), primary=marked))  # fmt: skip
    if "identityMap" in schema.fields:
        m: Any = table.identityMap
        entries = table.select(**base, entry=m.keys().zip(m.values())).unnest("entry")
        ids = entries.select(*base, namespace=entries.entry.f1, ids=entries.entry.f2).unnest("ids")
        ids = ids.filter(ids.namespace.isin(graph_namespaces))
        flagged = ids.ids.primary.fill_null(False) if "primary" in ids.ids.type().names else ibis.literal(False)
        marked = ibis.ifelse(flagged, MAP_PRIMARY, OTHER).cast("int8")
        parts.append(ids.select(*base, namespace=ids.namespace.cast("string"),
                                id=normalize_column(ids.namespace, ids.ids.id, known), primary=marked))  # fmt: skip
    if not parts:
        return None
    rows = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    return rows.filter(rows.id.notnull() & (rows.id.length() > 0))


def profile_identities(rows: ir.Table, ranks: Mapping[str, int]) -> ir.Table:
    """(record, dataset, node) of each record's profile identity: the one identity whose graph it feeds.

    `node` is the identity's name (`namespace` + U+001F + `id`); `ranks` the namespaces' ranks."""
    rank = ibis.cases(*((rows.namespace == symbol, value) for symbol, value in sorted(ranks.items())),
                      else_=max(ranks.values(), default=0) + 1) if ranks else ibis.literal(0)  # fmt: skip
    order = ibis.struct({"primary": rows.primary, "rank": rank, "namespace": rows.namespace, "id": rows.id})
    node = rows.namespace.concat(SEPARATOR, rows.id)
    return rows.group_by(["record", "dataset"]).aggregate(node=node.argmin(order))


def choose_profile_identity(marked: list[tuple[int, str, str]], ranks: Mapping[str, int]) -> tuple[str, str]:
    """The profile identity among a record's (mark, namespace, id): the order of `profile_identities`."""
    if len(marked) == 1:
        return marked[0][1], marked[0][2]
    after = max(ranks.values(), default=0) + 1
    _mark, namespace, value = min(marked, key=lambda m: (m[0], ranks.get(m[1], after), m[1], m[2]))
    return namespace, value
