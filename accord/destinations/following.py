"""Flows to streaming destinations follow their audiences' membership changes while `accord serve` runs.

Each enabled flow (or one in error) whose destination streams has a follower thread of its own (but
flows with a sync mode, whose records are diffed whole on their schedules). It reads
its sandbox's membership change events (those `GET /segment/events` lists, made by streaming
evaluation) after the last one it handled and, when some concern the flow's audiences, runs the flow on
those profiles alone (trigger `events`): profiles that qualified go out `realized`, those that left
`exited`, with the flow's mapping, consent, mandatory fields and dedup key, recorded as any run, dead
letters and all. Where a follower stands is kept beside the flow's snapshots (`events.json`) only once
the run has ended, so that a server stopped or killed mid-run sends those changes again (at least
once). A flow made after events happened starts at its creation: earlier memberships go out with its
scheduled runs. A destination that is down or slow holds up its own follower and no other.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select

from accord.catalog import Sandbox, resolve_sandbox
from accord.catalog.activations import ActivationFlowRecord, DestinationAccountRecord
from accord.catalog.reading import utc_time
from accord.destinations.flows import definition_of, find_flow
from accord.destinations.registry import destination_spec
from accord.destinations.runs import run_activation, snapshots_folder
from accord.errors import AccordError
from accord.home import write_whole
from accord.segment import membership_events
from accord.workspace import Workspace

log = logging.getLogger("accord.destinations.following")

EVENTS_PER_RUN = 10_000
"""Events read at a time: a follower far behind catches up in runs of at most this many changes."""
CURSOR = "events.json"
BACK_OFF_LIMIT = 300.0
"""The longest a follower whose runs keep failing waits before it tries again (seconds)."""


def streaming_flows(workspace: Workspace) -> list[tuple[str, str, str]]:
    """(sandbox, flow id, flow name) of the enabled flows (or in error) whose destination streams, but those with a sync
    mode: their records are diffed whole against what the destination acknowledged, on their schedules."""
    with workspace.catalog.session() as session:
        found = session.execute(
            select(
                ActivationFlowRecord.id,
                ActivationFlowRecord.name,
                Sandbox.name,
                DestinationAccountRecord.destination,
                ActivationFlowRecord.definition,
            )
            .join(Sandbox, Sandbox.id == ActivationFlowRecord.sandbox_id)
            .join(DestinationAccountRecord, DestinationAccountRecord.id == ActivationFlowRecord.account_id)
            .where(ActivationFlowRecord.state.in_(("enabled", "error")))
        ).all()
    out = []
    for flow_id, name, sandbox, destination_id, definition in found:
        if definition.get("syncMode"):
            continue
        try:
            if destination_spec(destination_id).delivery == "streaming":
                out.append((sandbox, flow_id, name))
        except AccordError:  # a destination no longer installed: its runs say so, not the follower
            continue
    return out


def follow_once(workspace: Workspace, sandbox: str, flow: str) -> dict[str, Any] | None:
    """Send the membership changes of `flow`'s audiences made since it last did; the run's document, or None
    when there was nothing to send."""
    with workspace.catalog.session() as session:
        record = find_flow(session, resolve_sandbox(session, sandbox).id, flow)
        audiences = {a.segment_id or a.segment for a in definition_of(record).audiences}
        cursor = snapshots_folder(workspace, record.sandbox_id, record.id) / CURSOR
        created, name = utc_time(record.created_at) or datetime.now(UTC), record.name
    after = _read_cursor(cursor)
    page = membership_events(workspace, sandbox, after or 0, EVENTS_PER_RUN)
    latest: dict[tuple[str, int], str] = {}  # a profile's last status in each audience: what it is now
    for event in page["items"]:
        if event["segmentId"] in audiences and (after is not None or _at(event["at"]) >= created):
            latest[(event["segmentId"], int(event["graphId"]))] = event["status"]
    run = None
    if latest:
        changes = {segment_id: _changes(latest, segment_id) for segment_id in sorted({s for s, _ in latest})}
        run = run_activation(workspace, sandbox, name, trigger="events", segment_ids=list(changes), changes=changes)
    if page["next"] != after:
        _write_cursor(cursor, page["next"])
    return run


def _changes(latest: dict[tuple[str, int], str], segment_id: str) -> tuple[pa.Table, pa.Table]:
    """One audience's changes as an export reads them: the members that qualified (status 0, realized), and
    those that left (as a snapshot they are missing from, with no row hash)."""
    joined = sorted(g for (s, g), status in latest.items() if s == segment_id and status != "exited")
    left = sorted(g for (s, g), status in latest.items() if s == segment_id and status == "exited")
    members = pa.table({"graph": pa.array(joined, pa.int64()), "status": pa.array([0] * len(joined), pa.int8())})
    exits = pa.table({"graph": pa.array(left, pa.int64()), "_hash": pa.array([0] * len(left), pa.int64())})
    return members, exits


def _at(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # written in UTC


def _read_cursor(path: Path) -> int | None:
    try:
        return int(json.loads(path.read_text())["after"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet (or unreadable): start at the flow's creation


def _write_cursor(path: Path, after: int) -> None:
    write_whole(path, lambda partial: partial.write_text(json.dumps({"after": after})))


class Followers:
    """One follower thread per streaming flow, for `accord serve`: flows made, enabled, disabled or deleted
    while it runs are picked up or let go every `poll_seconds`."""

    def __init__(self, workspace: Workspace, poll_seconds: float) -> None:
        self.workspace = workspace
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._threads: dict[tuple[str, str, str], tuple[threading.Thread, threading.Event]] = {}
        self._supervisor = threading.Thread(target=self._supervise, name="followers", daemon=True)

    def start(self) -> None:
        self._supervisor.start()

    def stop(self, wait_seconds: float = 30) -> None:
        """Let every follower finish the run it is in (for `wait_seconds` at most), then stop. A follower still
        trying a destination then is left to die with the process: its changes go again at the next start."""
        self._stop.set()
        self._supervisor.join()
        for _, stop in self._threads.values():
            stop.set()
        deadline = time.monotonic() + wait_seconds
        for (sandbox, _, name), (thread, _) in self._threads.items():
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("activation %s/%s was still sending its changes when the server stopped", sandbox, name)

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                wanted = set(streaming_flows(self.workspace))
            except AccordError as exc:
                log.error("cannot list the streaming flows: %s", exc.message)
                wanted = set(self._threads)
            for key in [k for k in self._threads if k not in wanted]:
                self._threads.pop(key)[1].set()  # disabled or deleted: its follower ends after its run
            for key in wanted - set(self._threads):
                stop = threading.Event()
                thread = threading.Thread(target=self._follow, args=(*key, stop), name=f"follow-{key[1]}", daemon=True)
                self._threads[key] = (thread, stop)
                thread.start()
            self._stop.wait(self.poll_seconds)

    def _follow(self, sandbox: str, flow_id: str, name: str, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                run = follow_once(self.workspace, sandbox, flow_id)
                failures = 0
                if run is not None:
                    log.info("activation %s/%s run %s (membership changes): %s", sandbox, name, run["id"],
                             run["status"])  # fmt: skip
            except AccordError as exc:  # its flow is running by hand, or cannot run now: tried again later
                failures += 1
                log.warning("activation %s/%s did not follow its changes: %s", sandbox, name, exc.message)
            except Exception:
                failures += 1
                log.exception("activation %s/%s: internal error while following its changes", sandbox, name)
            # a flow whose runs keep failing waits longer each time (up to BACK_OFF_LIMIT), so that it neither
            # floods its alerts and runs nor keeps taking the sandbox's lock from the others
            stop.wait(min(self.poll_seconds * 2**failures, max(self.poll_seconds, BACK_OFF_LIMIT)))
