"""Batch segment jobs, estimates, and the memberships they leave.

A job evaluates the chosen definitions (all by default, with the segments they refer to inlined)
over every profile of the profile store in one compiled query (a definition that cannot be
resolved, by a missing reference or a cycle, is left out and named: the job is then `partial`),
then turns qualification into memberships: `realized` (entered now), `existing` (was in, still
in), `exited` (was in, left now; kept `segment_exited_retention_days`, then dropped), each with its
`lastQualificationTime`.
Transitions are kept as history, one file per job. Memberships are an Arrow file sorted by profile,
read memory-mapped, so that lookups and streaming evaluation find a profile's in microseconds.
Changes made by streaming evaluation since the job (`streaming.py`) are taken into account and
then folded in."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
from ibis.common.exceptions import IbisTypeError
from sqlalchemy import select

from accord.catalog import SegmentDefinitionRecord, SegmentJobRecord, resolve_sandbox, utcnow
from accord.engine import connect, field_at
from accord.errors import AccordError, InvalidInputError, NotFoundError
from accord.jobs import ensure_held
from accord.lake import sandbox_job
from accord.profile import store_folder
from accord.schema import field_dtype, union_schema
from accord.segment import memberships
from accord.segment.ast import Node
from accord.segment.ast import Path as FieldPath
from accord.segment.compiler import compile_job
from accord.segment.computed_evaluation import Refresh
from accord.segment.computed_values import with_computed
from accord.segment.definitions import find_segment, resolved_tree, segment_names, validate_pql
from accord.segment.functions import FUNCTIONS
from accord.segment.job_control import (
    WAITING,
    JobCancelled,
    JobControl,
    begin,
    close_interrupted,
    fail_queued,
    job_document,
)
from accord.segment.long_forms import rebuild
from accord.workspace import Workspace

PER_ITEM = {name for name, function in FUNCTIONS.items() if function.per_item}
"""Functions whose first argument is read on each item of a list: its paths are the items' fields."""


def segments_folder(workspace: Workspace, sandbox_id: str) -> Path:
    return workspace.lake.root / sandbox_id / "segments"


def _store(workspace: Workspace, sandbox_id: str) -> Path:
    folder = store_folder(workspace, sandbox_id)
    if not (folder / "profiles.parquet").exists():
        raise NotFoundError("no profiles to evaluate yet: build them with `accord profile rebuild`",
                            code="SEGMENT-0411-404")  # fmt: skip
    return folder


def paths_read(node: Any, out: dict[str, set[str]], scope: str = "profile") -> bool:
    """The attribute paths a tree reads, by scope (profile or event); whether it reads the events at all.

    An aggregation may read no path of the events (`xEvent.count()`) and still needs them."""
    from accord.segment.ast import Chain, Events, Method, Path, children

    if isinstance(node, Path):
        out[scope].add(node.dotted)
        return False
    if isinstance(node, Method) and isinstance(node.target, Events):
        if node.target.where is not None:
            paths_read(node.target.where, out, "event")
        for arg in node.args:
            paths_read(arg, out, "event")
        return True
    if isinstance(node, Chain):
        out["event"].add("timestamp")
        for step in node.steps:
            paths_read(step.what, out, "event")
        return True
    if isinstance(node, Method) and node.args and node.name in PER_ITEM:  # its first argument reads the items
        return any([paths_read(child, out, scope) for child in (node.target, *node.args[1:])])
    reads_events = False
    for child in children(node):
        reads_events = paths_read(child, out, scope) or reads_events
    return reads_events


def _flat(table: ir.Table, paths: set[str], types: dict[str, Any]) -> ir.Table:
    """Only the columns the definitions read, flattened to one column per path (named by the path)."""
    columns: dict[str, Any] = {"graph": table.graph}
    for path in sorted(paths):
        try:
            value = field_at(table, path)
        except (AttributeError, KeyError, TypeError, IbisTypeError):
            value = ibis.null().cast(types.get(path, "string"))  # no dataset has this field (yet)
        columns[path] = value.cast(types[path]) if path in types else value
    return table.select(**columns)


def _inputs(workspace: Workspace, con: Any, sandbox: str, trees: dict[str, Node],
            values: dict[str, Node] | None = None) -> tuple[ir.Table, ir.Table | None]:  # fmt: skip
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        profile_types = {p: field_dtype(s) for p, s in union_schema(session, sandbox, "profile").leaves().items()}
        event_types = {p: field_dtype(s) for p, s in union_schema(session, sandbox, "experienceevent").leaves().items()}
    folder = _store(workspace, sandbox_id)
    paths: dict[str, set[str]] = {"profile": set(), "event": set()}
    reads_events = [paths_read(tree, paths) for tree in [*trees.values(), *(values or {}).values()]]
    profiles = _flat(con.read_parquet(str(folder / "profiles.parquet")), paths["profile"], profile_types)
    profiles = with_computed(workspace, sandbox, profiles)  # computed attributes' values, joined by graph
    event_files = sorted(folder.glob("events-*.arrow"))
    if not any(reads_events) or not event_files:
        return profiles, None
    wanted = sorted(paths["event"] | {"timestamp"})
    arrow_types = {p: t.to_pyarrow() for p, t in event_types.items()}
    parts = [_flat_arrow(pa.ipc.open_file(pa.memory_map(str(path))).read_all(), wanted, arrow_types)
             for path in event_files]  # fmt: skip
    # The events are handed to the engine as flat Arrow columns, without a copy: the nested columns'
    # children are taken as they are in the memory-mapped store
    return profiles, ibis.memtable(pa.concat_tables(parts))


def _flat_arrow(table: pa.Table, paths: list[str], types: dict[str, pa.DataType]) -> pa.Table:
    """One column per path (named by the path) and the graph, taken from nested columns without copying."""
    import pyarrow.compute as pc

    columns: dict[str, Any] = {"graph": table["graph"]}
    for path in paths:
        head, *rest = path.split(".")
        target = types.get(path)  # none for an object: it is taken whole
        value: Any = table[head] if head in table.column_names else None
        for part in rest:
            if value is None or part not in {value.type.field(i).name for i in range(value.type.num_fields)}:
                value = None
                break
            value = pc.struct_field(value, part)
        if value is None:
            value = pa.nulls(table.num_rows, target or pa.string())
        columns[path] = value.cast(target) if target is not None else value
    return pa.table(columns)


def _trees(workspace: Workspace, sandbox: str, names: list[str] | None
           ) -> tuple[str, dict[str, Node], dict[str, str], dict[str, str]]:  # fmt: skip
    """The definitions to evaluate, resolved, by id; their names; and the ones that cannot be
    resolved (a missing segment, a cycle), by name with why: those are left out of the job, so that
    one broken definition does not stop every job of the sandbox."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        if names:
            records = [find_segment(session, sandbox, n) for n in names]
        else:
            records = list(session.scalars(select(SegmentDefinitionRecord).where(
                SegmentDefinitionRecord.sandbox_id == sandbox_id)))  # fmt: skip
        trees, left_out = {}, {}
        for record in records:
            try:
                trees[record.id] = resolved_tree(session, sandbox_id, record)
            except (NotFoundError, InvalidInputError) as exc:
                left_out[record.name] = exc.message
        return sandbox_id, trees, {r.id: r.name for r in records}, left_out


def evaluate(workspace: Workspace, sandbox: str, trees: dict[str, Node], now: datetime,
             values: dict[str, Node] | None = None) -> pa.Table:  # fmt: skip
    """One row per profile with a boolean column per definition id: who qualifies at `now`; and a column per
    value asked for (by its path: computed attributes, each an event aggregation), computed in the same pass
    over the events. A definition that reads such a path reads that column, not the stored value."""
    values = values or {}
    if values:
        trees = {key: rebuild(tree, lambda n: values.get(n.dotted) if isinstance(n, FieldPath) else None)
                 for key, tree in trees.items()}  # fmt: skip
    con = connect(workspace.settings)
    try:
        profiles, events = _inputs(workspace, con, sandbox, trees, values)
        result = compile_job(trees, profiles, events, now, {}, {}, values)
        return con.to_pyarrow(result)
    finally:
        con.disconnect()


def estimate(workspace: Workspace, sandbox: str, text: str, sample: int = 10) -> dict[str, Any]:
    """How many profiles a PQL expression selects now, and a sample of them, without saving anything."""
    started = time.perf_counter()
    with workspace.catalog.session() as session:
        _, checked = validate_pql(session, sandbox, text)
        sandbox_id = resolve_sandbox(session, sandbox).id
        draft = SegmentDefinitionRecord(id="draft", sandbox_id=sandbox_id, name="(draft)", expression=text)
        tree = resolved_tree(session, sandbox_id, draft)
    now = utcnow()
    con = connect(workspace.settings)
    try:
        profiles, events = _inputs(workspace, con, sandbox, {"draft": tree})
        result = compile_job({"draft": tree}, profiles, events, now, {}, {})
        chosen = result.filter(result.draft)
        count = int(con.execute(chosen.count()))
        total = int(con.execute(result.count()))
        picked = con.to_pyarrow(chosen.select("graph").order_by("graph").limit(sample))["graph"].to_pylist()
    finally:
        con.disconnect()
    return {"estimate": count, "profiles": total, "ratio": round(count / total, 6) if total else 0.0,
            "sample": [str(g) for g in picked], "streamingEligible": checked.streaming,
            "streamingReason": checked.streaming_reason,
            "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip


def run_job(workspace: Workspace, sandbox: str, names: list[str] | None = None,
            on_step: Callable[[str, float], None] | None = None, *, job_id: str | None = None,
            trigger: str = "manual", before: Callable[[], Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Evaluate definitions over every profile and update memberships; a recorded run with counts.

    Holds the sandbox's lock (see `accord.lake.sandbox_job`): jobs never update memberships at once,
    nor read a profile store being replaced. `on_step(label, fraction done)` is told where it is; the
    job's record says it too (`progress`), and a cancellation stops it at its next step, memberships
    untouched. `job_id`: a job `queue_job` recorded, run here (its segments are those it was queued
    with); `before`: work done under the same hold of the lock first (a scheduled job rebuilds the
    profiles, so that it reads the fresh store)."""
    step = on_step or (lambda _label, _done: None)
    step(WAITING, 0.0)
    try:
        with sandbox_job(workspace, sandbox, "segment job"):
            with workspace.catalog.session() as session:
                sandbox_id = resolve_sandbox(session, sandbox).id
                queued = session.get(SegmentJobRecord, job_id) if job_id is not None else None
                if queued is not None:  # a queued job runs the segments it was queued with (none: all)
                    names = list(queued.segments) or None
            _close_interrupted(workspace, sandbox_id)
            began = begin(workspace, sandbox_id, job_id, trigger)
            if began is None:  # cancelled (or closed) before it began
                return job_document(workspace, sandbox, job_id or "")
            return _run_job(workspace, sandbox, names, JobControl(workspace, began, step), before)
    except AccordError as exc:  # the lock stayed held: a queued job says why it never began
        if job_id is not None:
            fail_queued(workspace, job_id, exc.message)
        raise


def _close_interrupted(workspace: Workspace, sandbox_id: str) -> None:
    """Jobs whose process stopped failed (the lock is ours); their unfinished files go."""
    close_interrupted(workspace, sandbox_id)
    for unfinished in (segments_folder(workspace, sandbox_id) / "memberships").glob("*.new"):
        unfinished.unlink(missing_ok=True)


def _run_job(workspace: Workspace, sandbox: str, names: list[str] | None, control: JobControl,
             before: Callable[[], Any] | None) -> dict[str, Any]:  # fmt: skip
    status, counts = "failed", {}
    error_text: str | None = "interrupted"
    labels: dict[str, str] = {}
    try:
        if before is not None:
            control.step("rebuilding profiles", 0.0, tell=False)
            before()
        control.step("reading the definitions", 0.05, tell=False)
        sandbox_id, trees, labels, left_out = _trees(workspace, sandbox, names)
        with workspace.catalog.session() as session:
            record = session.get(SegmentJobRecord, control.job_id)
            assert record is not None
            record.segments = list(trees)
        skipped = "; ".join(f"{name} was left out: {why}" for name, why in sorted(left_out.items())) or None
        if not trees and left_out:
            raise InvalidInputError(f"no segment could be evaluated: {skipped}", code="SEGMENT-0416-400")
        if not trees:
            raise NotFoundError("no segments to evaluate: create one with `accord segment create`",
                                code="SEGMENT-0412-404")  # fmt: skip
        now = utcnow()
        control.step(f"evaluating {len(trees)} segment(s) over every profile", 0.1, len(trees))
        # definitions may read computed attributes: computed in the audiences' pass over the events
        refresh = Refresh.start(workspace, sandbox, now)
        qualified = refresh.stored(lambda: evaluate(workspace, sandbox, trees, now, refresh.values))
        control.step("updating memberships", 0.7, len(trees))  # the last moment a cancellation is heard
        counts = _update_memberships(workspace, sandbox_id, control, qualified, list(trees), now)
        status, error_text = ("partial", skipped) if skipped else ("success", None)
    except JobCancelled:
        status, error_text = "cancelled", "cancelled: memberships were left as they were"
    except AccordError as exc:
        error_text = exc.message
        raise
    except Exception as exc:  # a bug: the job still ends, saying what broke
        error_text = f"internal error: {type(exc).__name__}: {str(exc)[:300]}"
        raise
    finally:
        control.finish(status, error_text, {labels.get(k, k): v for k, v in counts.items()})
    return job_document(workspace, sandbox, control.job_id)


def _update_memberships(workspace: Workspace, sandbox_id: str, control: JobControl, qualified: pa.Table,
                        evaluated: list[str], now: datetime) -> dict[str, dict[str, int]]:  # fmt: skip
    """Each evaluated segment's memberships from its previous ones (and streaming's changes since) and
    who qualifies now; transitions go to the job's history."""
    from accord.segment.streaming import overlay_changes

    ensure_held(workspace.catalog)  # a job taken over while it was stopped must not undo its successor's
    folder = segments_folder(workspace, sandbox_id)
    retention = now - timedelta(days=workspace.settings.segment_exited_retention_days)
    order = np.argsort(qualified["graph"].to_numpy(), kind="stable")
    graphs = qualified["graph"].to_numpy()[order]
    streamed = overlay_changes(workspace, sandbox_id)

    def one(segment_id: str) -> tuple[str, dict[str, int]]:
        flags = qualified[segment_id].to_numpy(zero_copy_only=False)[order]
        path = memberships.segment_file(folder, segment_id)
        table = memberships.read(path)
        previous = memberships.Arrays.of_table(table) if table is not None else memberships.Arrays.empty()
        if segment_id in streamed:
            previous = previous.with_changes(streamed[segment_id])
        current, moved, counted = memberships.update(previous, graphs[flags], now, retention)
        memberships.write(path, current)
        memberships.write_history(folder, control.job_id, segment_id, moved, now)
        return segment_id, counted

    # Segments are independent: two at a time (array work and file writes release the interpreter)
    with ThreadPoolExecutor(max_workers=max(1, min(4, workspace.settings.duckdb_threads or 2))) as pool:
        counts = {}
        for segment_id, counted in pool.map(one, evaluated):
            counts[segment_id] = counted
            control.advance(len(counts))
    _clear_overlay(workspace, sandbox_id, evaluated)
    return counts


def _clear_overlay(workspace: Workspace, sandbox_id: str, evaluated: list[str]) -> None:
    from accord.segment.streaming import overlay_file

    path = overlay_file(workspace, sandbox_id)
    if path.exists():
        with closing(sqlite3.connect(path)) as db, db:
            db.executemany("DELETE FROM memberships WHERE segment = ?", [(s,) for s in evaluated])


def membership_table(workspace: Workspace, sandbox_id: str, segment_id: str) -> pa.Table | None:
    """A segment's memberships as its last batch job left them (`graph`, `status`: 0 realized, 1 existing,
    2 exited, `lastQualificationTime`, `exitedAt`); None before its first job. Read memory-mapped."""
    return memberships.MembershipFiles(segments_folder(workspace, sandbox_id)).segment(segment_id)


def members(workspace: Workspace, sandbox: str, name: str, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """The profiles in a segment now (realized or existing), paged, with their memberships."""
    import pyarrow.compute as pc

    with workspace.catalog.session() as session:
        record = find_segment(session, sandbox, name)
        sandbox_id, segment_id = record.sandbox_id, record.id
    table = memberships.MembershipFiles(segments_folder(workspace, sandbox_id)).segment(segment_id)
    if table is None:
        return {"segment": name, "total": 0, "items": []}
    mine = table.filter(pc.less_equal(table["status"], memberships.EXISTING))
    items = [{"graphId": str(r["graph"]), "status": memberships.STATUSES[r["status"]],
              "lastQualificationTime": r["lastQualificationTime"].isoformat()}
             for r in mine.slice(offset, limit).to_pylist()]  # fmt: skip
    return {"segment": name, "total": mine.num_rows, "items": items}


def history(workspace: Workspace, sandbox: str, graph: int, jobs: int | None = None) -> list[dict[str, Any]]:
    """The membership transitions of one profile, oldest first.

    With `jobs`, only those of the sandbox's latest `jobs` segment jobs: a page that shows the latest reads
    those jobs' files, not every file of a long history."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        latest = None if jobs is None else list(session.scalars(
            select(SegmentJobRecord.id).where(SegmentJobRecord.sandbox_id == sandbox_id)
            .order_by(SegmentJobRecord.started_at.desc()).limit(jobs)))  # fmt: skip
    folder = segments_folder(workspace, sandbox_id) / "history"
    if not folder.exists():
        return []
    paths = sorted(folder.glob("*/*.arrow")) if latest is None else \
        [path for job in latest for path in sorted((folder / job).glob("*.arrow"))]  # fmt: skip
    rows: list[dict[str, Any]] = []
    for path in paths:
        meta, found = memberships.read_history(path, graph)
        for previous, status in found:
            rows.append({"segment": meta[b"segment"].decode(), "job": path.parent.name, "at": meta[b"at"].decode(),
                         "previous": memberships.STATUSES[previous] if previous >= 0 else None,
                         "status": memberships.STATUSES[status]})  # fmt: skip
    return sorted(rows, key=lambda r: r["at"])


def profile_history(workspace: Workspace, sandbox: str, namespace: str, identity: str) -> dict[str, Any]:
    """A person's audience membership transitions (found by any identity), oldest first, by segment name."""
    from accord.profile import get_profile

    found = get_profile(workspace, sandbox, namespace, identity, events_limit=1)
    if found["graphId"] is None:
        return {"graphId": None, "transitions": []}
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        names = segment_names(session, sandbox_id)
    transitions = [{**row, "segment": names.get(row["segment"], row["segment"])}
                   for row in history(workspace, sandbox, int(found["graphId"]))]  # fmt: skip
    return {"graphId": found["graphId"], "transitions": transitions}
