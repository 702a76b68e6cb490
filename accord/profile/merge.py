"""Merging profile fragments: pure functions over plain records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accord.profile.policies import MergePolicy


@dataclass(frozen=True)
class Fragment:
    """One record of a profile dataset that belongs to the person."""

    dataset_id: str
    dataset: str
    batch: str
    record: str
    ingested: datetime | None
    values: dict[str, Any]


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Leaf paths and their values, nulls left out; identityMap is identities, not attributes."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if path == "identityMap" or value is None:
            continue
        if isinstance(value, dict) and value:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def unflatten(paths: dict[str, Any]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path, value in sorted(paths.items()):
        node = root
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return root


def merge(fragments: list[Fragment], policy: MergePolicy) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The merged attributes, and for each attribute the fragment its value came from."""
    rank = {dataset_id: index for index, dataset_id in enumerate(policy.datasets)}

    def preference(fragment: Fragment) -> tuple[Any, ...]:
        newest = (fragment.ingested.timestamp() if fragment.ingested else 0.0, fragment.record)
        if policy.kind == "dataset_precedence":
            return (-rank.get(fragment.dataset_id, len(rank)), *newest)
        return newest

    winners: dict[str, Any] = {}
    sources: dict[str, dict[str, str]] = {}
    for fragment in sorted(fragments, key=preference):  # later ones (preferred) overwrite earlier ones
        for path, value in flatten(fragment.values).items():
            winners[path] = value
            sources[path] = {"dataset": fragment.dataset, "batch": fragment.batch, "record": fragment.record}
    return unflatten(winners), dict(sorted(sources.items()))
