"""The identities of profiles by their graph ids, as the profile store holds them: how a page names the people
it shows by graph id (an audience's members), without reading their attributes."""

from __future__ import annotations

from collections.abc import Collection

from accord.catalog import resolve_sandbox
from accord.identity import SEPARATOR
from accord.profile.store import ProfileStore, store_folder
from accord.workspace import Workspace


def store_identities(workspace: Workspace, sandbox: str, graphs: Collection[int]) -> dict[int, list[tuple[str, str]]]:
    """Each profile's identities `(namespace, id)`, sorted, by graph id: a binary search per profile in the
    memory-mapped store (none for a profile the store does not hold, or before its first build). Segment jobs
    evaluate the store, so the graph ids of memberships are the store's."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
    store = ProfileStore.open(store_folder(workspace, sandbox_id))
    if store is None:
        return {graph: [] for graph in graphs}
    return {graph: sorted((namespace, value) for namespace, _, value in
                          (node.partition(SEPARATOR) for node in store.identities_of(graph)))
            for graph in graphs}  # fmt: skip
