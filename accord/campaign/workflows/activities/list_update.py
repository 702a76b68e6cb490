"""List update: the incoming population into a list: added (made first if missing), replacing the members,
or taken out; `purge` empties the list. With `audience`, each loaded audience file goes to the list named
after its audience (origin `audience`, its audience id kept): its members join, and those who left leave:
with full files (the CDP flow's default export mode) whoever is not in the run's files of that audience, with
incremental files those marked exited. The audience's audit record says how many were removed. Each list's
change is one transaction, and doing it again changes nothing."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator
from sqlalchemy import delete, insert, select, update

from accord.campaign.engine import publish_instance
from accord.campaign.exceptions import CampaignInputError, UnknownObjectError
from accord.campaign.models import AudienceLoadRecord, ListMemberRecord, ListRecord
from accord.campaign.workflows.audiences import Audience, find_audience_list
from accord.campaign.workflows.loading import CHUNK
from accord.campaign.workflows.records import table
from accord.campaign.workflows.spec import Activity, ActivityOptions, ActivityResult, ActivitySpec, Inputs, RunContext
from accord.catalog import utcnow


class ListUpdateOptions(ActivityOptions):
    list: str | None = Field(default=None, min_length=1, max_length=255, description="The list's name.")
    audience: bool = Field(default=False, description="Each audience file to the list named after its audience.")
    mode: Literal["add", "replace", "remove", "purge"] = Field(
        default="add", description="add the population, replace the members by it, remove it, or purge the list."
    )
    create: bool = Field(default=True, description="Make the list when it does not exist (else: an error).")
    membership: Literal["full", "incremental"] = Field(
        default="full",
        description="With `audience`: `full` files hold an audience's every member (the CDP flow's default export "
        "mode), so whoever is not in them leaves the list; `incremental` files hold changes, and only members "
        "marked exited (or operation delete) leave.",
    )

    @model_validator(mode="after")
    def _one_target(self) -> ListUpdateOptions:
        if (self.list is None) == (not self.audience):
            raise ValueError("a list update names a `list`, or says `audience: true` (a list per audience)")
        return self


class ListUpdate(Activity[ListUpdateOptions]):
    spec = ActivitySpec(
        name="list-update",
        description="Add the incoming recipients to a list, replace its members, remove them, or purge it.",
        options=ListUpdateOptions,
    )

    def run(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        if self.options.audience:
            result = self._audiences(context, inputs)
            publish_instance(context.engine)  # the audiences it now holds, for the CDP's next activation
            return result
        assert self.options.list is not None
        population = inputs.population()
        with context.engine.database.session() as session:
            record = session.scalar(select(ListRecord).where(ListRecord.name == self.options.list))
            if record is None and not self.options.create:
                raise UnknownObjectError("list", self.options.list, list(session.scalars(select(ListRecord.name))))
            if record is None:
                record = _new_list(session, self.options.list, "workflow", None)
            if self.options.mode == "purge":
                added, removed = 0, _remove(session, record.id, None)
            elif self.options.mode == "remove":
                added, removed = 0, _remove(session, record.id, population & _members(session, record.id))
            else:
                current = _members(session, record.id)
                removed = _remove(session, record.id, current - population) if self.options.mode == "replace" else 0
                added = _add(session, record.id, population - current)
            record.updated_at = utcnow()
        return ActivityResult.of_population(population, added=added, removed=removed)

    def _audiences(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        groups: dict[str, list[dict[str, Any]]] = {}  # the parts of one audience's export come as several files
        for file in inputs.files():
            if "audience" not in file or "population" not in file:
                raise CampaignInputError(f"activity {context.activity!r} updates lists per audience: it follows an "
                                         "update data with `audience: true`", activity=context.activity)  # fmt: skip
            groups.setdefault(file["audience"]["id"], []).append(file)
        added = removed = 0
        population: set[int] = set()
        for files in groups.values():
            audience = Audience(files[0]["audience"]["id"], files[0]["audience"]["list"])
            joining = set().union(*(f["population"] for f in files))
            leaving = set().union(*(f["leaving"] for f in files)) - joining
            with context.engine.database.session() as session:
                record = find_audience_list(session, audience)
                if record is None:
                    record = _new_list(session, audience.list_name, "audience", audience.id)
                current = _members(session, record.id)
                gone = current - joining if self.options.membership == "full" else leaving & current
                group_added, group_removed = (
                    _add(session, record.id, joining - current),
                    _remove(session, record.id, gone),
                )
                record.updated_at = utcnow()
                for file in files:  # the removals are said on the audience's last file
                    if file.get("load") is not None:
                        said = group_removed if file is files[-1] else 0
                        session.execute(update(AudienceLoadRecord).where(AudienceLoadRecord.id == file["load"])
                                        .values(list_name=record.name, removed=said))  # fmt: skip
            added, removed = added + group_added, removed + group_removed
            population |= joining
        return ActivityResult.of_population(population, added=added, removed=removed, lists=len(groups))


def _new_list(session: Any, name: str, origin: str, audience_id: str | None) -> ListRecord:
    record = ListRecord(name=name, label=name, origin=origin, audience_id=audience_id)
    session.add(record)
    session.flush()
    return record


def _members(session: Any, list_id: int) -> set[int]:
    return set(session.scalars(select(ListMemberRecord.recipient_id).where(ListMemberRecord.list_id == list_id)))


def _add(session: Any, list_id: int, ids: set[int]) -> int:
    if ids:
        now = utcnow()
        session.connection().execute(insert(table(ListMemberRecord)),
                        [{"list_id": list_id, "recipient_id": i, "status": "member", "added_at": now}
                         for i in sorted(ids)])  # fmt: skip
    return len(ids)


def _remove(session: Any, list_id: int, ids: set[int] | None) -> int:
    """Take these recipients (or, with None, every member) out of the list; returns how many left it."""
    if ids is None:
        return session.execute(delete(ListMemberRecord).where(ListMemberRecord.list_id == list_id)).rowcount or 0
    ordered = sorted(ids)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        session.execute(
            delete(ListMemberRecord).where(
                ListMemberRecord.list_id == list_id, ListMemberRecord.recipient_id.in_(chunk)
            )
        )
    return len(ordered)
