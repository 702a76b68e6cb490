"""The workspace's governance pages: an index whose sections show by the permission each needs, then labels on
data, policies and marketing actions, privacy jobs, the activity log, and users and roles (one module each).

Pages read under `/ui/governance/...`; the forms post to `/ui` + the API's own path for the same change
(`/ui/datasets/crm/labels` as `POST /datasets/crm/labels`), so that the activity log names the same object
whichever way the change came."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from accord.access import Permission
from accord.web.governance import activity, labels, policies, privacy, users
from accord.web.pages import Entered, entered

router = APIRouter(include_in_schema=False)
for part in (labels, policies, privacy, activity, users):
    router.include_router(part.router)

RECENT_JOBS = 5


@router.get("/ui/governance", response_class=HTMLResponse)
def get_governance(request: Request, sandbox: str | None = None) -> Response:
    """What the person may do here: labels and policies, privacy jobs, the activity log, users and roles, each
    section shown only with the permission it needs."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return entry.render("governance/index.html", "Governance", **_sections(entry))


def _sections(entry: Entered) -> dict[str, Any]:
    from accord import governance

    found: dict[str, Any] = {"policies": None, "jobs": None}
    ws = entry.workspace
    if entry.holds(Permission.VIEW_DATA_USAGE_POLICIES):
        with ws.catalog.session() as session:
            found["policies"] = governance.list_policies(session, entry.sandbox)
    if entry.holds(Permission.MANAGE_PRIVACY_JOBS):
        found["jobs"] = governance.list_privacy_jobs(ws, entry.sandbox, RECENT_JOBS)
    return found
