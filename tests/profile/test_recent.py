"""The recent events kept between streaming micro-batches are the ones the lake holds."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from accord import identity, lake, profile, schema
from accord.errors import NotFoundError
from accord.ingest import IngestRequest, ingest_file
from accord.profile import RecentEvents
from accord.workspace import Workspace

FIELDS = frozenset({"eventType", "timestamp"})


def _events(tmp_path: Path, name: str, rows: list[tuple[str, str | None, str, timedelta]]) -> Path:
    """(ECID, e-mail or none, event type, age) per event; the e-mail, when there, is the primary identity."""
    now = datetime.now(UTC)
    lines = []
    for n, (ecid, email, kind, age) in enumerate(rows):
        ids: dict[str, Any] = {"ECID": [{"id": ecid, "primary": email is None}]}
        if email:
            ids["Email"] = [{"id": email, "primary": True}]
        lines.append(json.dumps({"_id": f"{name}-{n}", "eventType": kind, "timestamp": (now - age).isoformat(),
                                 "identityMap": ids}))  # fmt: skip
    path = tmp_path / f"{name}.json"
    path.write_text("\n".join(lines))
    return path


def _compare(workspace: Workspace, recent: RecentEvents) -> dict[int, list[tuple[Any, ...]]]:
    """Each person's events as the kept events give them and as the lake does: they must be the same."""
    identity.build_graph(workspace, "prod")
    graphs = set()
    for ecid in ("1" * 38, "2" * 38, "3" * 38):
        with contextlib.suppress(NotFoundError):  # not (or no longer) in the lake
            graphs.add(int(identity.graph_of(workspace, "prod", "ECID", ecid)["graphId"]))
    people = identity.graph_identities(workspace, "prod", graphs)
    since = datetime.now(UTC) - timedelta(hours=24)
    kept = profile.recent_profiles(workspace, "prod", people, since, FIELDS, recent)
    read = profile.recent_profiles(workspace, "prod", people, since, FIELDS)

    def shown(found: dict[int, dict[str, Any]]) -> dict[int, list[tuple[Any, ...]]]:
        return {graph: sorted((e["timestamp"], e["eventType"], e["dataset"]) for e in person["events"])
                for graph, person in found.items()}  # fmt: skip

    assert shown(kept) == shown(read)
    assert all(set(e) == {"timestamp", "eventType", "dataset"} for p in kept.values() for e in p["events"])
    assert recent.batches and not recent.gave_up  # the events came from what was kept, not from the lake
    return shown(kept)


def test_recent_events_follow_new_deleted_and_rewritten_batches(workspace: Workspace, tmp_path: Path) -> None:
    with workspace.catalog.session() as s:
        schema.create_schema(s, "prod", {"name": "web", "class": "experienceevent", "fieldGroups": ["identitymap"]})
        lake.create_dataset(s, "prod", "web", "web", profile_enabled=True)
    a, b = "1" * 38, "2" * 38
    first = ingest_file(workspace, "prod", IngestRequest("web", _events(tmp_path, "first", [
        (a, None, "view", timedelta(minutes=5)), (a, None, "click", timedelta(days=3)),
        (b, "bo@x.io", "view", timedelta(hours=1))])))  # fmt: skip
    recent = RecentEvents(FIELDS)
    seen = _compare(workspace, recent)
    assert sorted(len(events) for events in seen.values()) == [1, 1]  # the 3-day-old click is not recent
    # a later batch, of a known person and of one who links two others by an e-mail they share
    ingest_file(workspace, "prod", IngestRequest("web", _events(tmp_path, "second", [
        (a, None, "buy", timedelta(minutes=1)), ("3" * 38, "bo@x.io", "view", timedelta(minutes=2))])))  # fmt: skip
    assert sorted(len(events) for events in _compare(workspace, recent).values()) == [2, 2]
    with workspace.catalog.session() as s:
        assert recent.batches.keys() == {b["id"] for b in lake.list_batches(s, "prod", "web")}
    lake.delete_batch(workspace, "prod", first["id"])  # gone from the lake: gone from what is kept
    assert sorted(len(events) for events in _compare(workspace, recent).values()) == [1, 1]
    lake.delete_records(workspace, "prod", "web", ["second-0"])  # a batch rewritten without a row
    assert sorted(len(events) for events in _compare(workspace, recent).values()) == [1]


def test_each_event_dataset_gives_a_persons_newest_events(workspace: Workspace, tmp_path: Path) -> None:
    with workspace.catalog.session() as s:
        schema.create_schema(s, "prod", {"name": "web", "class": "experienceevent", "fieldGroups": ["identitymap"]})
        for name in ("web", "shop"):
            lake.create_dataset(s, "prod", name, "web", profile_enabled=True)
    a = "1" * 38
    for name, kind in (("web", "view"), ("shop", "buy")):  # more than a read takes of each, for one person
        rows = [(a, None, kind, timedelta(minutes=n)) for n in range(1, 1_101)]
        ingest_file(workspace, "prod", IngestRequest(name, _events(tmp_path, name, rows)))
    seen = _compare(workspace, RecentEvents(FIELDS))
    assert [sorted({kind for _t, kind, _d in events}) for events in seen.values()] == [["buy", "view"]]
    assert [len(events) for events in seen.values()] == [2_000]
