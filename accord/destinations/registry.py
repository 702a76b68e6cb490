"""The destination registry: built-in and third-party destinations, found through entry points.

A package adds a destination by declaring an entry point in the `accord.destinations` group that
points at its `Destination` subclass; destinations are imported only when first asked for."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from accord.destinations.exceptions import MissingDependencyError, UnknownDestinationError
from accord.destinations.spec import Destination, DestinationSpec

GROUP = "accord.destinations"


@cache
def _entry_points() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def destination_ids() -> list[str]:
    return sorted(_entry_points())


def destination_class(destination_id: str) -> type[Destination]:  # type: ignore[type-arg]
    entry = _entry_points().get(destination_id)
    if entry is None:
        raise UnknownDestinationError(destination_id, destination_ids())
    try:
        loaded = entry.load()  # type: ignore[attr-defined]
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(destination_id, exc.name or "?") from None
    return loaded  # type: ignore[no-any-return]


def destination_spec(destination_id: str) -> DestinationSpec:
    return destination_class(destination_id).spec


def list_destinations() -> list[DestinationSpec]:
    """Every destination whose code loads here (one missing its package is left out)."""
    specs = []
    for destination_id in destination_ids():
        try:
            specs.append(destination_spec(destination_id))
        except MissingDependencyError:
            continue
    return specs
