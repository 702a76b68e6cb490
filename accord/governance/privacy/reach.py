"""How a privacy job reaches the stores it reads and erases: the condition that finds a person's rows in the
lake, and the campaign instance a sandbox activates to."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accord.identity import carried_identities, carries_any, namespaces, wanted_table

if TYPE_CHECKING:
    from accord.campaign import CampaignEngine
    from accord.governance.privacy.subject import Subject
    from accord.workspace import Workspace

WANTED = "acc_privacy_wanted"
CAMPAIGN = "accord-campaign"


def lake_condition(workspace: Workspace, con: Any, subject: Subject) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """(condition, identities of rows): what finds the rows carrying one of the subject's identities in a
    dataset, and what gives the identities a dataset's rows carry (for the graphs that must be solved again)."""
    with workspace.catalog.session() as session:
        known = namespaces(session, subject.sandbox_id)
    identities = subject.identities
    wanted = wanted_table(con, WANTED, identities)
    present = {namespace for namespace, _value in identities}

    def condition(table: Any, schema: Any) -> Any:
        return carries_any(table, schema, wanted, known, present)

    def carried(rows: Any, schema: Any, dataset_id: str) -> Any:
        return carried_identities(rows, schema, dataset_id, known)

    return condition, carried


def campaign_accounts(workspace: Workspace, sandbox: str) -> list[dict[str, Any]]:
    """The sandbox's accounts of the campaign destination that land in this home's instance."""
    from accord.destinations import list_accounts

    settings = workspace.settings
    with workspace.catalog.session() as session:
        accounts = list_accounts(session, sandbox)
    landing, instance = settings.campaign_landing_folder, settings.campaign_instance
    return [a for a in accounts if a["destination"] == CAMPAIGN and a["config"].get("instance") == instance
            and Path(str(a["config"].get("root", ""))).expanduser().resolve() == landing]  # fmt: skip


def source_folders(workspace: Workspace, sandbox: str) -> list[Path]:
    """The folders under the home that the sandbox's local connections read: the operator's input files, which a
    privacy job reports and leaves as they are (a dataflow would take a rewritten file for a new one, and ingest
    everyone in it again). The campaign instance's log folder is the campaign store's."""
    from accord.sources import list_connections

    home = workspace.settings.home.expanduser().resolve()
    with workspace.catalog.session() as session:
        connections = list_connections(session, sandbox)
    roots = {Path(str(c["config"].get("root", ""))).expanduser().resolve() for c in connections
             if c["connector"] == "local" and c["config"].get("root")}  # fmt: skip
    own = workspace.settings.campaign_logs_folder
    return sorted(r for r in roots if r.is_relative_to(home) and r.is_dir() and not r.is_relative_to(own))


def source_files(workspace: Workspace, subject: Subject, report: Any) -> list[dict[str, Any]]:
    """The rows naming the subject in the sandbox's input files under the home, reported (never changed)."""
    from accord.destinations import files_naming

    home = workspace.settings.home.expanduser().resolve()
    found = files_naming(source_folders(workspace, subject.sandbox), subject.values)
    report.found = sum(len(f["rows"]) for f in found)
    if found:
        report.details = {"leftAsTheyAre": [{"file": str(Path(f["path"]).relative_to(home)), "rows": len(f["rows"])}
                                            for f in found],
                          "why": "input files of the sandbox's local connections: remove them (or their rows) by "
                                 "hand, before a dataflow reads them again"}  # fmt: skip
    return found


@contextmanager
def campaign_of(workspace: Workspace, sandbox: str,
                withheld: str | None = None) -> Iterator[tuple[CampaignEngine | None, str | None]]:  # fmt: skip
    """This home's campaign instance, when the sandbox activates to it and the job is not `withheld` from it;
    else None and why the job does not reach it. An instance serves the organisation, not a sandbox: a
    sandbox that sends it nothing has nothing of its own there."""
    from accord.campaign import CampaignEngine
    from accord.campaign.exceptions import CampaignNotInitialisedError

    if withheld is not None:
        yield None, withheld
        return
    if not campaign_accounts(workspace, sandbox):
        instance = workspace.settings.campaign_instance
        yield (
            None,
            (
                f"the sandbox sends nothing to this home's campaign instance ({instance}): no "
                "`accord-campaign` destination account lands in its folder"
            ),
        )
        return
    try:
        engine = CampaignEngine.open(workspace.settings)
    except CampaignNotInitialisedError:
        yield None, "this home has no campaign instance yet"
        return
    try:
        yield engine, None
    finally:
        engine.close()
