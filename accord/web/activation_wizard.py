"""The activation wizard: the audiences, then when each goes out and in which files, then the attributes and
identities that go out (mandatory ones, the deduplication key), then a review that shows what the data usage
policies say of the flow and which consents leave profiles out, and saves it.

Plain forms, one per step: each step posts the whole draft (the other steps' fields ride along hidden) to one
route, which checks it with the service that saving uses (`destinations.evaluate_draft`, which stores nothing)
and shows the next step, or the earliest step with a problem, each problem beside its field. "Save" calls
`create_flow`, as `POST /activations` does."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from accord.access import Permission
from accord.errors import AccordError, DocumentError
from accord.web.forms import MAX_TEXT
from accord.web.pages import Entered, acted, entered, redirect, refusal
from accord.web.posted import Posted, posted_form

router = APIRouter(include_in_schema=False)

STEPS = ("Audiences", "Schedule", "Attributes", "Review")
MAX_ROWS = 100
"""Mapping rows a form carries at most (a flow maps 50 fields by default, the reference product's limit)."""
SCHEDULE_KEYS = ("frequency", "time", "start", "end")
NAME_TAKEN = ("ACTIVATION-0401-400", "ACTIVATION-0409-409")
"""The errors `create_flow` gives a name it refuses."""


@dataclass(frozen=True)
class Row:
    """One mapping row: a profile attribute or identity, the name it takes at the destination."""

    source: str
    target: str
    mandatory: bool = False
    dedup: bool = False


@dataclass
class Draft:
    """An activation flow as the wizard's forms hold it."""

    name: str = ""
    audiences: list[str] = field(default_factory=list)
    schedules: dict[str, dict[str, str]] = field(default_factory=dict)
    export_mode: str = ""
    file_format: str = ""
    compression: str = ""
    rows: list[Row] = field(default_factory=list)
    blank: int = 3
    """Empty mapping rows shown after the filled ones."""

    @classmethod
    def read(cls, posted: Posted) -> Draft:
        audiences = list(dict.fromkeys(a for a in posted.many("audience") if a))
        rows = []
        for i in range(MAX_ROWS):
            source, target = posted.one(f"source-{i}").strip(), posted.one(f"target-{i}").strip()
            if source or target:
                rows.append(Row(source, target, posted.one(f"mandatory-{i}") == "on", posted.one(f"dedup-{i}") == "on"))
        blank = posted.one("blank")
        return cls(
            name=posted.one("flow_name").strip(),
            audiences=audiences,
            schedules={a: {k: posted.one(f"{k}-{a}").strip() for k in SCHEDULE_KEYS} for a in audiences},
            export_mode=posted.one("export_mode"),
            file_format=posted.one("format"),
            compression=posted.one("compression"),
            rows=rows,
            blank=min(int(blank), MAX_ROWS - len(rows)) if blank.isdigit() and len(blank) < 4 else 3,
        )

    def document(self) -> dict[str, Any]:
        """The flow's definition, as `POST /activations` takes it (without its name and account)."""
        audiences = []
        for segment in self.audiences:
            schedule = {k: v for k, v in self.schedules.get(segment, {}).items() if v}
            audiences.append({"segment": segment, "schedule": schedule} if schedule else {"segment": segment})
        document: dict[str, Any] = {
            "audiences": audiences,
            "mapping": [{"source": r.source, "target": r.target} for r in self.rows],
            "mandatory": [r.target for r in self.rows if r.mandatory],
            "dedupKey": [r.target for r in self.rows if r.dedup],
        }
        if self.export_mode:
            document["exportMode"] = self.export_mode
        files = {k: v for k, v in (("format", self.file_format), ("compression", self.compression)) if v}
        if files:
            document["file"] = files
        return document


@dataclass
class Problems:
    """A draft's problems by the step that shows them, and by the field each is beside."""

    by_step: dict[int, list[str]] = field(default_factory=dict)
    by_field: dict[str, str] = field(default_factory=dict)

    def add(self, step: int, key: str, message: str) -> None:
        self.by_step.setdefault(step, []).append(message)
        if key:
            self.by_field.setdefault(key, message)

    @classmethod
    def of(cls, exc: DocumentError, draft: Draft) -> Problems:
        found = cls()
        for problem in exc.problems:
            step, key = _place(str(problem.get("path") or ""), draft)
            found.add(step, key, str(problem.get("message", "")))
        return found


_INDEXED = re.compile(r"^(audiences|mapping)\[(\d+)\](?:\.(.*))?$")


def _place(path: str, draft: Draft) -> tuple[int, str]:
    """The step and form field where a problem at this path of the flow's document is shown."""
    if path == "name":
        return 1, "flow_name"
    if path == "audiences":
        return 1, "audience"
    if matched := _INDEXED.match(path):
        what, index, rest = matched.group(1), int(matched.group(2)), matched.group(3) or ""
        if what == "mapping":
            return 3, f"{rest.split('.')[0]}-{index}" if rest in ("source", "target") else ""
        segment = draft.audiences[index] if index < len(draft.audiences) else ""
        if rest.startswith("schedule."):
            return 2, f"{rest.split('.')[1]}-{segment}"
        return (1, "audience") if rest == "segment" else (2, "")
    if path == "exportMode":
        return 2, "export_mode"
    if path.startswith("file"):
        return 2, path.split(".")[-1] if path in ("file.format", "file.compression") else ""
    if path.startswith("mandatory"):
        return 3, "mandatory"
    if path.startswith("dedupKey"):
        return 3, "dedup"
    return 3, ""


@router.get("/ui/destinations/accounts/{name}/activate", response_class=HTMLResponse)
def get_activate(request: Request, name: str, sandbox: str | None = None) -> Response:
    """The wizard's first step, for a flow through this account."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _step(entry, name, Draft(), 1, Problems(), None, None)


@router.post("/ui/destinations/accounts/{name}/activate", response_class=HTMLResponse)
async def post_activate(request: Request, name: str, sandbox: str | None = None) -> Response:
    posted = await posted_form(request)
    return await run_in_threadpool(_wizard, request, name, sandbox, posted)


def _wizard(request: Request, account: str, sandbox: str | None, posted: Posted) -> Response:
    from accord import destinations

    entry = acted(request, sandbox, posted.one("csrf_token"))
    if not isinstance(entry, Entered):
        return entry
    shown = posted.one("step")
    step = int(shown) if shown in ("1", "2", "3", "4") else 1
    draft, go = Draft.read(posted), posted.one("go")
    if go != "save":
        entry.nothing_changed()  # a step of the wizard: only saving changes something
    if oversized := posted.oversized():
        problems = Problems()
        for key in oversized:
            problems.add(step, key, f"{key[:40]} is longer than {MAX_TEXT:,} characters")
        return _step(entry, account, draft, step, problems, "A field is too long.", None)
    if go == "back":
        return _step(entry, account, draft, max(1, step - 1), Problems(), None, None)
    if go == "add-row":
        draft.blank = min(draft.blank + 1, MAX_ROWS - len(draft.rows))
        return _step(entry, account, draft, 3, Problems(), None, None)
    if go == "save":
        return _save(entry, account, draft)
    try:
        with entry.workspace.catalog.session() as session:
            evaluation = destinations.evaluate_draft(session, entry.sandbox, draft.name, account[:200],
                                                     draft.document())  # fmt: skip
    except DocumentError as exc:
        problems = Problems.of(exc, draft)
        earliest = min(problems.by_step)
        if earliest <= step:
            return _step(entry, account, draft, earliest, problems, _said(problems, earliest), None)
        return _step(entry, account, draft, step + 1, Problems(), None, None)  # later steps are still to come
    except AccordError as exc:  # the account is gone, or the caller may not see it
        return refusal(exc)
    return _step(entry, account, draft, min(step + 1, 4), Problems(), None, evaluation)


def _said(problems: Problems, step: int) -> str:
    count = len(problems.by_step.get(step, []))
    return f"{STEPS[step - 1]}: {count} problem{'s' if count > 1 else ''} to mend before going on."


def _save(entry: Entered, account: str, draft: Draft) -> Response:
    """Save the flow as `POST /activations` does; a refusal shows the step it concerns, or the review with the
    policies it breaks."""
    from accord import destinations

    try:
        with entry.workspace.catalog.session() as session:
            record = destinations.create_flow(session, entry.sandbox, draft.name, account[:200], draft.document())
            saved = record.name
    except DocumentError as exc:
        problems = Problems.of(exc, draft)
        earliest = min(problems.by_step)
        return _step(entry, account, draft, earliest, problems, _said(problems, earliest), None)
    except AccordError as exc:
        if exc.code in NAME_TAKEN:
            problems = Problems()
            problems.add(1, "flow_name", exc.message)
            return _step(entry, account, draft, 1, problems, exc.message, None)
        if exc.code == "GOVERNANCE-0450-403":  # the policies forbid it: the review says which and why
            refused = {"allowed": False, "violations": exc.details.get("violations", []), "marketingActions": [],
                       "consents": None}  # fmt: skip
            return _step(entry, account, draft, 4, Problems(), exc.message, refused)
        return refusal(exc)
    return redirect(f"/ui/destinations/activations/{quote(saved)}", sandbox=entry.sandbox)


def _step(entry: Entered, account: str, draft: Draft, step: int, problems: Problems, error: str | None,
          evaluation: dict[str, Any] | None) -> Response:  # fmt: skip
    """A step of the wizard, with what it offers to choose from."""
    from accord import destinations, segment

    may = entry.holds(Permission.ACTIVATE_DESTINATIONS)  # else a notice, and nothing to choose from is listed
    try:
        with entry.workspace.catalog.session() as session:
            found = destinations.get_account(session, entry.sandbox, account[:200])
            spec = destinations.destination_spec(found["destination"])
            segments = segment.list_segments(session, entry.sandbox) \
                if step == 1 and may and entry.holds(Permission.VIEW_SEGMENTS) else []  # fmt: skip
            sources = destinations.exportable_sources(session, entry.sandbox, spec) \
                if step == 3 and may and entry.holds(Permission.VIEW_SCHEMAS) else None  # fmt: skip
    except AccordError as exc:
        return refusal(exc)
    sees_policies = entry.holds(Permission.VIEW_DATA_USAGE_POLICIES)
    return entry.render("destinations/activate.html", f"Activate audiences: {STEPS[step - 1]}", account=found,
                        spec=spec.to_document(), draft=draft, step=step, steps=STEPS, segments=segments,
                        sources=sources, errors=problems.by_field, step_problems=problems.by_step.get(step, []),
                        error=error, evaluation=evaluation, sees_policies=sees_policies, may=may)  # fmt: skip
