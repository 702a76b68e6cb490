"""The profiles: a person looked up by any of their identities; their profile (each attribute with the fragment
its value came from and why it won, their latest events, audience memberships and their history, their identity
graph drawn); and un-merging, a link of the graph removed.

A profile is read as `GET /profiles` reads it (`profile.get_profile`: by identity, from the profile store), and its
graph from the same store (`profile.identity_graph`); the latest events and the history of the latest segment jobs
only are shown. A removal is recorded as `POST /identity/removals` records it, then the graphs (and, for those who
may, the profiles) are rebuilt as a long operation, so that the profile splits as the service makes it split."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from accord.access import Permission
from accord.errors import AccordError, InvalidInputError, NotFoundError
from accord.web.operations import Told, operations_of
from accord.web.pages import Entered, acted, entered, redirect, refusal

router = APIRouter(include_in_schema=False)

LONGEST_NAMESPACE = 64
"""A namespace symbol's length at most (as `accord identity create` allows)."""
LONGEST_VALUE = 1024
"""An identity value's length at most (as the API's identity parameters allow)."""
LONGEST_POLICY = 128
LONGEST_REASON = 500
EVENTS_SHOWN = 20
"""A profile page shows the person's latest events, newest first."""
HISTORY_JOBS = 10
"""A profile page shows the membership transitions of the sandbox's latest segment jobs."""

FIELD_OF_ERROR = {"IDENTITY-0404-404": "namespace", "PROFILE-0404-404": "policy", "PROFILE-0410-404": "id"}
"""The look-up field a service's refusal is about, by its code (the others are said at the top of the form)."""


def _identity_problem(namespace: str, value: str, what: str = "the identity") -> dict[str, str]:
    """What is wrong with an identity as typed, by field (the namespace itself is checked by the service)."""
    problems = {}
    if not namespace.strip():
        problems["namespace"] = f"Choose the namespace of {what}."
    elif len(namespace) > LONGEST_NAMESPACE:
        problems["namespace"] = f"A namespace symbol has at most {LONGEST_NAMESPACE} characters."
    if not value.strip():
        problems["id"] = f"Give the value of {what}."
    elif len(value) > LONGEST_VALUE:
        problems["id"] = f"An identity value has at most {LONGEST_VALUE:,} characters (this one has {len(value):,})."
    return problems


# -- the look-up ------------------------------------------------------------------------------------------


@router.get("/ui/profiles", response_class=HTMLResponse)
def get_lookup(request: Request, sandbox: str | None = None) -> Response:
    """The look-up form: a namespace and a value (and a merge policy, for those who may read them)."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _lookup_page(entry, {"namespace": "Email"}, {}, None)


def _lookup_page(entry: Entered, values: dict[str, str], errors: dict[str, str], error: str | None) -> Response:
    from accord import identity, profile

    with entry.workspace.catalog.session() as session:
        namespaces = identity.list_namespaces(session, entry.sandbox)
        policies = profile.list_policies(session, entry.sandbox) if entry.holds(Permission.VIEW_MERGE_POLICIES) \
            else None  # fmt: skip
    return entry.render("profiles/lookup.html", "Look up a profile", namespaces=namespaces, policies=policies,
                        values=values, errors=errors, error=error)  # fmt: skip


# -- a profile --------------------------------------------------------------------------------------------


@router.get("/ui/profiles/view", response_class=HTMLResponse)
def get_profile(
    request: Request, sandbox: str | None = None, namespace: str = "",
    value: Annotated[str, Query(alias="id")] = "", policy: str = "",
) -> Response:  # fmt: skip
    """A person's profile, found by one of their identities; a bad or unknown identity answers the look-up form
    again, with what is wrong beside its field."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    kept = {"namespace": namespace[:LONGEST_NAMESPACE], "id": value[:LONGEST_VALUE], "policy": policy[:LONGEST_POLICY]}
    errors = _identity_problem(namespace, value)
    if len(policy) > LONGEST_POLICY:
        errors["policy"] = f"A merge policy's name has at most {LONGEST_POLICY} characters."
    if errors:
        return _lookup_page(entry, kept, errors, "The profile could not be looked up: see what is marked below.")
    try:
        shown = _profile_sections(entry, namespace, value, policy or None)
    except AccordError as exc:
        field = FIELD_OF_ERROR.get(exc.code)
        return _lookup_page(entry, kept, {field: exc.message} if field else {}, exc.message)
    return entry.render("profiles/profile.html", "Profile: {}: {}".format(*shown["asked"]), **shown)


def _profile_sections(entry: Entered, namespace: str, value: str, policy: str | None) -> dict[str, Any]:
    """What the profile page shows, each section as far as its caller may see it."""
    from accord import profile, segment

    ws, sandbox = entry.workspace, entry.sandbox
    found = profile.get_profile(ws, sandbox, namespace, value, policy, events_limit=EVENTS_SHOWN)
    sources = found["sources"]
    attributes = [{"path": path, "value": shown, "source": sources.get(path)}
                  for path, shown in sorted(profile.flatten(found["attributes"]).items())]  # fmt: skip
    asked = (found["identity"]["namespace"], found["identity"]["id"])
    graph, graph_missing = None, None
    if entry.holds(Permission.VIEW_IDENTITY_NAMESPACES):
        try:
            graph = profile.identity_graph(ws, sandbox, *asked)
        except NotFoundError as exc:
            graph_missing = exc.message
    history = None
    if entry.holds(Permission.VIEW_SEGMENTS) and found["graphId"] is not None:
        with ws.catalog.session() as session:
            names = {s["id"]: s["name"] for s in segment.list_segments(session, sandbox)}
        moves = segment.history(ws, sandbox, int(found["graphId"]), jobs=HISTORY_JOBS)
        history = [{**move, "segment": names.get(move["segment"], move["segment"])} for move in reversed(moves)]
    return {"found": found, "asked": asked, "policy": policy or "", "attributes": attributes,
            "reasons": profile.REASONS, "graph": graph, "graph_missing": graph_missing,
            "drawing": drawing_of(graph, asked) if graph else None, "history": history,
            "graph_rows": [(link, False) for link in graph["links"]] + [(link, True) for link in graph["droppedLinks"]]
            if graph else [],
            "events_shown": EVENTS_SHOWN, "history_jobs": HISTORY_JOBS}  # fmt: skip


# -- the identity graph, drawn ----------------------------------------------------------------------------

WIDTH, HEIGHT = 720, 440
RADIUS = 150
LABELLED = 16
"""Graphs of more identities are drawn without labels (the table of links names every one)."""
LABEL_LENGTH = 24


@dataclass(frozen=True)
class DrawnNode:
    namespace: str
    id: str
    x: float
    y: float
    label_x: float
    label_y: float
    anchor: str
    """start, middle or end: which side of the label is at (label_x, label_y)"""
    outside: bool
    """An identity of another graph, at the other end of a link that no longer counts."""
    asked: bool
    """The identity the profile was looked up by."""

    @property
    def short_id(self) -> str:
        return self.id if len(self.id) <= LABEL_LENGTH else self.id[: LABEL_LENGTH - 1] + "…"


@dataclass(frozen=True)
class DrawnLink:
    start: DrawnNode
    end: DrawnNode
    removed: bool


@dataclass(frozen=True)
class Drawing:
    nodes: list[DrawnNode]
    links: list[DrawnLink]
    labelled: bool
    width: int = WIDTH
    height: int = HEIGHT


def drawing_of(graph: dict[str, Any], asked: tuple[str, str]) -> Drawing:
    """Where each identity of a graph is drawn: around a circle, the graph's own first (in their order), then
    those of other graphs that a dropped link reaches; each label outside the circle, on its side."""
    members = [(i["namespace"], i["id"]) for i in graph["identities"]]
    inside = set(members)
    reached = sorted({(end["namespace"], end["id"]) for link in graph["droppedLinks"] for end in (link["from"],
                      link["to"])} - inside)  # fmt: skip
    everyone = members + reached
    nodes: dict[tuple[str, str], DrawnNode] = {}
    alone = len(everyone) == 1
    for index, (namespace, value) in enumerate(everyone):
        angle = 2 * math.pi * index / len(everyone) - math.pi / 2
        cos, sin = (0.0, 0.0) if alone else (math.cos(angle), math.sin(angle))
        x, y = WIDTH / 2 + RADIUS * cos, HEIGHT / 2 + RADIUS * sin
        # two lines (namespace, then id): below the circle at the bottom, above it at the top, beside it elsewhere
        if alone or sin > 0.5:
            anchor, label_x, label_y = "middle", x, y + 34
        elif sin < -0.5:
            anchor, label_x, label_y = "middle", x, y - 38
        else:
            anchor, label_x, label_y = ("start", x + 22, y - 2) if cos > 0 else ("end", x - 22, y - 2)
        nodes[(namespace, value)] = DrawnNode(namespace, value, round(x, 1), round(y, 1), round(label_x, 1),
                                              round(label_y, 1), anchor, (namespace, value) not in inside,
                                              (namespace, value) == asked)  # fmt: skip

    def drawn(link: dict[str, Any], removed: bool) -> DrawnLink:
        start, end = ((link[side]["namespace"], link[side]["id"]) for side in ("from", "to"))
        return DrawnLink(nodes[start], nodes[end], removed)

    links = [drawn(link, False) for link in graph["links"]] + [drawn(link, True) for link in graph["droppedLinks"]]
    return Drawing(list(nodes.values()), links, labelled=len(everyone) <= LABELLED)


# -- un-merging: a link removed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkForm:
    """A link to remove, as a form names it, and the profile it was seen on (to come back to)."""

    namespace: str
    id: str
    from_namespace: str
    from_id: str
    to_namespace: str
    to_id: str
    reason: str = ""

    def problems(self) -> dict[str, str]:
        found = {f"from_{k}": v for k, v in _identity_problem(self.from_namespace, self.from_id, "one end").items()}
        found |= {f"to_{k}": v for k, v in _identity_problem(self.to_namespace, self.to_id, "the other end").items()}
        if len(self.namespace) > LONGEST_NAMESPACE or len(self.id) > LONGEST_VALUE:
            found["id"] = "The profile to come back to is not an identity."
        if len(self.reason) > LONGEST_REASON:
            found["reason"] = f"A reason has at most {LONGEST_REASON} characters (this one has {len(self.reason):,})."
        return found

    def profile_page(self, sandbox: str) -> str:
        """Where the profile the link was seen on is shown (the look-up form, without one)."""
        if not (self.namespace and self.id):
            return f"/ui/profiles?{urlencode({'sandbox': sandbox})}"
        return f"/ui/profiles/view?{urlencode({'sandbox': sandbox, 'namespace': self.namespace, 'id': self.id})}"


@router.get("/ui/profiles/unlink", response_class=HTMLResponse)
def get_unlink(
    request: Request, sandbox: str | None = None, namespace: str = "", value: Annotated[str, Query(alias="id")] = "",
    from_namespace: str = "", from_id: str = "", to_namespace: str = "", to_id: str = "",
) -> Response:  # fmt: skip
    """The confirmation of a link's removal: what will happen, and a reason to record with it."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    link = LinkForm(namespace, value, from_namespace, from_id, to_namespace, to_id)
    problems = link.problems()
    if problems:  # only a hand-made address gets here: the profile page names its links whole
        return refusal(InvalidInputError("this is not a link to remove: " + " ".join(problems.values())))
    return _unlink_page(entry, link, {}, None)


def _unlink_page(entry: Entered, link: LinkForm, errors: dict[str, str], error: str | None) -> Response:
    return entry.render("profiles/unlink.html", "Remove a link", link=link, errors=errors, error=error,
                        rebuilds_profiles=entry.holds(Permission.MANAGE_PROFILES))  # fmt: skip


@router.post("/ui/profiles/unlink", response_class=HTMLResponse)
def post_unlink(
    request: Request, sandbox: str | None = None, csrf_token: Annotated[str, Form()] = "",
    namespace: Annotated[str, Form()] = "", value: Annotated[str, Form(alias="id")] = "",
    from_namespace: Annotated[str, Form()] = "", from_id: Annotated[str, Form()] = "",
    to_namespace: Annotated[str, Form()] = "", to_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Remove the link (recorded as `POST /identity/removals` records it), then rebuild the graphs, and the
    profiles for those who may, as an operation whose result is the profile the link was seen on."""
    from accord import identity, profile

    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    link = LinkForm(namespace, value, from_namespace, from_id, to_namespace, to_id, reason)
    problems = link.problems()
    if problems:
        return _unlink_page(entry, link, problems, "The link was not removed: see what is marked below.")
    ws, where = entry.workspace, entry.sandbox
    try:
        with ws.catalog.session() as session:
            identity.remove_link(session, where, (link.from_namespace, link.from_id), (link.to_namespace, link.to_id),
                                 link.reason.strip(), f"web:{entry.caller.user}")  # fmt: skip
    except AccordError as exc:
        return _unlink_page(entry, link, {}, exc.message)
    rebuilds_profiles = entry.holds(Permission.MANAGE_PROFILES)

    def work(told: Told) -> str:
        if rebuilds_profiles:
            profile.rebuild(ws, where, on_step=told)
        else:
            told("building identity graphs", None)
            identity.build_graph(ws, where)
        return link.profile_page(where)

    title = f"Remove the link {link.from_namespace}: {link.from_id[:60]} to {link.to_namespace}: {link.to_id[:60]}"
    operation = operations_of(entry).start(title, entry.caller.user, where, work)
    return redirect(f"/ui/operations/{operation.id}", sandbox=where)
