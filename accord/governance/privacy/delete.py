"""A privacy delete job: the people asked for, removed from every store (`reports.STORES`), in an order that keeps
the stores true to each other.

1. the event log first, so that messages of theirs not yet taken are never ingested after the lake is clean;
2. the lake: every row that carries one of their identities, in every dataset (`lake.erase_rows`);
3. the identity graphs: the groups those rows touched are solved again from what remains
   (`identity.solve_again`), so that no graph keeps an identity or a link only their rows gave;
4. the profile store follows the graphs (`profile.follow_graphs`); audience memberships and history lose the
   profiles that are gone;
5. activations: destinations that can delete records are told (deletion exports), then snapshots, dead
   letters and export files under the home lose them;
6. the campaign instance the sandbox activates to, the failed rows batches kept, and the catalog's records
   that name them;
7. the input files under the home that the sandbox's local connections read are searched and reported, and
   left as they are (`reach.source_folders` says why).
The caller holds the locks of the sandbox and of its activation flows. Every store is worked on within its
own boundary (`reports.reaching`): a failure is reported there and the job goes on with the others."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from accord.engine import connect
from accord.governance.privacy.reach import campaign_of, lake_condition, source_files
from accord.governance.privacy.reports import STORES, StoreReport, reaching
from accord.identity import SEPARATOR, GraphChange, affected_identities, forget_removals, solve_again
from accord.lake import Renumbering, erase_diagnostics, erase_rows, sandbox_datasets
from accord.secure_delete import secure_session_deletes

if TYPE_CHECKING:
    from accord.governance.privacy.subject import Subject
    from accord.workspace import Workspace

Step = Callable[[str], None]


def erase(workspace: Workspace, subject: Subject, label: str, staging: Path, step: Step) -> list[StoreReport]:
    """Remove the subject from every store; a report per store. `label` names the deletion exports (the job's
    id), `staging` is where they are written before they go out."""
    reports = {name: StoreReport(name) for name in STORES}
    step("eventLog")
    with reaching(reports["eventLog"]):
        _event_log(workspace, subject, reports["eventLog"])
    step("lake")
    renumbering = Renumbering()
    carried: set[str] = set()
    with reaching(reports["lake"]):
        carried = _lake(workspace, subject, renumbering, reports["lake"])
    step("identityGraph")
    change: GraphChange | None = None
    gone = set(subject.graphs)
    with reaching(reports["identityGraph"]):
        change = _graphs(workspace, subject, carried, renumbering, reports["identityGraph"])
        if change is not None:
            gone = change.old_graphs - {int(g) for g in change.nodes["graph"].to_pylist()} | gone

    step("profileStore")
    with reaching(reports["profileStore"]):
        _profiles(workspace, subject, change, renumbering, reports["profileStore"])
    step("segmentMemberships")
    with reaching(reports["segmentMemberships"]):
        from accord.segment import forget_memberships

        erased = forget_memberships(workspace, subject.sandbox, gone)
        reports["segmentMemberships"].details = erased.to_document()
        reports["segmentMemberships"].removed = erased.memberships + erased.history + erased.streaming
        if not erased.log_emptied:
            reports["segmentMemberships"].details["writeAheadLogEmptied"] = False
    step("activations")
    with reaching(reports["activations"]):
        _activations(workspace, subject, gone, label, staging, reports["activations"])
    step("campaign")
    with reaching(reports["campaign"]):
        _campaign(workspace, subject, reports["campaign"])
    step("lakeDiagnostics")
    with reaching(reports["lakeDiagnostics"]):
        reports["lakeDiagnostics"].removed = erase_diagnostics(workspace, subject.sandbox_id, subject.values)
    step("catalog")
    with reaching(reports["catalog"]):
        with workspace.catalog.session() as session:
            secure_session_deletes(session)
            # and the removals of identities no row names any more: a user's removal may have kept one of theirs
            # out of their graph, and the erasure took the last rows that carried it
            named = subject.nodes | (change.gone if change is not None else set())
            removals = forget_removals(session, subject.sandbox_id, named)
        reports["catalog"].removed += removals
        reports["catalog"].details["identityRemovals"] = removals
    step("sourceFiles")
    with reaching(reports["sourceFiles"]):
        source_files(workspace, subject, reports["sourceFiles"])
    for report in reports.values():
        report.found = max(report.found, report.removed)
    return list(reports.values())


def _event_log(workspace: Workspace, subject: Subject, report: StoreReport) -> None:
    from accord.streaming import event_log, forget_messages

    reach = event_log(workspace.settings)
    if reach.path is None:
        report.not_reached(reach.why_not or "")
        return
    _sandbox_id, datasets = sandbox_datasets(workspace, subject.sandbox)
    report.removed, emptied = forget_messages(reach.path, [d.id for d in datasets], subject.values)
    if not emptied:
        report.details["writeAheadLogEmptied"] = False


def _lake(workspace: Workspace, subject: Subject, renumbering: Renumbering, report: StoreReport) -> set[str]:
    """Erase the rows; the identities (graph names) they carried."""
    _sandbox_id, datasets = sandbox_datasets(workspace, subject.sandbox)
    carried: set[str] = set()
    con = connect(workspace.settings)
    try:
        condition, carried_of = lake_condition(workspace, con, subject)
        for dataset in datasets:
            erased = erase_rows(workspace, con, subject.sandbox, dataset, condition, renumbering,
                                carried_of if dataset.profile_enabled else None)  # fmt: skip
            if erased.rows:
                report.details.setdefault("datasets", {})[dataset.name] = erased.rows
                report.details.setdefault("batchesRewritten", 0)
                report.details["batchesRewritten"] += len(erased.batches)
                report.removed += erased.rows
            if erased.identities is not None:
                pairs = zip(erased.identities["namespace"].to_pylist(), erased.identities["id"].to_pylist(),
                            strict=True)  # fmt: skip
                carried |= {f"{namespace}{SEPARATOR}{value}" for namespace, value in pairs}
    finally:
        con.disconnect()
    return carried


def _graphs(workspace: Workspace, subject: Subject, carried: set[str], renumbering: Renumbering,
            report: StoreReport) -> GraphChange | None:  # fmt: skip
    affected = affected_identities(workspace, subject.sandbox_id, subject.nodes | carried)
    change = solve_again(workspace, subject.sandbox, affected, renumbering)
    if change is None:
        report.not_reached("no identity graph was built in this sandbox")
        return None
    report.removed = change.identities_removed
    report.details = {"identitiesRemoved": change.identities_removed, "linksRemoved": change.links_removed,
                      "identitiesSolvedAgain": len(affected), "graphsBefore": len(change.old_graphs),
                      "graphsAfter": len(set(change.nodes["graph"].to_pylist()))}  # fmt: skip
    return change


def _profiles(workspace: Workspace, subject: Subject, change: GraphChange | None, renumbering: Renumbering,
              report: StoreReport) -> None:  # fmt: skip
    from accord.profile import follow_graphs

    if change is None:
        report.not_reached("no identity graph, hence no profile store, in this sandbox")
        return
    done = follow_graphs(workspace, subject.sandbox, change, renumbering)
    if done.how == "none":
        report.not_reached("no profile store was built in this sandbox")
        return
    report.removed = done.profiles_removed + done.fragments_removed + done.events_removed
    report.details = done.to_document()


def _activations(workspace: Workspace, subject: Subject, gone: set[int], label: str, staging: Path,
                 report: StoreReport) -> None:  # fmt: skip
    from accord.destinations import export_folders, forget_dead_letters, forget_snapshots, scrub_folders

    erased = forget_snapshots(workspace, subject.sandbox, subject.graphs, gone, label, staging)
    forget_dead_letters(workspace, subject.sandbox_id, gone, subject.values, erased)
    scrub_folders(export_folders(workspace, subject.sandbox_id), subject.values, erased)
    report.removed = erased.snapshot_rows + erased.dead_letters + sum(f["rows"] for f in erased.files)
    report.details = erased.to_document()


def _campaign(workspace: Workspace, subject: Subject, report: StoreReport) -> None:
    from accord.campaign import forget_recipients, instance_folders
    from accord.destinations import ActivationsErased, scrub_folders

    with campaign_of(workspace, subject.sandbox, subject.campaign_withheld) as (engine, why_not):
        if engine is None:
            report.not_reached(why_not or "")
            return
        # the log export is held (it must not write rows it read before the delete), and files go first (an
        # import running meanwhile must not bring a recipient back from an audience file)
        with engine.hold("log-export", "privacy delete"):
            files = ActivationsErased()
            scrub_folders(instance_folders(engine), subject.values, files)
            erased = forget_recipients(engine, subject.external_ids, subject.emails)
            erased.files = files.files
    report.removed = erased.total()
    report.details = erased.to_document()
    if not erased.log_emptied:
        report.details["writeAheadLogEmptied"] = False
