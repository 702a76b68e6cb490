"""Keeping profiles true to the lake: the full rebuild, and deletions that flow through to profiles.

Deleting a batch or records of a profile-enabled dataset rebuilds the identity graphs and the profile
store of the sandbox, so that no graph keeps a link, and no profile a value or an event, that only
the deleted rows gave. A rebuild is a full one: it is the only way to know that no other record
still holds the same link."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accord import lake
from accord.catalog import BatchRecord, DatasetRecord, resolve_sandbox
from accord.errors import NotFoundError
from accord.profile.store import build_profiles
from accord.workspace import Workspace


def rebuild(workspace: Workspace, sandbox: str, on_step: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    """Rebuild the identity graphs, then the profile store, of a sandbox; `on_step(label, fraction done)`.

    Holds the sandbox's lock throughout (see `accord.lake.sandbox_job`)."""
    from accord.identity import build_graph

    step = on_step or (lambda _label, _done: None)
    with lake.sandbox_job(workspace, sandbox, "profile rebuild"):
        step("building identity graphs", 0.0)
        graphs = build_graph(workspace, sandbox)
        step("merging profiles", 0.5)
        if graphs.identities == 0:
            return {"graph": graphs.to_document(), "profiles": None}
        return {"graph": graphs.to_document(), "profiles": build_profiles(workspace, sandbox).to_document()}


def _feeds_profiles(workspace: Workspace, sandbox: str, dataset_id: str) -> bool:
    """The dataset is profile-enabled and graphs have been built (otherwise there is nothing to follow)."""
    from accord.identity import graph_folder

    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        dataset = session.get(DatasetRecord, dataset_id)
        enabled = dataset is not None and dataset.profile_enabled and dataset.sandbox_id == sandbox_id
    return enabled and graph_folder(workspace, sandbox_id).exists()


def delete_batch(workspace: Workspace, sandbox: str, batch_id: str) -> dict[str, Any]:
    """Delete a batch; when it fed profiles, the graphs and profiles follow (under one hold of the sandbox's lock)."""
    with lake.sandbox_job(workspace, sandbox, f"deletion of batch {batch_id}"):
        with workspace.catalog.session() as session:
            batch = session.get(BatchRecord, batch_id)
            if batch is None or batch.sandbox_id != resolve_sandbox(session, sandbox).id:
                raise NotFoundError(f"no batch with id {batch_id!r} in this sandbox", code="BATCH-0404-404",
                                    batch=batch_id)  # fmt: skip
            was_visible, dataset_id = batch.status == "success", batch.dataset_id
        deleted = lake.delete_batch(workspace, sandbox, batch_id)
        feeds = was_visible and _feeds_profiles(workspace, sandbox, dataset_id)
        return {**deleted, "profilesRebuilt": rebuild(workspace, sandbox) if feeds else None}


def delete_records(workspace: Workspace, sandbox: str, dataset: str, ids: list[str]) -> dict[str, Any]:
    """Delete records by `_id`; when they fed profiles, the graphs and profiles follow (under one hold of the
    sandbox's lock)."""
    with lake.sandbox_job(workspace, sandbox, f"deletion of records of {dataset}"):
        deleted = lake.delete_records(workspace, sandbox, dataset, ids)
        with workspace.catalog.session() as session:
            record = lake.find_dataset(session, resolve_sandbox(session, sandbox).id, dataset)
            dataset_id = record.id
        refreshed = rebuild(workspace, sandbox) if _feeds_profiles(workspace, sandbox, dataset_id) else None
    return {**deleted, "profilesRebuilt": refreshed}
