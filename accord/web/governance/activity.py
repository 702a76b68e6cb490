"""The activity log: filtered by since / user / object, a page at a time, newest first, and exported whole as
JSON lines (the services of `GET /audit` and `GET /audit/export`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from accord import access
from accord.errors import AccordError
from accord.web.pages import SECURITY_HEADERS, Entered, entered

router = APIRouter(include_in_schema=False)
PAGE = 50
"""Entries a page shows."""


@dataclass
class Filters:
    """What the filter form asked for, as typed, and the query it makes (or what is wrong with each field)."""

    since: str = ""
    user: str = ""
    object: str = ""
    before: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def query(self, sandbox: str, limit: int) -> access.ActivityQuery | None:
        """The service's query, or None when a field is wrong (said in `errors`)."""
        for name, most in (("since", 64), ("user", 64), ("object", 200), ("before", 20)):
            if len(getattr(self, name)) > most:
                self.errors[name] = f"at most {most} characters"
        if self.before and not self.before.isdigit():
            self.errors["before"] = "the page asked for is not one of this log's"
        since = None
        if self.since and "since" not in self.errors:
            try:
                since = access.parse_since(self.since, "since")
            except AccordError as exc:
                self.errors["since"] = exc.message
        if self.errors:
            return None
        return access.ActivityQuery(sandbox, since, None, self.user.strip() or None, self.object.strip() or None,
                                    int(self.before) if self.before else None, limit)  # fmt: skip

    @property
    def shown(self) -> dict[str, str]:
        """The filters to carry into the next page's link and the export's."""
        return {k: v for k, v in (("since", self.since), ("user", self.user), ("object", self.object)) if v}


@router.get("/ui/governance/activity", response_class=HTMLResponse)
def get_activity(request: Request, sandbox: str | None = None, since: str = "", user: str = "", object: str = "",
                 before: str = "") -> Response:  # fmt: skip
    """The sandbox's entries (and the home's own, for a caller of every sandbox), newest first, `PAGE` at a
    time; `before` is the page's start (the id the previous page ended at)."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    filters = Filters(since, user, object, before)
    query = filters.query(entry.sandbox, PAGE)
    items = access.list_activity(entry.workspace.catalog, entry.caller, query) if query else []
    following = items[-1]["id"] if len(items) == PAGE else None
    return entry.render("governance/activity.html", "Activity log", items=items, filters=filters,
                        following=following)  # fmt: skip


@router.get("/ui/governance/activity/export")
def get_activity_export(request: Request, sandbox: str | None = None, since: str = "", user: str = "",
                        object: str = "") -> Response:  # fmt: skip
    """Every entry the filters select, as JSON lines (one entry a line), to download; wrong filters are said on
    the log's page."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    filters = Filters(since, user, object)
    query = filters.query(entry.sandbox, 1000)
    if query is None:
        return entry.render("governance/activity.html", "Activity log", items=[], filters=filters, following=None)
    entries = access.export_activity(entry.workspace.catalog, entry.caller, query)
    headers = {**SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="activity.jsonl"'}
    return StreamingResponse((json.dumps(e) + "\n" for e in entries), media_type="application/x-ndjson",
                             headers=headers)  # fmt: skip
