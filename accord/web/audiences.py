"""The audiences: every segment definition with its size and trend; the builder, whose PQL is checked as one
types (with a live estimate and a few of the people it selects); an audience's page (its definition, size,
members, jobs and compositions); and a segment job, run as a long operation.

Sizes and trends are what the segment jobs recorded (`segment.recent_sizes`, `segment.audience_jobs`): no page
counts memberships. Links name an audience by id, which outlives a rename (a name works too)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from accord.access import Permission
from accord.errors import AccordError, ConflictError, NotFoundError, validation_problems
from accord.web.forms import problems_by_field
from accord.web.operations import Told, operations_of
from accord.web.pages import Entered, acted, entered, page_number, redirect, refusal

router = APIRouter(include_in_schema=False)

PER_PAGE = 50
"""Audiences on a page of the list."""
TREND = 10
"""Sizes in a trend: those of the audience's latest jobs."""
JOBS_SHOWN = 20
SAMPLE = 10
"""Members shown on an audience's page and under the builder's estimate."""
LONGEST_NAME = 128
"""A segment's name is at most this long (`segment.definitions.NAME_PATTERN`), an id shorter."""

# A form field's hard bound (past it, the request is refused whole); the services' own bounds are smaller and
# are said beside the field (a name of 128 characters, a description of 4,000, an expression of 20,000)
Csrf = Annotated[str, Form(max_length=256)]
Name = Annotated[str, Form(max_length=2_000)]
Description = Annotated[str, Form(max_length=40_000)]
Pql = Annotated[str, Form(max_length=400_000)]
Flag = Annotated[str, Form(max_length=100)]
SegmentId = Annotated[str, Form(max_length=200)]


@router.get("/ui/audiences", response_class=HTMLResponse)
def get_audiences(request: Request, sandbox: str | None = None, page: str = "1") -> Response:
    """Every audience with its size at its latest job, the trend of its recent jobs, and how it is evaluated."""
    from accord import segment

    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    number, problem = page_number(page)
    with entry.workspace.catalog.session() as session:
        every = segment.list_segments(session, entry.sandbox)
        pages = max(1, -(-len(every) // PER_PAGE))
        shown = every[(min(number, pages) - 1) * PER_PAGE :][:PER_PAGE]
        sizes = segment.recent_sizes(session, entry.sandbox, [a["id"] for a in shown], per_segment=TREND)
    rows = [{**a, "sizes": sizes[a["id"]], "trend": _trend([s.qualified for s in reversed(sizes[a["id"]])])}
            for a in shown]  # fmt: skip
    return entry.render("audiences/list.html", "Audiences", audiences=rows, page=min(number, pages), pages=pages,
                        total=len(every), problem=problem)  # fmt: skip


@router.get("/ui/audiences/new", response_class=HTMLResponse)
def get_new(request: Request, sandbox: str | None = None) -> Response:
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _builder(entry, {"name": "", "description": "", "expression": "", "streaming": ""})


@router.post("/ui/audiences/new", response_class=HTMLResponse)
def post_new(request: Request, sandbox: str | None = None, csrf_token: Csrf = "", name: Name = "",
             description: Description = "", expression: Pql = "", streaming: Flag = "") -> Response:  # fmt: skip
    """Create an audience (as `POST /segment/definitions`); the form again, with what is wrong, if refused."""
    from accord import segment

    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    values = {"name": name, "description": description, "expression": expression, "streaming": streaming}
    try:
        with entry.workspace.catalog.session() as session:
            made = segment.create_segment(session, entry.sandbox, _document(values))
    except AccordError as exc:
        return _builder(entry, values, exc)
    return redirect(f"/ui/audiences/{made['id']}", sandbox=entry.sandbox)


@router.post("/ui/audiences/check", response_class=HTMLResponse)
def post_check(request: Request, sandbox: str | None = None, csrf_token: Csrf = "", expression: Pql = "",
               editing: SegmentId = "") -> Response:  # fmt: skip
    """The builder's check of what is typed (htmx asks as one types): each problem where it is, or, when the
    definition is valid, how many profiles it selects now and a few of them."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    return entry.render("audiences/_check.html", "Check", check=_checked(entry, expression, editing))


@router.get("/ui/audiences/{segment_id}", response_class=HTMLResponse)
def get_audience(request: Request, segment_id: str, sandbox: str | None = None) -> Response:
    """An audience: its definition, size and trend, a few members, its jobs, and the audiences it is made of
    and that are made of it."""
    from accord import profile, segment

    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    ws = entry.workspace
    try:
        with ws.catalog.session() as session:
            record = _find(session, entry.sandbox, segment_id)
            audience = segment.segment_document(record)
            relations = segment.segment_relations(session, entry.sandbox, record.id)
            jobs = segment.audience_jobs(session, entry.sandbox, record.id, limit=JOBS_SHOWN)
        members = segment.member_sample(ws, entry.sandbox, record.id, SAMPLE)
    except AccordError as exc:
        return refusal(exc)
    if entry.holds(Permission.VIEW_PROFILES):  # who they are is a profile's: shown to those who may see profiles
        named = profile.store_identities(ws, entry.sandbox, [int(m["graphId"]) for m in members])
        members = [{**m, "identities": named[int(m["graphId"])]} for m in members]
    sizes = [(j.finished, j.counts) for j in reversed(jobs) if j.finished is not None and j.counts is not None]
    chart = {"x": [int(at.timestamp()) for at, _ in sizes],
             "series": [{"label": label, "values": [counts[key] for _, counts in sizes]} for key, label in
                        (("qualified", "in the audience"), ("realized", "entered"), ("exited", "exited"))]}  # fmt: skip
    return entry.render("audiences/page.html", f"Audience {audience['name']}", audience=audience,
                        relations=relations, jobs=jobs, sizes=sizes, chart=chart, members=members)  # fmt: skip


@router.get("/ui/audiences/{segment_id}/edit", response_class=HTMLResponse)
def get_edit(request: Request, segment_id: str, sandbox: str | None = None) -> Response:
    from accord import segment

    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    try:
        with entry.workspace.catalog.session() as session:
            audience = segment.segment_document(_find(session, entry.sandbox, segment_id))
    except AccordError as exc:
        return refusal(exc)
    values = {"name": audience["name"], "description": audience["description"],
              "expression": audience["expression"]["value"],
              "streaming": "on" if audience["evaluationInfo"]["streaming"]["enabled"] else ""}  # fmt: skip
    return _builder(entry, values, editing=audience)


@router.post("/ui/audiences/{segment_id}/edit", response_class=HTMLResponse)
def post_edit(request: Request, segment_id: str, sandbox: str | None = None, csrf_token: Csrf = "",
              name: Name = "", description: Description = "", expression: Pql = "",
              streaming: Flag = "") -> Response:  # fmt: skip
    """Replace an audience's definition (as `PUT /segment/definitions/{name}`, policies checked)."""
    from accord import destinations, segment

    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    values = {"name": name, "description": description, "expression": expression, "streaming": streaming}
    audience: dict[str, Any] | None = None
    try:
        with entry.workspace.catalog.session() as session:
            audience = segment.segment_document(_find(session, entry.sandbox, segment_id))
            destinations.update_segment_checked(session, entry.sandbox, audience["id"], _document(values))
    except AccordError as exc:  # nothing was changed: the session was rolled back
        return refusal(exc) if audience is None else _builder(entry, values, exc, editing=audience)
    return redirect(f"/ui/audiences/{audience['id']}", sandbox=entry.sandbox)


@router.post("/ui/audiences/{segment_id}/jobs")
def post_job(request: Request, segment_id: str, sandbox: str | None = None, csrf_token: Csrf = "") -> Response:
    """Run a segment job for this audience (and those it refers to, inlined) in the background (as
    `POST /segment/jobs`); its progress shows on the operation's page, which links back here."""
    from accord import segment

    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    try:
        with entry.workspace.catalog.session() as session:
            record = _find(session, entry.sandbox, segment_id)
            chosen, name = record.id, record.name
    except AccordError as exc:
        return refusal(exc)
    ws, where = entry.workspace, entry.sandbox

    def work(told: Told) -> str:
        segment.run_job(ws, where, [chosen], on_step=told)
        return f"/ui/audiences/{chosen}?sandbox={quote(where)}"

    operation = operations_of(entry).start(f"Segment job: {name}", entry.caller.user, where, work)
    return redirect(f"/ui/operations/{operation.id}", sandbox=where)


def _find(session: Any, sandbox: str, segment_id: str) -> Any:
    """The segment a path names, by id or name (a path longer than any name names none)."""
    from accord import segment

    if len(segment_id) > LONGEST_NAME:
        raise NotFoundError(f"no audience {segment_id[:40]!r}…: no name is longer than {LONGEST_NAME} characters",
                            code="SEGMENT-0404-404")  # fmt: skip
    return segment.find_segment(session, sandbox, segment_id)


def _document(values: dict[str, str]) -> dict[str, Any]:
    """The definition document of the builder's fields (the service checks it whole)."""
    return {"name": values["name"].strip(), "description": values["description"].strip(),
            "expression": {"type": "PQL", "value": values["expression"]},
            "evaluationInfo": {"streaming": {"enabled": values["streaming"] == "on"}}}  # fmt: skip


def _builder(entry: Entered, values: dict[str, str], exc: AccordError | None = None,
             editing: dict[str, Any] | None = None) -> HTMLResponse:  # fmt: skip
    """The builder, new or editing; after a refusal, with each problem beside its field (those of the PQL
    where they are in it) and the refusal at the top."""
    errors = problems_by_field(exc) if exc is not None else {}
    if isinstance(exc, ConflictError) and not errors and "named" in exc.message:
        errors = {"name": exc.message}  # a name already taken
    problems = _problems(exc)
    check = {"typed": True, "problems": problems} if problems else None
    title = f"Edit audience {editing['name']}" if editing else "New audience"
    action = f"/ui/audiences/{editing['id']}/edit" if editing else "/ui/audiences/new"
    return entry.render("audiences/builder.html", title, values=values, errors=errors, check=check,
                        error=exc.message if exc is not None else None, editing=editing, action=action)  # fmt: skip


def _problems(exc: AccordError | None) -> list[dict[str, Any]]:
    """The problems of the expression, each with its line, column and caret when it has them."""
    found = getattr(exc, "problems", None) or []
    return [p for p in found if str(p.get("path", "")).startswith("expression")]


def _checked(entry: Entered, text: str, editing: str) -> dict[str, Any]:
    """What the builder says of the text: its problems, or that it is valid with the estimate and a sample."""
    from accord import segment
    from accord.segment.definitions import Expression

    if not text.strip():
        return {"typed": False}
    try:
        Expression(value=text)  # the API's own bound of an expression
    except ValidationError as exc:
        return {"typed": True, "problems": validation_problems(exc.errors(), prefix="expression.")}
    try:
        with entry.workspace.catalog.session() as session:
            own = _find(session, entry.sandbox, editing) if editing else None
            _, checked = segment.validate_pql(session, entry.sandbox, text, own_name=own.name if own else None,
                                              own_id=own.id if own else None)  # fmt: skip
    except AccordError as exc:
        return {"typed": True, "problems": getattr(exc, "problems", None) or [{"message": exc.message}]}
    found: dict[str, Any] = {"typed": True, "problems": [], "streaming": checked.streaming,
                             "reason": checked.streaming_reason}  # fmt: skip
    try:
        estimate = segment.estimate(entry.workspace, entry.sandbox, text, sample=SAMPLE)
    except AccordError as exc:  # no profiles yet, most likely: the definition is valid all the same
        return {**found, "estimate_error": exc.message}
    return {**found, "estimate": estimate, "sample": _named(entry, estimate["sample"])}


def _named(entry: Entered, graphs: list[str]) -> list[dict[str, Any]]:
    """Sample members by graph id, with their identities for those who may see profiles."""
    from accord import profile

    if not entry.holds(Permission.VIEW_PROFILES):
        return [{"graphId": g} for g in graphs]
    named = profile.store_identities(entry.workspace, entry.sandbox, [int(g) for g in graphs])
    return [{"graphId": g, "identities": named[int(g)]} for g in graphs]


def _trend(values: list[int]) -> dict[str, Any] | None:
    """A small line of sizes, oldest first (the points of an SVG polyline in a 100 by 24 box), and its words."""
    if not values:
        return None
    low, high = min(values), max(values)
    step = 100 / (len(values) - 1) if len(values) > 1 else 0
    points = " ".join(f"{i * step if len(values) > 1 else 50:.1f},{22 - 20 * (v - low) / ((high - low) or 1):.1f}"
                      for i, v in enumerate(values))  # fmt: skip
    change = values[-1] - values[-2] if len(values) > 1 else None
    return {"points": points, "values": values, "change": change}
