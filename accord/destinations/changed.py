"""An incremental export that reads only the profiles that changed: the profile store's fingerprints.

Each build of the profile store gives every profile a fingerprint (a hash of its merged row and its
identities, `accord.profile.store`). A snapshot keeps, with each profile's row hash, its fingerprint
mixed with a digest of what the flow sends (mapping, mandatory fields, consent channel): a member
whose fingerprint is the one the snapshot holds, under the same flow, would go out exactly as it went
before. An incremental run then builds rows for the others alone (those new to the audience or changed
since) and for those that left; the row hash still decides what goes out as changed. A flow with a
dedup key compares the whole audience (a changed profile's key may collide with any other's), and so
do flows with a sync mode, and snapshots made before fingerprints were kept.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from accord.destinations.flows import FlowDefinition
from accord.destinations.spec import DestinationSpec
from accord.engine import arrow_tables, drop_temporary_table, temporary_table

FINGERPRINT = "_fingerprint"
"""The snapshot's column: the profile's fingerprint mixed with the flow's digest."""


def read_fingerprints(path: Path | None) -> pa.Table | None:
    """The store's fingerprints (`graph`, `fingerprint`), memory-mapped; None for a store built before them."""
    if path is None or not path.exists():
        return None
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def flow_digest(flow: FlowDefinition, spec: DestinationSpec) -> int:
    """What a flow sends, as a number (63 bits: the engine's and Arrow's integers agree on it): a change of
    mapping, mandatory fields or channel makes every profile new."""
    said: dict[str, Any] = {"mapping": [(m.source, m.target) for m in flow.mapping], "mandatory": flow.mandatory,
                            "channel": flow.consent_channel or spec.consent_channel}  # fmt: skip
    if flow.marketing_actions:  # what they consent to goes out too (a flow without any keeps its earlier digest)
        said["actions"] = sorted(flow.marketing_actions)
    return int.from_bytes(hashlib.sha256(json.dumps(said, sort_keys=True).encode()).digest()[:8], "big") >> 1


def comparable(flow: FlowDefinition, previous: pa.Table | None, fingerprints: pa.Table | None) -> bool:
    """Whether an incremental run of the flow may read only what changed."""
    return (flow.export_mode == "incremental" and flow.sync_mode is None and not flow.dedup_key
            and fingerprints is not None and previous is not None and FINGERPRINT in previous.column_names)  # fmt: skip


def only_changed(con: Any, members: pa.Table, previous: pa.Table, fingerprints: pa.Table,
                 digest: int) -> tuple[pa.Table, pa.Table]:  # fmt: skip
    """(the members to build rows for, the part of the snapshot they and those who left are compared with):
    members whose fingerprint the snapshot does not hold under this flow, and every profile that left."""
    with arrow_tables(con, {"_c_members": members.select(["graph", "status"]), "_c_previous": previous,
                            "_c_prints": fingerprints}) as t:  # fmt: skip
        current = t["_c_members"].filter(t["_c_members"].status <= 1)
        prints, known = t["_c_prints"], t["_c_previous"]
        same = known.join(prints, known.graph == prints.graph)
        same = same.filter(same[FINGERPRINT] == _mixed(same.fingerprint, digest)).select("graph")
        changed = temporary_table(con, "_c_changed", current.anti_join(same, "graph").select("graph", "status"))
        try:
            touched = known.filter(known.graph.isin(changed.graph) | ~known.graph.isin(current.graph))
            return con.to_pyarrow(changed), con.to_pyarrow(touched)
        finally:
            drop_temporary_table(con, "_c_changed")


def with_fingerprints(hashes: Any, prints: Any | None, digest: int) -> Any:
    """A run's snapshot (`graph`, `_hash`) with each profile's fingerprint under the flow, when the store has them
    (`prints`, the store's fingerprints as an engine table): joined in the engine, not in Python's memory."""
    if prints is None:
        return hashes
    joined = hashes.left_join(prints, hashes.graph == prints.graph)
    return joined.select(hashes.graph, hashes._hash, **{FINGERPRINT: _mixed(prints.fingerprint, digest)})


def _mixed(fingerprint: Any, digest: int) -> Any:
    """A fingerprint under a flow's digest: both unsigned, so that every bit of the hash is kept."""
    return (fingerprint.cast("uint64") ^ ibis.literal(digest, "uint64")).cast("uint64")
