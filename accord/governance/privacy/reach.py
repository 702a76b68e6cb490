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


@contextmanager
def campaign_of(workspace: Workspace, sandbox: str) -> Iterator[tuple[CampaignEngine | None, str | None]]:
    """This home's campaign instance, when the sandbox activates to it; else None and why the job does not
    reach it. An instance serves the organisation, not a sandbox: a sandbox that sends it nothing has nothing
    of its own there."""
    from accord.campaign import CampaignEngine
    from accord.campaign.exceptions import CampaignNotInitialisedError

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
