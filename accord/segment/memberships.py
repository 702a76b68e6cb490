"""Audience memberships: one file per segment, profiles sorted, statuses and times as arrays.

A segment's file holds every profile that is or was in it: `graph` (sorted), `status` (0 realized,
1 existing, 2 exited), `lastQualificationTime` and `exitedAt`. Files are Arrow, read memory-mapped:
a profile's memberships are one binary search per segment, a segment's members one slice. A batch
job updates a file with array operations (no sort, no join of millions of rows) and writes the
transitions it made (entered, exited) as history, one file per job and segment."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

STATUSES = ("realized", "existing", "exited")
REALIZED, EXISTING, EXITED = 0, 1, 2
TIME = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema([("graph", pa.int64()), ("status", pa.int8()), ("lastQualificationTime", TIME),
                    ("exitedAt", TIME)])  # fmt: skip
NONE = np.int64(-(2**63))
"""A missing time, in the microsecond arrays."""


def micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


@dataclass
class Arrays:
    graph: np.ndarray
    status: np.ndarray
    qualified: np.ndarray
    exited: np.ndarray

    @classmethod
    def empty(cls) -> Arrays:
        return cls(np.array([], np.int64), np.array([], np.int8), np.array([], np.int64), np.array([], np.int64))

    @classmethod
    def of_table(cls, table: pa.Table) -> Arrays:
        def times(column: str) -> np.ndarray:
            values = table[column].cast(pa.int64()).fill_null(NONE)
            return values.to_numpy()

        return cls(table["graph"].to_numpy(), table["status"].to_numpy(), times("lastQualificationTime"),
                   times("exitedAt"))  # fmt: skip

    def to_table(self) -> pa.Table:
        def times(values: np.ndarray) -> pa.Array:
            return pa.array(values, mask=values == NONE).cast(TIME)

        return pa.Table.from_arrays([pa.array(self.graph), pa.array(self.status), times(self.qualified),
                                     times(self.exited)], schema=SCHEMA)  # fmt: skip

    def with_changes(self, changes: Arrays) -> Arrays:
        """These memberships with some replaced or added (streaming's changes since the last job)."""
        if not len(changes.graph):
            return self
        keep = ~np.isin(self.graph, changes.graph)
        merged = Arrays(*(np.concatenate([mine[keep], theirs]) for mine, theirs in zip(
            (self.graph, self.status, self.qualified, self.exited),
            (changes.graph, changes.status, changes.qualified, changes.exited), strict=True)))  # fmt: skip
        order = np.argsort(merged.graph, kind="stable")
        return Arrays(merged.graph[order], merged.status[order], merged.qualified[order], merged.exited[order])


def segment_file(folder: Path, segment_id: str) -> Path:
    return folder / "memberships" / f"{segment_id}.arrow"


def read(path: Path) -> pa.Table | None:
    if not path.exists():
        return None
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def first_members(path: Path, limit: int) -> list[tuple[int, int]]:
    """(graph, status) of the first `limit` members (realized or existing) of a segment's file, reading only
    those two columns, batch by batch, until enough are found."""
    if limit <= 0 or not path.exists():
        return []
    options = pa.ipc.IpcReadOptions(included_fields=[0, 1])  # graph and status, in SCHEMA's order
    reader = pa.ipc.open_file(pa.memory_map(str(path)), options=options)
    found: list[tuple[int, int]] = []
    for index in range(reader.num_record_batches):
        batch = reader.get_batch(index)
        status = batch.column(1).to_numpy()
        inside = np.flatnonzero(status <= EXISTING)[: limit - len(found)]
        graphs = batch.column(0).to_numpy()
        found.extend((int(graphs[i]), int(status[i])) for i in inside)
        if len(found) >= limit:
            break
    return found


def update(
    previous: Arrays, qualifying: np.ndarray, now: datetime, retention: datetime
) -> tuple[Arrays, Arrays, dict[str, int]]:
    """New memberships of one segment from the previous ones and who qualifies now (sorted graphs).

    Returns the memberships, the transitions (as `Arrays` whose `exited` column holds the previous
    status, or -1), and the counts."""
    if not len(previous.graph):  # the first evaluation: everyone who qualifies enters
        size, stamp = len(qualifying), np.int64(micros(now))
        entered = Arrays(qualifying, np.full(size, REALIZED, np.int8), np.full(size, stamp, np.int64),
                         np.full(size, NONE, np.int64))  # fmt: skip
        moved = Arrays(qualifying, entered.status, entered.qualified, np.full(len(qualifying), -1, np.int64))
        return entered, moved, {"realized": len(qualifying), "existing": 0, "exited": 0, "qualified": len(qualifying)}
    if np.array_equal(qualifying, previous.graph):  # the same profiles as before (a common case): no merge
        everyone, inside = previous.graph, np.ones(len(previous.graph), dtype=bool)
        before, qualified_before, exited_before = previous.status, previous.qualified, previous.exited
    else:
        everyone = _sorted_union(qualifying, previous.graph)
        inside = np.zeros(len(everyone), dtype=bool)
        inside[np.searchsorted(everyone, qualifying)] = True
        at = np.searchsorted(everyone, previous.graph)  # every previous profile is in `everyone`: scatter
        before = np.full(len(everyone), -1, dtype=np.int8)
        before[at] = previous.status
        qualified_before = np.full(len(everyone), NONE, dtype=np.int64)
        qualified_before[at] = previous.qualified
        exited_before = np.full(len(everyone), NONE, dtype=np.int64)
        exited_before[at] = previous.exited
    was_in = (before == REALIZED) | (before == EXISTING)
    status = np.where(inside & was_in, EXISTING, np.where(inside, REALIZED, np.where(was_in, EXITED, before)))
    stamp = np.int64(micros(now))
    qualified = np.where(inside, stamp, qualified_before)
    exited = np.where(inside, NONE, np.where(was_in, stamp, exited_before))
    keep = (status >= 0) & ~((status == EXITED) & (exited < micros(retention)))
    memberships = Arrays(everyone[keep], status[keep].astype(np.int8), qualified[keep], exited[keep])
    moved = ((status == REALIZED) & (before != REALIZED)) | ((status == EXITED) & (before != EXITED))
    transitions = Arrays(
        everyone[moved], status[moved].astype(np.int8), qualified[moved], before[moved].astype(np.int64)
    )
    counts = {name: int(np.count_nonzero(memberships.status == code)) for code, name in enumerate(STATUSES)}
    counts["qualified"] = counts["realized"] + counts["existing"]
    return memberships, transitions, counts


def _sorted_union(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The union of two sorted arrays of distinct values, sorted (np.union1d hashes: several times slower)."""
    both = np.concatenate([first, second])
    both.sort(kind="stable")
    if len(both) < 2:
        return both
    distinct = np.empty(len(both), dtype=bool)
    distinct[0] = True
    np.not_equal(both[1:], both[:-1], out=distinct[1:])
    return both[distinct]


def write(path: Path, memberships: Arrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".arrow.new")
    # lz4: the times repeat (one per job), so files shrink several times and write faster; readers load
    # the columns into arrays once per change anyway
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    with pa.OSFile(str(staging), "wb") as sink, pa.ipc.new_file(sink, SCHEMA, options=options) as writer:
        writer.write_table(memberships.to_table(), max_chunksize=1_000_000)
    staging.replace(path)


HISTORY_SCHEMA = pa.schema([("graph", pa.int64()), ("previous", pa.int8()), ("status", pa.int8())])


def write_history(folder: Path, job_id: str, segment_id: str, transitions: Arrays, now: datetime) -> None:
    """A job's transitions of one segment, sorted by profile; `previous` is -1 for none."""
    if not len(transitions.graph):
        return
    table = pa.Table.from_arrays([pa.array(transitions.graph), pa.array(transitions.exited.astype(np.int8)),
                                  pa.array(transitions.status)], schema=HISTORY_SCHEMA)  # fmt: skip
    target = folder / "history" / job_id
    target.mkdir(parents=True, exist_ok=True)
    metadata = {b"at": now.isoformat().encode(), b"segment": segment_id.encode()}
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    with (
        pa.OSFile(str(target / f"{segment_id}.arrow"), "wb") as sink,
        pa.ipc.new_file(sink, HISTORY_SCHEMA.with_metadata(metadata), options=options) as writer,
    ):
        writer.write_table(table.replace_schema_metadata(metadata), max_chunksize=1_000_000)


def read_history(path: Path, graph: int) -> tuple[dict[bytes, bytes], list[tuple[int, int]]]:
    """(metadata, [(previous, status)]) of one profile in one history file."""
    table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    graphs = table["graph"].to_numpy()
    start, end = int(np.searchsorted(graphs, graph, "left")), int(np.searchsorted(graphs, graph, "right"))
    rows = [(int(p), int(s)) for p, s in zip(table["previous"].to_numpy()[start:end],
                                              table["status"].to_numpy()[start:end], strict=True)]  # fmt: skip
    return table.schema.metadata or {}, rows


class MembershipFiles:
    """Every segment's memberships of a sandbox, memory-mapped; reopened when the folder changes (a job
    replaces files by renames, which touches the folder), so a lookup costs one stat and a binary
    search per segment."""

    _lock = threading.Lock()
    _cache: dict[Path, tuple[int, dict[str, tuple[pa.Table, Arrays]]]] = {}

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "memberships"

    def _all(self) -> dict[str, tuple[pa.Table, Arrays]]:
        try:
            stamp = self.folder.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        with self._lock:
            cached = self._cache.get(self.folder)
            if cached is None or cached[0] != stamp:
                opened = {}
                for path in self.folder.glob("*.arrow"):
                    table = read(path)
                    if table is not None:
                        opened[path.stem] = (table, Arrays.of_table(table))
                cached = (stamp, opened)
                self._cache[self.folder] = cached
            return cached[1]

    def segment(self, segment_id: str) -> pa.Table | None:
        """One segment's memberships, memory-mapped (without the arrays that lookups build for every segment)."""
        return read(self.folder / f"{segment_id}.arrow")

    def of(self, graph: int, segments: list[str]) -> dict[str, dict[str, Any]]:
        """A profile's memberships, by segment id."""
        opened = self._all()
        found = {}
        for segment_id in segments:
            if segment_id not in opened:
                continue
            arrays = opened[segment_id][1]
            index = int(np.searchsorted(arrays.graph, graph))
            if index < len(arrays.graph) and arrays.graph[index] == graph:
                found[segment_id] = {"status": STATUSES[int(arrays.status[index])],
                                     "lastQualificationTime": _moment(arrays.qualified[index]),
                                     "exitedAt": _moment(arrays.exited[index])}  # fmt: skip
        return found


def _moment(value: np.int64) -> datetime | None:
    if value == NONE:
        return None
    return datetime.fromtimestamp(int(value) / 1_000_000, tz=UTC)
