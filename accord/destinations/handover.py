"""Handing a run's output to its destination: files put in place one by one, or profile rows streamed as requests.

Either way, what the destination did not accept is known when the handover ends: a file that could not
be written stops the run (what landed stays), and profiles whose requests ended as dead letters are
left out of what the next incremental run takes as sent, so that it sends them again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from accord.destinations.export import AudienceExport
from accord.destinations.flows import FlowDefinition
from accord.destinations.spec import ExportFile, FileDestination, RequestContext, StreamingDestination, profile_graphs

Progress = Callable[[str, int, int], None]


@dataclass
class Handover:
    """What a destination took: files with where they landed, requests and their outcome."""

    files: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    delivered: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    failed_profiles: set[str] = field(default_factory=set)
    """Profiles whose request ended as a dead letter: the next incremental run sends them again."""


def put_files(destination: FileDestination, exports: list[AudienceExport], manifest: ExportFile | None,  # type: ignore[type-arg]
              progress: Progress | None) -> Handover:  # fmt: skip
    """Every audience's files (and the manifest, last) put in place, in order."""
    handed = Handover()
    every: list[tuple[AudienceExport | None, ExportFile]] = [(e, f) for e in exports for f in e.files]
    if manifest is not None:
        every.append((None, manifest))
    try:
        destination.sweep()
        for done, (export, file) in enumerate(every, start=1):
            sink = destination.write(file)
            handed.files.append({"name": file.name, "sinkPath": sink, "rows": file.rows, "size": file.size,
                                 "segmentId": export.segment_id if export else None})  # fmt: skip
            if progress:
                progress("files", done, len(every))
    finally:
        destination.close()
    return handed


def stream_rows(destination: StreamingDestination, exports: list[AudienceExport], flow: FlowDefinition,  # type: ignore[type-arg]
                context: RequestContext, dead_letters: Any, wait_when_open: bool = False) -> Handover:  # fmt: skip
    """Every audience's rows sent as the destination's requests (paced, retried, dead letters filed)."""
    from accord.destinations.streaming.lanes import deliver
    from accord.destinations.streaming.profiles import outgoing_profiles

    try:
        result = deliver(destination, outgoing_profiles(exports, flow), context, dead_letters, wait_when_open)
    finally:
        destination.close()
    handed = Handover(requests=result.requests, retries=result.retries, delivered=result.rows_delivered,
                      failed=result.rows_failed, failures=dict(result.failures))  # fmt: skip
    if result.dead_letters:
        handed.failed_profiles = dead_letters.profiles(result.dead_letters)
    return handed


def acknowledged(snapshot: pa.Table | None, failed_profiles: set[str]) -> pa.Table | None:
    """What a destination accepted of a run's snapshot: all but the profiles that failed."""
    if snapshot is None or not failed_profiles:
        return snapshot
    return snapshot.filter(pc.invert(pc.is_in(snapshot["graph"], value_set=profile_graphs(failed_profiles))))


def manifest_file(staging: Path, flow_id: str, run_id: str, started: datetime,
                  exports: list[AudienceExport]) -> ExportFile:  # fmt: skip
    """The reference product's manifest: `manifest-<flowId>-<runId>.json`, listing every file with rows and size."""
    results = [{"name": f.name, "sinkPath": f.name, "size": f.size, "rows": f.rows, "segmentId": e.segment_id}
               for e in exports for f in e.files]  # fmt: skip
    document = {"flowId": flow_id, "flowRunId": run_id, "scheduledTime": started.isoformat(),
                "exportResults": results}  # fmt: skip
    path = staging / f"manifest-{flow_id}-{run_id}.json"
    path.write_text(json.dumps(document, indent=2))
    return ExportFile(path=path, name=path.name, rows=len(results), size=path.stat().st_size)
