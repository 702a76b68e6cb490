"""The profile store at a glance: what its last build made, read from its manifest (no profile is read)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from accord.catalog import resolve_sandbox
from accord.profile.store import store_folder
from accord.workspace import Workspace


def store_summary(workspace: Workspace, sandbox: str) -> dict[str, Any] | None:
    """When the profiles were last built, on which merge policy, and how many profiles, fragments and events
    that build made; None before the first build."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
    try:
        manifest = json.loads((store_folder(workspace, sandbox_id) / "manifest.json").read_text())
    except FileNotFoundError:
        return None
    built = datetime.fromtimestamp(manifest["builtAt"], UTC).isoformat()
    return {"profiles": manifest["profiles"], "fragments": manifest["fragments"], "events": manifest["events"],
            "policy": manifest["policy"], "builtAt": built}  # fmt: skip
