"""The connector registry: built-in and third-party connectors, found through entry points.

A package adds a connector by declaring an entry point in the `accord.sources` group that points
at its `Source` subclass; connectors are imported only when first asked for."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from accord.sources.exceptions import MissingDependencyError, UnknownConnectorError
from accord.sources.spec import ConnectorSpec, Source

GROUP = "accord.sources"


@cache
def _entry_points() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def connector_ids() -> list[str]:
    return sorted(_entry_points())


def connector_class(connector_id: str) -> type[Source]:  # type: ignore[type-arg]
    entry = _entry_points().get(connector_id)
    if entry is None:
        raise UnknownConnectorError(connector_id, connector_ids())
    try:
        loaded = entry.load()  # type: ignore[attr-defined]
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(connector_id, exc.name or "?") from None
    return loaded  # type: ignore[no-any-return]


def connector_spec(connector_id: str) -> ConnectorSpec:
    return connector_class(connector_id).spec


def list_connectors() -> list[ConnectorSpec]:
    """Every connector whose code loads here (a connector missing its package is left out)."""
    specs = []
    for connector_id in connector_ids():
        try:
            specs.append(connector_spec(connector_id))
        except MissingDependencyError:
            continue
    return specs
