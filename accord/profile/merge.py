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


REASONS = {
    "only": "the only record that holds a value",
    "precedence": "its dataset comes first in the merge policy's dataset precedence",
    "newest": "its batch was committed last",
    "record": "its batch was committed at the same instant as another's: the greater record id wins",
}
"""Why an attribute's value won (`sources[path]["reason"]`): over the fragment that came second, if any."""


def merge(fragments: list[Fragment], policy: MergePolicy) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The merged attributes, and for each attribute the fragment its value came from and why it won.

    Fragments are preferred by dataset precedence (dataset_precedence policies: listed datasets in
    order, then the others), then the latest batch commit (to the microsecond), then the greatest
    record id as text: a total order, the one `store.merge_fragments` applies in the engine. Each
    source says its dataset, batch, record and commit time, how many fragments had a value
    (`candidates`), and the `reason` (a key of `REASONS`) its value won over the one that came second."""
    rank = {dataset_id: index for index, dataset_id in enumerate(policy.datasets)}

    def newest(fragment: Fragment) -> tuple[datetime, str]:
        return (aware(fragment.ingested) if fragment.ingested else EPOCH, fragment.record)

    def preference(fragment: Fragment) -> tuple[Any, ...]:
        if policy.kind == "dataset_precedence":
            return (-rank.get(fragment.dataset_id, len(rank)), *newest(fragment))
        return newest(fragment)

    def reason(winner: Fragment, second: Fragment | None) -> str:
        if second is None:
            return "only"
        if policy.kind == "dataset_precedence" and preference(winner)[0] != preference(second)[0]:
            return "precedence"
        return "newest" if newest(winner)[0] != newest(second)[0] else "record"

    winners: dict[str, Any] = {}
    chosen: dict[str, Fragment] = {}
    seconds: dict[str, Fragment] = {}
    candidates: dict[str, int] = {}
    for fragment in sorted(fragments, key=preference):  # later ones (preferred) overwrite earlier ones
        for path, value in flatten(fragment.values).items():
            if path in chosen:
                seconds[path] = chosen[path]
            winners[path], chosen[path] = value, fragment
            candidates[path] = candidates.get(path, 0) + 1
    sources = {
        path: {"dataset": f.dataset, "batch": f.batch, "record": f.record,
               "ingested": aware(f.ingested).isoformat() if f.ingested else None,
               "reason": reason(f, seconds.get(path)), "candidates": candidates[path]}
        for path, f in sorted(chosen.items())
    }  # fmt: skip
    return unflatten(winners), sources
