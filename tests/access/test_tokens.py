"""Tokens act for a user and may be narrowed to a sandbox: refused outside it, and only holders of Manage
Sandboxes in every sandbox manage sandboxes."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from accord.access import (
    HOME_WIDE,
    ROUTES,
    Permission,
    PermissionMissingError,
    SandboxForbiddenError,
    authenticate,
    authorize_sandbox,
    create_token,
    permissions_needed,
    require,
)
from accord.catalog import create_sandbox
from accord.errors import InvalidInputError, NotFoundError
from accord.workspace import Workspace
from tests.conftest import Api


def operations(api: Api) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document, path parameters filled in."""
    spec = api.get("/openapi.json").json()
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, found in spec["paths"].items()
        for method in found
        if path != "/health"
    ]


def token(ws: Workspace, name: str, role: str | None = None, sandbox: str | None = None) -> dict[str, str]:
    _record, plain = create_token(ws.catalog, name, role, sandbox)
    return {"Authorization": f"Bearer {plain}"}


def test_a_sandbox_token_is_refused_on_every_route_of_another_sandbox(api: Api, ws: Workspace) -> None:
    walked = operations(api)
    assert len(walked) > 40
    # The Segment-spec routes take no API token: a write key (HTTP basic auth) names one inlet of one sandbox
    segment_calls = [(m, p) for m, p in walked if p.startswith("/v1/")]
    walked.remove(("POST", "/auth/login"))  # public: a person signs in there, with no token
    assert len(segment_calls) == 8
    with httpx.Client(base_url=api.base, headers=token(ws, "dev-ci", sandbox="dev"), timeout=60) as client:
        for method, path in segment_calls:
            refused = client.request(method, path, headers={"x-sandbox-name": "prod"})
            assert refused.status_code == 401 and refused.json()["code"] == "STREAM-0401-401", refused.text
        for method, path in set(walked) - set(segment_calls):
            for headers in ({"x-sandbox-name": "prod"}, {"x-sandbox-name": "no-such-sandbox"}):
                response = client.request(method, path, headers=headers)
                assert response.status_code == 403, (method, path, headers, response.text)
                body = response.json()
                assert body["code"] == "ACCESS-0403-403" and "for sandbox 'dev' only" in body["message"], body
                assert body["details"]["allowedSandbox"] == "dev", body  # a sandbox's name is no secret


HOME_WIDE_ROUTES = {("POST", "/sandboxes"), *(
    (m, re.sub(r"\{[^}]+\}", "x", p)) for (m, p), needed in ROUTES.items()
    if set(permissions_needed(needed)) & HOME_WIDE)}  # fmt: skip


def test_a_sandbox_token_works_in_its_own_sandbox(api: Api, ws: Workspace) -> None:
    dev = token(ws, "dev-ci", sandbox="dev")
    with httpx.Client(base_url=api.base, headers={**dev, "x-sandbox-name": "dev"}, timeout=60) as client:
        for method, path in operations(api):
            if path.startswith("/v1/") or path == "/auth/login":  # a write key, not a token (above); public
                continue
            response = client.request(method, path)
            if (method, path) in HOME_WIDE_ROUTES:  # a token of one sandbox never acts on the whole home
                assert response.status_code == 403 and response.json()["code"] == "ACCESS-0405-403", response.text
            else:
                assert response.status_code not in (401, 403), (method, path, response.text)
    created = httpx.post(f"{api.base}/schemas", headers=dev, json={"name": "crm", "class": "profile",
                         "fieldGroups": ["personal-contact-details"]})  # fmt: skip
    assert created.status_code == 201  # without the header: the token's own sandbox
    assert [s["name"] for s in httpx.get(f"{api.base}/schemas", headers=dev).json()] == ["crm"]
    assert api.get("/schemas", headers={"x-sandbox-name": "prod"}).json() == []  # it went to dev, not prod
    assert [s["name"] for s in httpx.get(f"{api.base}/sandboxes", headers=dev).json()] == ["dev"]


def test_the_admin_token_of_init_holds_every_sandbox_and_manages_them(api: Api, ws: Workspace) -> None:
    for sandbox in ("prod", "dev"):
        assert api.get("/schemas", headers={"x-sandbox-name": sandbox}).status_code == 200
    assert {s["name"] for s in api.get("/sandboxes").json()} == {"prod", "dev"}
    assert api.post("/sandboxes", json={"name": "staging"}).status_code == 201
    engineer = token(ws, "engineer", "data engineer")  # narrowed to a role of every sandbox: uses them, manages none
    assert httpx.get(f"{api.base}/schemas", headers={**engineer, "x-sandbox-name": "staging"}).status_code == 200
    refused = httpx.post(f"{api.base}/sandboxes", headers=engineer, json={"name": "other"})
    assert refused.status_code == 403 and "needs the permission 'Manage Sandboxes'" in refused.json()["message"]


def test_scope_rules_in_the_service_layer(workspace: Workspace) -> None:
    with workspace.catalog.session() as session:
        create_sandbox(session, "dev")
    _record, plain = create_token(workspace.catalog, "dev-ci", "data engineer", "dev")
    caller = authenticate(workspace.catalog, plain)
    assert (caller.user, caller.role, caller.sandbox) == ("admin", "data engineer", "dev")
    assert authorize_sandbox(caller, None, "prod") == "dev"
    with pytest.raises(SandboxForbiddenError):
        authorize_sandbox(caller, "prod", "prod")
    require(caller, Permission.MANAGE_DATASETS, "dev")
    with pytest.raises(PermissionMissingError, match="'Activate Destinations' in sandbox 'dev'"):
        require(caller, Permission.ACTIVATE_DESTINATIONS, "dev")  # a data engineer's role does not hold it
    with pytest.raises(PermissionMissingError, match="'Manage Campaign' in every sandbox"):
        require(caller, Permission.MANAGE_CAMPAIGN, "dev")  # the campaign instance is the home's
    with pytest.raises(PermissionMissingError, match="'Manage Users and Roles' in every sandbox"):
        require(caller, Permission.MANAGE_USERS_AND_ROLES, "dev")
    with pytest.raises(NotFoundError, match="no role named 'root'"):
        create_token(workspace.catalog, "x", "root")
    with pytest.raises(NotFoundError):
        create_token(workspace.catalog, "x", None, "nope")
    with pytest.raises(NotFoundError, match="no user named 'nobody'"):
        create_token(workspace.catalog, "x", user="nobody")
    with pytest.raises(InvalidInputError, match="1 to 128 characters"):
        create_token(workspace.catalog, "")


def test_tokens_through_the_cli(cli: Any) -> None:
    assert cli("init").code == 0
    assert cli("sandbox", "create", "dev").code == 0
    made = cli("token", "create", "dev-ci", "--sandbox", "dev", "--role", "marketer", "--json")
    assert made.code == 0 and (made.json()["role"], made.json()["sandbox"], made.json()["user"]) == (
        "marketer", "dev", "admin")  # fmt: skip
    assert cli("token", "create", "ops", "--json").json()["role"] is None
    refused = cli("token", "create", "x", "--role", "root")
    assert refused.code == 3 and "no role named 'root'" in refused.stderr
    assert cli("token", "create", "x", "--sandbox", "nope").code == 3
    listed = {t["name"]: t for t in cli("token", "list", "--json").json()}
    assert (listed["dev-ci"]["sandbox"], listed["admin"]["sandbox"], listed["admin"]["role"]) == ("dev", None, None)
    assert "dev-ci  admin  marketer  dev" in cli("token", "list").stdout


def test_a_sandbox_token_names_only_its_sandboxs_folder_of_each_allowed_root(
    api: Api, ws: Workspace, settings: Any
) -> None:
    """Every sandbox shares the operator's allowed folders; a token of `dev` may name only their `dev`
    folders, so that it never reads the files dropped for `prod` (an admin names any allowed folder)."""
    root = settings.allowed_roots[0]
    (root / "dev").mkdir()
    (root / "prod").mkdir()
    (root / "prod" / "orders.csv").write_text("id\n1\n")
    dev = token(ws, "dev-ci", sandbox="dev")
    with httpx.Client(base_url=api.base, headers=dev, timeout=60) as client:
        for place in (root, root / "prod", root / "dev" / ".." / "prod"):
            refused = client.post(
                "/connections", json={"name": "x", "connector": "local", "config": {"root": str(place)}}
            )
            assert refused.status_code == 403 and refused.json()["code"] == "ACCESS-0410-403", (place, refused.text)
        made = client.post("/connections", json={"name": "mine", "connector": "local",
                                                 "config": {"root": str(root / "dev")}})  # fmt: skip
        assert made.status_code == 201, made.text
        assert client.post("/connections/mine/test").json()["ok"] is True
    assert (
        api.post("/connections", json={"name": "all", "connector": "local", "config": {"root": str(root)}}).status_code
        == 201
    )


def test_permissions_over_the_whole_home_open_no_sandboxs_folders(api: Api, ws: Workspace, settings: Any) -> None:
    """A data engineer of prod who also runs campaigns (View/Manage Campaign granted in every sandbox, as
    docs/governance.md says) names prod's folders only, not dev's."""
    from accord.access import create_role, create_user, grant_role

    root = settings.allowed_roots[0]
    (root / "dev").mkdir()
    (root / "prod").mkdir()
    create_role(ws.catalog, "campaigner", ["View Campaign", "Manage Campaign"])
    create_user(ws.catalog, "dan", service=True)
    grant_role(ws.catalog, "data engineer", "dan", "prod")
    grant_role(ws.catalog, "campaigner", "dan", None)
    plain = create_token(ws.catalog, "dan-ci", user="dan")[1]
    with httpx.Client(base_url=api.base, headers={"Authorization": f"Bearer {plain}"}, timeout=60) as client:
        for place in (root, root / "dev"):
            refused = client.post("/connections", json={"name": "x", "connector": "local",
                                                        "config": {"root": str(place)}})  # fmt: skip
            assert refused.status_code == 403 and refused.json()["code"] == "ACCESS-0410-403", (place, refused.text)
        made = client.post("/connections", json={"name": "mine", "connector": "local",
                                                 "config": {"root": str(root / "prod")}})  # fmt: skip
        assert made.status_code == 201, made.text
        assert client.get("/campaign/instance").status_code != 403  # the campaign is his, home-wide
        assert [s["name"] for s in client.get("/sandboxes").json()] == ["prod"]


def test_details_naming_a_secret_are_hidden_at_any_depth() -> None:
    error = InvalidInputError("bad", code="X-0000-400", password="p1", nested={"apiKey": "k1", "path": "a.csv"},
                              problems=[{"secretAccessKey": "s1", "path": "config.x"}])  # fmt: skip
    shown = str(error.to_dict())
    assert not {"p1", "k1", "s1"} & set(re.findall(r"'(\w+)'", shown)), shown
    assert "a.csv" in shown and "config.x" in shown


def test_a_tokens_last_use_is_kept_to_the_minute_without_a_write_per_request(workspace: Workspace) -> None:
    from accord.catalog.models import ApiToken

    record, plain = create_token(workspace.catalog, "busy")

    def last_used() -> Any:
        with workspace.catalog.session() as session:
            found = session.get(ApiToken, record.id)
            assert found is not None
            return found.last_used_at

    authenticate(workspace.catalog, plain)
    first = last_used()
    assert first is not None
    for _ in range(5):
        authenticate(workspace.catalog, plain)
    assert last_used() == first  # within the minute: not written again


def test_times_with_an_offset_are_the_same_moment_in_utc(cli: Any) -> None:
    from datetime import UTC, datetime

    from accord.access import parse_expiry
    from accord.access.activity import parse_since

    moment = datetime(2027, 1, 1, 10, tzinfo=UTC)
    assert parse_expiry("2027-01-01T00:00:00-10:00") == moment == parse_since("2027-01-01T19:00:00+09:00")
    assert parse_expiry("2027-01-01T10:00:00") == moment  # without an offset: UTC
    with pytest.raises(InvalidInputError, match="at most 10 years"):
        parse_expiry("99999w")
    assert cli("init").code == 0
    made = cli("token", "create", "tz", "--expires", "2030-01-01T00:00:00-10:00", "--json").json()
    assert datetime.fromisoformat(made["expiresAt"]) == datetime(2030, 1, 1, 10, tzinfo=UTC), made
    listed = {t["name"]: t for t in cli("token", "list", "--json").json()}
    assert datetime.fromisoformat(listed["tz"]["expiresAt"]).replace(tzinfo=UTC) == datetime(2030, 1, 1, 10,
                                                                                             tzinfo=UTC)  # fmt: skip
