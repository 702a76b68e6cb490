"""A privacy access job: everything held about the people asked for, gathered from every store into one bundle.

The bundle is a JSON document with one section per store (`reports.STORES`): the lake rows that carry one
of their identities (by dataset, as stored, with where each comes from), the failed rows batches kept, their
identity graphs (identities and links with why each exists), their merged profiles (attributes, fragments'
origins and up to `EVENTS` events), their audience memberships and history, what activations sent of them
(snapshots), dead letters and export files naming them, the campaign instance's records of them, the event
log's messages, and the records of the catalog that name them. Each section is gathered within its store's
boundary (`reports.reaching`): a store that fails says so in the report, and the others are still given."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from accord.engine import connect
from accord.errors import NotFoundError
from accord.governance.privacy.reach import campaign_of, lake_condition, source_files
from accord.governance.privacy.reports import StoreReport, reaching
from accord.lake import diagnostics_naming, find_rows, jsonable, sandbox_datasets

if TYPE_CHECKING:
    from accord.governance.privacy.subject import Subject
    from accord.workspace import Workspace

EVENTS = 1000
"""A person's events at most in the bundle's profile (the newest); every event row is in the lake section."""
Step = Callable[[str], None]


def gather(workspace: Workspace, subject: Subject, step: Step) -> tuple[dict[str, Any], list[StoreReport]]:
    """The bundle of everything held about the subject, and what each store gave."""
    bundle: dict[str, Any] = {"sandbox": subject.sandbox, **subject.to_document()}
    reports: list[StoreReport] = []
    for name, gatherer in _GATHERERS:
        step(name)
        report = StoreReport(name)
        with reaching(report):
            bundle[name] = gatherer(workspace, subject, report)
        reports.append(report)
    return jsonable(bundle), reports


def _lake(workspace: Workspace, subject: Subject, report: StoreReport) -> dict[str, Any]:
    _sandbox_id, datasets = sandbox_datasets(workspace, subject.sandbox)
    found: dict[str, Any] = {}
    con = connect(workspace.settings)
    try:
        condition, _carried = lake_condition(workspace, con, subject)
        for dataset in datasets:
            rows = find_rows(workspace, con, subject.sandbox, dataset.name, condition)
            if rows.num_rows:
                found[dataset.name] = rows.to_pylist()
    finally:
        con.disconnect()
    report.found = sum(len(rows) for rows in found.values())
    report.details = {"datasets": {name: len(rows) for name, rows in found.items()}}
    return found


def _diagnostics(workspace: Workspace, subject: Subject, report: StoreReport) -> list[dict[str, Any]]:
    found = diagnostics_naming(workspace, subject.sandbox_id, subject.values)
    report.found = len(found)
    return found


def _graphs(workspace: Workspace, subject: Subject, report: StoreReport) -> list[dict[str, Any]] | None:
    from accord.identity import graph_folder, graph_of

    if not graph_folder(workspace, subject.sandbox_id).exists():
        report.not_reached("no identity graph was built in this sandbox")
        return None
    found = []
    for person in subject.people:
        if person.graph is None:
            continue
        namespace, value = person.identities[0]
        found.append(graph_of(workspace, subject.sandbox, namespace, value))
    report.found = sum(len(graph["identities"]) for graph in found)
    report.details = {"graphs": len(found)}
    return found


def _profiles(workspace: Workspace, subject: Subject, report: StoreReport) -> list[dict[str, Any]]:
    """Their merged profiles as lookups give them: from the store while it is current, else from the lake."""
    from accord.profile import get_profile

    found = []
    for person in subject.people:
        namespace, value = person.identities[0]
        try:
            found.append(get_profile(workspace, subject.sandbox, namespace, value, events_limit=EVENTS))
        except NotFoundError:  # an identity of no profile (a dataset that feeds none, or nothing at all)
            continue
    report.found = len(found)
    return found


def _memberships(workspace: Workspace, subject: Subject, report: StoreReport) -> dict[str, Any]:
    from accord.segment import memberships_of

    found = memberships_of(workspace, subject.sandbox, subject.graphs)
    report.found = sum(len(p["memberships"]) + len(p["history"]) for p in found.values())
    return found


def _activations(workspace: Workspace, subject: Subject, report: StoreReport) -> dict[str, Any]:
    from accord.destinations import dead_letters_of, export_folders, files_naming, snapshots_of

    found = {
        "snapshots": snapshots_of(workspace, subject.sandbox_id, subject.graphs),
        "deadLetters": dead_letters_of(workspace, subject.sandbox_id, subject.graphs, subject.values),
        "files": files_naming(export_folders(workspace, subject.sandbox_id), subject.values),
    }
    report.found = (sum(len(s["rows"]) for s in found["snapshots"]) + len(found["deadLetters"])
                    + sum(len(f["rows"]) for f in found["files"]))  # fmt: skip
    return found


def _campaign(workspace: Workspace, subject: Subject, report: StoreReport) -> dict[str, Any] | None:
    from accord.campaign import bounce_messages_naming, instance_folders, recipients_of
    from accord.destinations import files_naming

    with campaign_of(workspace, subject.sandbox, subject.campaign_withheld) as (engine, why_not):
        if engine is None:
            report.not_reached(why_not or "")
            return None
        found = recipients_of(engine, subject.external_ids, subject.emails)
        found["files"] = files_naming(instance_folders(engine), subject.values)
        found["bounceMessages"] = bounce_messages_naming(engine, subject.emails)
    report.found = sum(len(v) for v in found.values())
    return found


def _event_log(workspace: Workspace, subject: Subject, report: StoreReport) -> list[dict[str, Any]] | None:
    from accord.streaming import event_log, messages_naming

    reach = event_log(workspace.settings)
    if reach.path is None:
        report.not_reached(reach.why_not or "")
        return None
    _sandbox_id, datasets = sandbox_datasets(workspace, subject.sandbox)
    found = messages_naming(reach.path, [d.id for d in datasets], subject.values)
    report.found = len(found)
    return found


def _catalog(workspace: Workspace, subject: Subject, report: StoreReport) -> dict[str, Any]:
    from accord.identity import removals_naming

    with workspace.catalog.session() as session:
        found = {"identityRemovals": removals_naming(session, subject.sandbox_id, subject.nodes)}
    report.found = len(found["identityRemovals"])
    return found


_GATHERERS: list[tuple[str, Callable[[Workspace, Subject, StoreReport], Any]]] = [
    ("eventLog", _event_log),
    ("lake", _lake),
    ("identityGraph", _graphs),
    ("profileStore", _profiles),
    ("segmentMemberships", _memberships),
    ("activations", _activations),
    ("campaign", _campaign),
    ("lakeDiagnostics", _diagnostics),
    ("catalog", _catalog),
    ("sourceFiles", source_files),
]


def bundle_bytes(bundle: dict[str, Any]) -> bytes:
    """The bundle as the file holds it: JSON, indented, values as `jsonable` gave them."""
    return json.dumps(bundle, indent=2, default=str, ensure_ascii=False).encode("utf-8")
