"""Data usage policies (enabled or not, with their expressions; enable, disable, create) and marketing actions
(list, create), over the services of `/policies` and `/marketing-actions`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from accord import governance
from accord.errors import AccordError
from accord.web.governance.fields import NAME, TEXT, by_field, checked_name, too_long
from accord.web.pages import Entered, acted, entered, redirect, refusal

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]
EXPRESSION = 4000
"""The longest expression (as the service reads them)."""


@router.get("/ui/governance/policies", response_class=HTMLResponse)
def get_policies(request: Request, sandbox: str | None = None) -> Response:
    """The core policies (shipped disabled) and the sandbox's own, and the form of a new one."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _policies_page(entry)


@router.post("/ui/policies", response_class=HTMLResponse)
def post_policy(request: Request, sandbox: str | None = None, name: Text = "", action: Text = "",
                expression: Text = "", description: Text = "", enabled: Text = "",
                csrf_token: Text = "") -> Response:  # fmt: skip
    """Create a policy; every problem of it said beside its field, the expression's each with its column."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    typed = {"name": name, "action": action, "expression": expression, "description": description, "enabled": enabled}
    errors = too_long(name=(name, NAME), action=(action, 64), expression=(expression, EXPRESSION),
                      description=(description, TEXT))  # fmt: skip
    if errors:
        return _policies_page(entry, typed, errors, "The policy was not created: see the fields marked.")
    try:
        with entry.workspace.catalog.session() as session:
            governance.create_policy(session, entry.sandbox, name.strip(), action, expression,
                                     description=description.strip(), enabled=enabled == "on")  # fmt: skip
    except AccordError as exc:
        problems = exc.details.get("problems") or []
        columns = [p for p in problems if p.get("path") == "expression" and "column" in p]
        errors = by_field(exc) or {"name": exc.message}
        return _policies_page(entry, typed, errors, exc.message, columns)
    return redirect("/ui/governance/policies", sandbox=entry.sandbox)


@router.post("/ui/policies/{name}/enable", response_class=HTMLResponse)
def post_enable(request: Request, name: str, sandbox: str | None = None, csrf_token: Text = "") -> Response:
    return _switched(request, name, sandbox, csrf_token, enabled=True)


@router.post("/ui/policies/{name}/disable", response_class=HTMLResponse)
def post_disable(request: Request, name: str, sandbox: str | None = None, csrf_token: Text = "") -> Response:
    return _switched(request, name, sandbox, csrf_token, enabled=False)


def _switched(request: Request, name: str, sandbox: str | None, csrf_token: str, enabled: bool) -> Response:
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    try:
        checked_name(name, "policy")
        with entry.workspace.catalog.session() as session:
            governance.set_policy_enabled(session, entry.sandbox, name, enabled)
    except AccordError as exc:
        return refusal(exc)
    return redirect("/ui/governance/policies", sandbox=entry.sandbox)


def _policies_page(entry: Entered, typed: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                   error: str | None = None, columns: list[dict[str, Any]] | None = None) -> Response:  # fmt: skip
    with entry.workspace.catalog.session() as session:
        policies = governance.list_policies(session, entry.sandbox)
        actions = governance.list_actions(session, entry.sandbox)
    return entry.render("governance/policies.html", "Data usage policies", policies=policies, actions=actions,
                        typed=typed or {}, errors=errors or {}, error=error, columns=columns or [])  # fmt: skip


@router.get("/ui/governance/marketing-actions", response_class=HTMLResponse)
def get_actions(request: Request, sandbox: str | None = None) -> Response:
    """The marketing actions (core, then the sandbox's own), and the form of a new one."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _actions_page(entry)


@router.post("/ui/marketing-actions", response_class=HTMLResponse)
def post_action(request: Request, sandbox: str | None = None, name: Text = "", title: Text = "",
                description: Text = "", csrf_token: Text = "") -> Response:  # fmt: skip
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    typed = {"name": name, "title": title, "description": description}
    errors = too_long(name=(name, 64), title=(title, 256), description=(description, TEXT))
    if errors:
        return _actions_page(entry, typed, errors, "The marketing action was not created: see the fields marked.")
    try:
        with entry.workspace.catalog.session() as session:
            governance.create_action(session, entry.sandbox, name.strip(), title.strip(), description.strip())
    except AccordError as exc:
        return _actions_page(entry, typed, {"name": exc.message}, exc.message)
    return redirect("/ui/governance/marketing-actions", sandbox=entry.sandbox)


def _actions_page(entry: Entered, typed: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                  error: str | None = None) -> Response:  # fmt: skip
    with entry.workspace.catalog.session() as session:
        actions = governance.list_actions(session, entry.sandbox)
    return entry.render("governance/actions.html", "Marketing actions", actions=actions, typed=typed or {},
                        errors=errors or {}, error=error)  # fmt: skip
