"""The activity registry: built-in and third-party activities, found through the entry point group
`accord.campaign_activities` and imported only when first asked for."""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from accord.campaign.exceptions import CampaignInputError
from accord.campaign.workflows.spec import Activity, ActivitySpec

GROUP = "accord.campaign_activities"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def activity_types() -> list[str]:
    return sorted(_entry_points())


def activity_class(activity_type: str) -> type[Activity]:  # type: ignore[type-arg]
    entry = _entry_points().get(activity_type)
    if entry is None:
        raise CampaignInputError(f"unknown activity type {activity_type!r}; known: {', '.join(activity_types())}",
                                 type=activity_type, available=activity_types())  # fmt: skip
    loaded: type[Activity] = entry.load()  # type: ignore[type-arg]
    return loaded


def activity_spec(activity_type: str) -> ActivitySpec:
    return activity_class(activity_type).spec


def list_activities() -> list[ActivitySpec]:
    return [activity_spec(name) for name in activity_types()]
