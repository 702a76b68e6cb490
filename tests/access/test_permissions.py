"""Every route and command declares what it needs, and a caller without it is refused with its name.

The walks read the API's own OpenAPI document and the CLI's own command tree, so that a route or command
added without a line in `accord/access/requirements.py` fails here, and one whose line is wrong is caught
by the token that lacks exactly that permission."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer

from accord.access import (
    BUILT_IN_ROLES,
    COMMANDS,
    HOME_WIDE,
    ROUTES,
    Permission,
    create_role,
    create_token,
    create_user,
    grant_role,
    permissions_document,
    permissions_needed,
    set_disabled,
)
from accord.cli.app import app
from accord.workspace import Workspace
from tests.conftest import Api

DOCS = Path(__file__).parents[2] / "docs" / "permissions.md"


def operations(api: Api) -> list[tuple[str, str]]:
    return [(m.upper(), p) for p, found in api.get("/openapi.json").json()["paths"].items() for m in found]


def filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def commands(group: Any, prefix: tuple[str, ...] = ()) -> set[str]:
    found: set[str] = set()
    for name, command in group.commands.items():
        if getattr(command, "commands", None):
            found |= commands(command, (*prefix, name))
        else:
            found.add(" ".join((*prefix, name)))
    return found


def refused_access(response: httpx.Response) -> bool:
    """Refused for who the caller is (a 403 for a folder the operator does not allow is about the input)."""
    return response.status_code == 401 or (response.status_code == 403 and response.json()["code"] in (
        "ACCESS-0403-403", "ACCESS-0405-403", "ACCESS-0406-403"))  # fmt: skip


def bearer(plain: str, sandbox: str = "prod") -> dict[str, str]:
    return {"Authorization": f"Bearer {plain}", "x-sandbox-name": sandbox}


def token_holding(ws: Workspace, name: str, permissions: set[Permission]) -> str:
    """A token of a new user holding exactly these permissions, in every sandbox."""
    create_role(ws.catalog, name, [p.value for p in permissions])
    create_user(ws.catalog, name, service=True)
    grant_role(ws.catalog, name, name, None)
    return create_token(ws.catalog, name, user=name)[1]


def test_the_permissions_page_is_made_from_the_table() -> None:
    assert DOCS.read_text() == permissions_document(), "docs/permissions.md is stale: run `make docs-permissions`"


def test_every_route_and_every_command_declares_what_it_needs(api: Api) -> None:
    live = set(operations(api))
    assert not live - set(ROUTES), f"routes without a line in accord/access/requirements.py: {live - set(ROUTES)}"
    assert not set(ROUTES) - live, f"lines for routes the API no longer has: {set(ROUTES) - live}"
    tree = commands(typer.main.get_command(app))
    assert not tree - set(COMMANDS), f"commands without a line in accord/access/requirements.py: {tree - set(COMMANDS)}"
    assert not set(COMMANDS) - tree, f"lines for commands the CLI no longer has: {set(COMMANDS) - tree}"
    described = api.get("/openapi.json").json()["paths"]["/datasets"]["post"]
    assert described["x-accord-permission"] == "Manage Datasets" and "**Manage Datasets**" in described["description"]


def test_a_token_lacking_the_one_permission_a_route_needs_is_refused_with_its_name(api: Api, ws: Workspace) -> None:
    """For each permission, a token holding all the others: every route needing it answers 403 naming it; a
    token holding that one alone gets past the check on each of those routes."""
    needing: dict[Permission, list[tuple[str, str, tuple[Permission, ...]]]] = {}
    for method, path in operations(api):
        needed = permissions_needed(ROUTES[(method, path)])  # a route needing several is walked for each
        for permission in needed:
            needing.setdefault(permission, []).append((method, filled(path), needed))
    assert set(needing) == set(Permission)  # every permission guards some route
    assert any(len(needed) > 1 for routes in needing.values() for *_, needed in routes)
    with httpx.Client(base_url=api.base, timeout=60) as client:
        for permission, routes in needing.items():
            slug = re.sub(r"\W+", "-", permission.value.lower())
            lacking = token_holding(ws, f"all-but-{slug}", set(Permission) - {permission})
            only = {(permission,): token_holding(ws, f"only-{slug}", {permission})}
            for method, path, needed in routes:
                refused = client.request(method, path, headers=bearer(lacking), json={})
                assert refused.status_code == 403, (permission, method, path, refused.text)
                body = refused.json()
                assert (body["code"], body["details"]["permission"]) == ("ACCESS-0405-403", permission.value), body
                assert permission.value in body["message"]
                if needed not in only:
                    only[needed] = token_holding(ws, f"{slug}-{len(only)}", set(needed))
                allowed = client.request(method, path, headers=bearer(only[needed]), json={})
                assert not refused_access(allowed), (permission, method, path, allowed.text)


def test_view_roles_are_refused_every_change(api: Api, ws: Workspace) -> None:
    for role in ("analyst", "auditor"):
        create_user(ws.catalog, role, service=True)
        grant_role(ws.catalog, role, role, "prod")
        plain = create_token(ws.catalog, role, user=role)[1]
        held = BUILT_IN_ROLES[role][1] - HOME_WIDE  # granted in prod alone: what is home-wide does not count
        with httpx.Client(base_url=api.base, headers=bearer(plain), timeout=60) as client:
            for method, path in operations(api):
                needed = ROUTES[(method, path)]
                if not isinstance(needed, Permission):
                    continue
                response = client.request(method, filled(path), json={})
                if needed in held:
                    assert not refused_access(response), (role, method, path, response.text)
                else:  # what an analyst lacks besides the changes: the activity log, the auditor's to read
                    assert needed.value.startswith(("Manage", "Activate", "Apply")) or needed in HOME_WIDE or (
                        role, needed) == ("analyst", Permission.VIEW_USER_ACTIVITY_LOG), (role, needed)  # fmt: skip
                    assert response.status_code == 403, (role, method, path, response.text)
            assert client.get("/datasets", headers={"x-sandbox-name": "dev"}).status_code == 403  # granted in prod only


def test_a_disabled_user_or_an_expired_token_is_refused(api: Api, ws: Workspace) -> None:
    from datetime import timedelta

    from accord.catalog import utcnow
    from accord.catalog.models import ApiToken

    create_user(ws.catalog, "eve", email="eve@example.com")
    grant_role(ws.catalog, "admin", "eve", None)
    record, plain = create_token(ws.catalog, "eve-laptop", user="eve", expires=utcnow() + timedelta(hours=1))
    assert httpx.get(f"{api.base}/datasets", headers=bearer(plain)).status_code == 200
    set_disabled(ws.catalog, "eve", True)
    refused = httpx.get(f"{api.base}/datasets", headers=bearer(plain))
    assert refused.status_code == 401 and "user eve is disabled" in refused.json()["message"]
    set_disabled(ws.catalog, "eve", False)
    assert httpx.get(f"{api.base}/datasets", headers=bearer(plain)).status_code == 200
    with ws.catalog.session() as session:
        found = session.get(ApiToken, record.id)
        assert found is not None
        found.expires_at = utcnow() - timedelta(seconds=1)
    expired = httpx.get(f"{api.base}/datasets", headers=bearer(plain))
    assert expired.status_code == 401 and "expired at" in expired.json()["message"]


def test_home_wide_permissions_count_only_when_granted_in_every_sandbox(api: Api, ws: Workspace) -> None:
    create_user(ws.catalog, "dana")
    grant_role(ws.catalog, "admin", "dana", "dev")  # the admin of dev, not of the home
    plain = create_token(ws.catalog, "dana", user="dana")[1]
    with httpx.Client(base_url=api.base, headers=bearer(plain, "dev"), timeout=60) as client:
        assert client.post("/datasets", json={"name": "x", "schema": "nope"}).status_code == 404  # past the check
        for method, path in [("POST", "/sandboxes"), ("POST", "/users"), ("GET", "/users"), ("POST", "/tokens")]:
            refused = client.request(method, path, json={"name": "dana2"})
            assert refused.status_code == 403 and "in every sandbox (it is home-wide)" in refused.json()["message"]
        assert client.get("/me").json()["sandbox"] == "dev"  # the one sandbox it holds roles in is its default
        assert client.get("/datasets", headers={"x-sandbox-name": "prod"}).status_code == 403
        # the campaign instance is the home's (its recipients came from prod too): nothing of it for dev's admin
        for method, path in [("GET", "/campaign/recipients"), ("GET", "/campaign/deliveries"),
                             ("POST", "/campaign/deliveries"), ("POST", "/campaign/connect")]:  # fmt: skip
            refused = client.request(method, path, json={})
            assert refused.status_code == 403, (method, path, refused.text)
            assert refused.json()["details"]["permission"] in ("View Campaign", "Manage Campaign"), refused.text
        linked = client.post("/destinations/accounts", json={"name": "c", "destination": "accord-campaign",
                                                             "config": {}})  # fmt: skip
        assert linked.status_code == 403 and linked.json()["details"]["permission"] == "Manage Campaign"
        assert not [p for p in client.get("/me").json()["permissions"] if "Campaign" in p or "Sandboxes" in p]


def test_a_token_made_for_one_sandbox_holds_nothing_home_wide(api: Api, ws: Workspace) -> None:
    plain = create_token(ws.catalog, "prod-only", user="admin", sandbox="prod")[1]
    with httpx.Client(base_url=api.base, headers=bearer(plain), timeout=60) as client:
        held = client.get("/me").json()["permissions"]
        assert "Manage Datasets" in held and not {"Manage Sandboxes", "Manage Users and Roles", "View Campaign"} & set(
            held)  # fmt: skip
        assert client.get("/campaign/recipients").status_code == 403 and client.get("/users").status_code == 403


def test_users_roles_and_tokens_through_the_api(api: Api) -> None:
    made = api.post("/users", json={"name": "sam", "email": "sam@example.com", "password": "correct horse"})
    assert made.status_code == 201 and made.json()["hasPassword"] and "password" not in made.text.replace(
        "hasPassword", "")  # fmt: skip
    role = api.post("/roles", json={"name": "segmenter", "permissions": ["view segments", "Manage Segments"]})
    assert role.status_code == 201 and role.json()["permissions"] == ["View Segments", "Manage Segments"]
    bad = api.post("/roles", json={"name": "Bad Name", "permissions": ["View Segmnts", "Fly"]})
    assert bad.status_code == 400
    assert [p["path"] for p in bad.json()["details"]["problems"]] == ["name", "permissions[0]", "permissions[1]"]
    assert "did you mean View Segments" in bad.text
    assert api.post("/roles/segmenter/grants", json={"user": "sam", "sandbox": "prod"}).status_code == 201
    token = api.post("/tokens", json={"name": "sam-ci", "user": "sam", "expires": "30d"})
    assert token.status_code == 201 and token.json()["token"].startswith("acc_")
    sam = bearer(token.json()["token"])
    me = httpx.get(f"{api.base}/me", headers=sam).json()
    assert (me["user"], me["permissions"]) == ("sam", ["View Segments", "Manage Segments"])
    assert httpx.get(f"{api.base}/segment/definitions", headers=sam).status_code == 200
    assert httpx.get(f"{api.base}/datasets", headers=sam).status_code == 403
    listed = {u["name"]: u for u in api.get("/users").json()}
    assert listed["sam"]["roles"] == [{"role": "segmenter", "sandbox": "prod"}]
    assert all(t.get("token") is None for t in api.get("/tokens").json())  # values are never listed
    revoked = api.delete("/roles/segmenter/grants", params={"user": "sam", "sandbox": "prod"})
    assert revoked.status_code == 200
    assert httpx.get(f"{api.base}/segment/definitions", headers=sam).status_code == 403
    assert api.post("/users", json={"name": "sam"}).status_code == 409
    assert api.post("/users", json={"name": "x", "password": "short"}).status_code == 400
    assert api.post("/users", json={"name": "svc", "kind": "service", "password": "long enough pw"}).status_code == 400


def test_the_cli_acts_as_the_token_in_accord_token(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("init").code == 0
    assert cli("sandbox", "create", "dev").code == 0
    assert cli("user", "create", "viewer", "--service").code == 0
    assert cli("role", "grant", "analyst", "--user", "viewer", "--sandbox", "prod").code == 0
    plain = cli("token", "create", "viewer-ci", "--user", "viewer", "--json").json()["token"]
    monkeypatch.setenv("ACCORD_TOKEN", plain)
    me = cli("whoami", "--json").json()
    assert (me["user"], me["owner"], "View Datasets" in me["permissions"]) == ("viewer", False, True)
    assert cli("dataset", "list", "--json").code == 0
    assert [s["name"] for s in cli("sandbox", "list", "--json").json()] == ["prod"]  # dev: not the token's
    refused = cli("schema", "create", "crm", "--class", "profile", "--json")
    assert refused.code == 6 and refused.json()["error"]["details"]["permission"] == "Manage Schemas"
    assert cli("user", "list").code == 6
    monkeypatch.setenv("ACCORD_TOKEN", "acc_not-a-token")
    assert cli("dataset", "list").code == 5
    monkeypatch.delenv("ACCORD_TOKEN")
    assert cli("whoami", "--json").json()["owner"] is True


def test_the_last_user_who_manages_users_and_roles_keeps_it(api: Api, ws: Workspace) -> None:
    last = api.delete("/roles/admin/grants", params={"user": "admin"})
    assert last.status_code == 409 and "would leave no enabled user" in last.json()["message"]
    assert api.post("/users/admin/disable").status_code == 409
    assert api.get("/me").json()["user"] == "admin"  # still the admin of every sandbox
    create_user(ws.catalog, "second", email="second@example.com")
    grant_role(ws.catalog, "admin", "second", None)
    assert api.post("/users/second/disable").status_code == 200  # the first one is left
    assert api.post("/users/second/enable").status_code == 200
    assert api.delete("/roles/admin/grants", params={"user": "admin"}).status_code == 200  # second one is left


def test_a_call_needing_several_permissions_names_every_one_it_lacks(api: Api, ws: Workspace) -> None:
    plain = token_holding(ws, "campaign-only", {Permission.VIEW_CAMPAIGN, Permission.MANAGE_CAMPAIGN})
    refused = httpx.post(f"{api.base}/campaign/connect", headers=bearer(plain), json={})
    assert refused.status_code == 403
    body = refused.json()
    assert body["details"]["permission"] == "Manage Schemas"
    assert body["details"]["missing"] == ["Manage Schemas", "Manage Datasets", "Manage Sources", "Manage Destinations"]
    assert "'Manage Destinations'" in body["message"]
    described = api.get("/openapi.json").json()["paths"]["/campaign/connect"]["post"]
    assert described["x-accord-permissions"][0] == "Manage Campaign" and "x-accord-permission" not in described
    assert "**Manage Campaign** in every sandbox (home-wide) and **Manage Schemas** in the request's sandbox" in (
        described["description"])  # fmt: skip
