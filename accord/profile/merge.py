"""Merging profile fragments: pure functions over plain records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from accord.catalog import aware
from accord.profile.policies import MergePolicy

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""A fragment without a commit time counts as committed then (as in the engine)."""


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
    """The merged attributes, and for each attribute the fragment its value came from.

    Fragments are preferred by dataset precedence (dataset_precedence policies: listed datasets in
    order, then the others), then the latest batch commit (to the microsecond), then the greatest
    record id as text: a total order, the one `store.merge_fragments` applies in the engine."""
    rank = {dataset_id: index for index, dataset_id in enumerate(policy.datasets)}

    def preference(fragment: Fragment) -> tuple[Any, ...]:
        newest = (aware(fragment.ingested) if fragment.ingested else EPOCH, fragment.record)
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
