"""The destination registry: built-in and third-party destinations, found through entry points.

A package adds a destination by declaring an entry point in the `accord.destinations` group that
points at its `Destination` subclass; destinations are imported only when first asked for. Declared
HTTP destinations (YAML or JSON documents, see `accord.destinations.streaming.documents`) are added
from a folder (setting `destinations_path`, by default `destinations` in Accord's home) by
`register_declared`, which the workspace calls as it opens; they cannot take a built-in's id."""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

from accord.destinations.exceptions import MissingDependencyError, UnknownDestinationError
from accord.destinations.spec import Destination, DestinationSpec

GROUP = "accord.destinations"
DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json")
log = logging.getLogger("accord.destinations")
_declared: dict[str, type[Destination]] = {}  # type: ignore[type-arg]


@cache
def _entry_points() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def destination_ids() -> list[str]:
    return sorted(set(_entry_points()) | set(_declared))


def destination_class(destination_id: str) -> type[Destination]:  # type: ignore[type-arg]
    entry = _entry_points().get(destination_id)
    if entry is None and destination_id in _declared:
        return _declared[destination_id]
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


def register_declared(folder: Path) -> dict[str, str]:
    """Add the declared destinations of `folder` (`*.yaml`, `*.yml`, `*.json`), replacing those it held before.

    A document that is not valid, or that takes a built-in's id or another file's, is left out and
    logged; what is wrong with each is returned by file name (`accord destination validate` says it in full)."""
    from accord.destinations.streaming.declared import load_declared
    from accord.errors import AccordError

    problems: dict[str, str] = {}
    found: dict[str, type[Destination]] = {}  # type: ignore[type-arg]
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in DOCUMENT_SUFFIXES) if folder.is_dir() else []
    for path in files:
        try:
            declared = load_declared(path)
        except AccordError as exc:
            problems[path.name] = exc.message
            continue
        taken = declared.spec.id in _entry_points() or declared.spec.id in found
        if taken:
            problems[path.name] = f"destination id {declared.spec.id!r} is taken"
            continue
        found[declared.spec.id] = declared
    for name, why in problems.items():
        log.warning("declared destination %s left out: %s", name, why)
    _declared.clear()
    _declared.update(found)
    return problems
