"""Users and roles (Manage Users and Roles, home-wide): the users, a user's page with their grants (granted and
revoked by sandbox) and their disabling, the roles with their permissions, and the forms that create a user and
a role. A password is typed, never shown back; the rule that the last manager is kept is the service's."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from accord import access
from accord.access import Permission
from accord.errors import AccordError
from accord.web.governance.fields import TEXT, by_field, checked_name, too_long
from accord.web.pages import Entered, acted, entered, redirect, refusal

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]
EVERY = "*"
"""The form's value for a grant in every sandbox."""


@router.get("/ui/governance/users", response_class=HTMLResponse)
def get_users(request: Request, sandbox: str | None = None) -> Response:
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _users_page(entry)


@router.post("/ui/users", response_class=HTMLResponse)
def post_user(request: Request, sandbox: str | None = None, name: Text = "", email: Text = "", kind: Text = "person",
              password: Text = "", csrf_token: Text = "") -> Response:  # fmt: skip
    """Create a person (with a password) or a service account; it holds nothing until a role is granted."""
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    typed = {"name": name, "email": email, "kind": kind}  # never the password
    errors = too_long(name=(name, 64), email=(email, 256), password=(password, 1024))
    if kind not in ("person", "service"):
        errors["kind"] = "a person or a service account"
    if errors:
        return _users_page(entry, typed, errors, "The user was not created: see the fields marked.")
    try:
        access.create_user(entry.workspace.catalog, name.strip(), email=email.strip() or None,
                           service=kind == "service", password=password or None)  # fmt: skip
    except AccordError as exc:
        return _users_page(entry, typed, by_field(exc) or {"name": exc.message}, exc.message)
    return redirect(f"/ui/governance/users/{quote(name.strip())}", sandbox=entry.sandbox)


def _users_page(entry: Entered, typed: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                error: str | None = None) -> Response:  # fmt: skip
    users = access.list_users(entry.workspace.catalog)
    return entry.render("governance/users.html", "Users", users=users, typed=typed or {"kind": "person"},
                        errors=errors or {}, error=error)  # fmt: skip


@router.get("/ui/governance/users/{name}", response_class=HTMLResponse)
def get_user(request: Request, name: str, sandbox: str | None = None) -> Response:
    """A user: their grants, with the forms that grant and revoke a role in a sandbox, and disable or enable."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _user_page(entry, name)


@router.post("/ui/users/{name}/disable", response_class=HTMLResponse)
def post_disable(request: Request, name: str, sandbox: str | None = None, csrf_token: Text = "",
                 confirm: Text = "") -> Response:  # fmt: skip
    """Disable a user (their sessions and tokens are refused from the next request); the last manager of users
    and roles is not (the service's refusal is said), and oneself only when the form says one understands."""
    return _switched(request, name, sandbox, csrf_token, disabled=True, confirmed=confirm == "yes")


@router.post("/ui/users/{name}/enable", response_class=HTMLResponse)
def post_enable(request: Request, name: str, sandbox: str | None = None, csrf_token: Text = "") -> Response:
    return _switched(request, name, sandbox, csrf_token, disabled=False)


SELF_DISABLED = "You are about to disable yourself: tick the box that says you understand, then Disable again."
SELF_REVOKED = "You are about to take away one of your own roles: tick “it is my own role”, then Revoke again."


def _switched(request: Request, name: str, sandbox: str | None, csrf_token: str, disabled: bool,
              confirmed: bool = False) -> Response:  # fmt: skip
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    if disabled and name == entry.caller.user and not confirmed:
        return _user_page(entry, name, error=SELF_DISABLED)
    try:
        checked_name(name, "user")
        access.set_disabled(entry.workspace.catalog, name, disabled)
    except AccordError as exc:
        return _user_page(entry, name, error=exc.message)
    return redirect(f"/ui/governance/users/{quote(name)}", sandbox=entry.sandbox)


@router.post("/ui/users/{name}/grants", response_class=HTMLResponse)
def post_grant(request: Request, name: str, sandbox: str | None = None, role: Text = "", where: Text = "",
               csrf_token: Text = "") -> Response:  # fmt: skip
    """Grant a role to the user in one sandbox, or in every sandbox (`*`)."""
    return _granted(request, name, sandbox, csrf_token, role, where, revoke=False)


@router.post("/ui/users/{name}/grants/revoke", response_class=HTMLResponse)
def post_revoke(request: Request, name: str, sandbox: str | None = None, role: Text = "", where: Text = "",
                csrf_token: Text = "", confirm: Text = "") -> Response:  # fmt: skip
    """Take a role away from the user in one sandbox, or the grant in every sandbox (`*`); taking the last
    manager's is refused by the service, and said; one's own only when the form says it is."""
    return _granted(request, name, sandbox, csrf_token, role, where, revoke=True, confirmed=confirm == "yes")


def _granted(request: Request, name: str, sandbox: str | None, csrf_token: str, role: str, where: str,
             revoke: bool, confirmed: bool = False) -> Response:  # fmt: skip
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    if revoke and name == entry.caller.user and not confirmed:
        return _user_page(entry, name, error=SELF_REVOKED)
    typed = {"role": role, "where": where}
    errors = too_long(role=(role, 64), where=(where, 64))
    if not role:
        errors["role"] = "choose a role"
    if errors:
        return _user_page(entry, name, typed, errors, "Nothing was granted: see the fields marked.")
    change = access.revoke_role if revoke else access.grant_role
    try:
        checked_name(name, "user")
        change(entry.workspace.catalog, role, name, None if where in ("", EVERY) else where)
    except AccordError as exc:
        return _user_page(entry, name, typed, {} if revoke else {"role": exc.message}, exc.message)
    return redirect(f"/ui/governance/users/{quote(name)}", sandbox=entry.sandbox)


def _user_page(entry: Entered, name: str, typed: dict[str, str] | None = None, errors: dict[str, str] | None = None,
               error: str | None = None) -> Response:  # fmt: skip
    from accord.catalog import list_sandboxes

    try:
        checked_name(name, "user")
        user = access.show_user(entry.workspace.catalog, name)
    except AccordError as exc:
        return refusal(exc)
    roles = [r["name"] for r in access.list_roles(entry.workspace.catalog)]
    with entry.workspace.catalog.session() as session:
        sandboxes = [s.name for s in list_sandboxes(session)]
    return entry.render("governance/user.html", f"User {user['name']}", user=user, roles=roles, sandboxes=sandboxes,
                        typed=typed or {}, errors=errors or {}, error=error, every=EVERY)  # fmt: skip


@router.get("/ui/governance/roles", response_class=HTMLResponse)
def get_roles(request: Request, sandbox: str | None = None) -> Response:
    """The roles (built in, then custom) with their permissions, and the form of a custom role."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    return _roles_page(entry)


@router.post("/ui/roles", response_class=HTMLResponse)
def post_role(request: Request, sandbox: str | None = None, name: Text = "", description: Text = "",
              permissions: Annotated[list[str] | None, Form()] = None, csrf_token: Text = "") -> Response:  # fmt: skip
    entry = acted(request, sandbox, csrf_token)
    if not isinstance(entry, Entered):
        return entry
    chosen = (permissions or [])[:100]
    typed: dict[str, Any] = {"name": name, "description": description, "permissions": chosen}
    errors = too_long(name=(name, 64), description=(description, TEXT // 2))
    if errors:
        return _roles_page(entry, typed, errors, "The role was not created: see the fields marked.")
    try:
        access.create_role(entry.workspace.catalog, name.strip(), chosen, description.strip())
    except AccordError as exc:
        return _roles_page(entry, typed, by_field(exc) or {"name": exc.message}, exc.message)
    return redirect("/ui/governance/roles", sandbox=entry.sandbox)


def _roles_page(entry: Entered, typed: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                error: str | None = None) -> Response:  # fmt: skip
    roles = access.list_roles(entry.workspace.catalog)
    return entry.render("governance/roles.html", "Roles", roles=roles, permissions=[p.value for p in Permission],
                        home_wide={p.value for p in access.HOME_WIDE}, typed=typed or {}, errors=errors or {},
                        error=error)  # fmt: skip
