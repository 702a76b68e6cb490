"""The activity log: every change through the API and the CLI, refused ones too; append-only; no secret and no
person's identifier in it."""

from __future__ import annotations

import csv
import getpass
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from accord.access import ROUTES, create_token, create_user, grant_role
from accord.access.activity import NOT_LOGGED, WITHHELD_ROUTES
from accord.workspace import Workspace
from tests.conftest import Api

CANARY = "cAnArY-7f3a-secret"
PERSON = "zz-activity-7f3a@example.test"


def entries(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/audit", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def test_a_change_is_logged_with_who_when_where_what_and_from_where(api: Api, ws: Workspace) -> None:
    made = api.post("/schemas", json={"name": "crm", "class": "profile", "fieldGroups": ["personal-contact-details"]})
    assert made.status_code == 201
    api.get("/schemas")  # a read: not a change
    [entry] = entries(api)
    assert entry["user"] == "admin" and entry["token"] == "admin" and entry["via"] == "api"
    assert (entry["sandbox"], entry["action"], entry["object"]) == ("prod", "POST /schemas",
                                                                   {"type": "schemas", "id": "crm"})  # fmt: skip
    assert (entry["outcome"], entry["status"]) == ("success", 201) and entry["origin"].startswith("127.0.0.1")
    assert entry["changes"]["body"]["fieldGroups"] == ["personal-contact-details"]
    assert api.get("/schemas/nope").status_code == 404 and len(entries(api)) == 1
    assert api.delete("/schemas/nope").status_code == 404
    assert entries(api)[0]["outcome"] == "failed" and entries(api)[0]["object"]["id"] == "nope"


def test_a_refused_change_is_logged_as_denied(api: Api, ws: Workspace) -> None:
    create_user(ws.catalog, "ann", service=True)
    grant_role(ws.catalog, "analyst", "ann", "prod")
    plain = create_token(ws.catalog, "ann-ci", user="ann")[1]
    refused = httpx.post(f"{api.base}/datasets", headers={"Authorization": f"Bearer {plain}"}, json={"name": "x"})
    assert refused.status_code == 403
    [entry] = entries(api, user="ann")
    assert (entry["outcome"], entry["status"], entry["token"], entry["action"]) == (
        "denied", 403, "ann-ci", "POST /datasets")  # fmt: skip


def test_the_log_is_append_only(api: Api, ws: Workspace) -> None:
    api.post("/sandboxes", json={"name": "qa"})
    for statement in ("UPDATE activity_log SET user = 'someone else'", "DELETE FROM activity_log"):
        with pytest.raises(DBAPIError, match="append-only"), ws.catalog.engine.begin() as connection:
            connection.execute(text(statement))
    assert [e["user"] for e in entries(api)] == ["admin"]


def test_no_secret_of_any_connector_or_destination_reaches_the_log(api: Api, ws: Workspace) -> None:
    """Every connector's and destination's secret fields, filled with a canary, whether or not the rest is valid."""
    for connector in api.get("/connectors").json():
        config = {name: CANARY for name in connector["secretFields"]}
        api.post("/connections", json={"name": f"c-{connector['id']}", "connector": connector["id"], "config": config})
    for destination in api.get("/destinations").json():
        config = {name: CANARY for name in destination["secretFields"]}
        api.post("/destinations/accounts", json={"name": f"d-{destination['id']}", "destination": destination["id"],
                                                 "config": config})  # fmt: skip
    api.post("/users", json={"name": "pat", "password": CANARY})
    api.post("/tokens", json={"name": CANARY[:5], "user": "pat"})
    assert len(entries(api)) >= 8
    assert CANARY not in dump(ws), "a secret reached the activity log"


def test_no_persons_identifier_reaches_the_log(api: Api, ws: Workspace) -> None:
    for method, path, body in (
        ("POST", "/campaign/suppressions", {"email": PERSON, "reason": "complaint"}),
        ("DELETE", f"/campaign/suppressions/{PERSON}", None),
        ("POST", "/identity/removals", {"namespace": "Email", "id": PERSON}),
        ("POST", f"/campaign/recipients/{PERSON}/opt-out", {}),
        ("POST", "/campaign/lists/news/subscribe", {"email": PERSON}),
    ):
        api.request(method, path, json=body)
    assert len(entries(api)) == 5
    assert PERSON not in dump(ws)


def test_every_route_that_names_a_person_withholds_its_values(api: Api) -> None:
    """A route whose path or body has a field that names a person is withheld (or not logged at all)."""
    spec = api.get("/openapi.json").json()
    personal = re.compile(r"email|identit|external_?id|address|^ids?$|records", re.IGNORECASE)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "get" or path.startswith(NOT_LOGGED):
                continue
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] in ("path", "query")}
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            names |= set(resolve(spec, body).get("properties", {}))
            if any(personal.search(n) for n in names):
                assert (method.upper(), path) in WITHHELD_ROUTES, (method, path, names)
    assert set(ROUTES) | {("POST", "/privacy/jobs")} >= WITHHELD_ROUTES


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]  # type: ignore[no-any-return]
    return schema


def test_a_sandbox_shows_its_own_changes_and_the_homes_only_to_callers_of_every_sandbox(
    api: Api, ws: Workspace
) -> None:
    api.post("/datasets", json={"name": "in-dev"}, headers={"x-sandbox-name": "dev"})
    api.post("/users", json={"name": "kim"})
    assert [e["action"] for e in entries(api)] == ["POST /users"]  # prod: no change there, the home's one
    assert [e["object"]["id"] for e in api.get("/audit", headers={"x-sandbox-name": "dev"}).json()["items"]] == [
        "kim", "in-dev"]  # fmt: skip
    create_user(ws.catalog, "aud", service=True)
    grant_role(ws.catalog, "auditor", "aud", "dev")
    plain = create_token(ws.catalog, "aud", user="aud")[1]
    seen = httpx.get(f"{api.base}/audit", headers={"Authorization": f"Bearer {plain}"}).json()["items"]
    assert [e["object"]["id"] for e in seen] == ["in-dev"]  # an auditor of dev does not see the home's changes


def test_the_cli_logs_its_changes_lists_and_exports(cli: Any, tmp_path: Path) -> None:
    assert cli("init").code == 0
    assert cli("schema", "create", "crm", "--class", "profile", "--field-group", "personal-contact-details").code == 0
    assert cli("schema", "list").code == 0  # a read
    assert cli("schema", "create", "crm", "--class", "profile").code != 0  # a failed change
    found = cli("audit", "list", "--json").json()
    assert [(e["action"], e["outcome"], e["via"]) for e in found] == [
        ("accord schema create", "failed", "cli"), ("accord schema create", "success", "cli")]  # fmt: skip
    assert found[0]["user"] == f"cli:{getpass.getuser()}" and found[1]["changes"]["arguments"][:3] == [
        "schema", "create", "crm"]  # fmt: skip
    assert cli("audit", "list", "--since", "1h", "--object", "schemas/crm", "--json").json()[0]["id"] == found[0]["id"]
    assert found[1]["object"] == {"type": "schemas", "id": "crm"}  # as the API names it: POST /schemas, name crm
    assert cli("audit", "list", "--since", "2999-01-01", "--json").json() == []
    bad = cli("audit", "list", "--since", "yesterday")
    assert bad.code == 2 and "neither a span" in bad.stderr
    exported = cli("audit", "export", "-o", str(tmp_path / "log.csv"), "--json").json()
    rows = list(csv.DictReader((tmp_path / "log.csv").read_text().splitlines()))
    assert exported["entries"] == len(rows) == 2 and rows[-1]["action"] == "accord schema create"  # reads: not logged
    assert cli("audit", "export", "-o", str(tmp_path / "log.jsonl")).code == 0
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [e["id"] for e in lines] == [int(r["id"]) for r in rows]
    assert cli("audit", "export", "-o", str(tmp_path / "no" / "such" / "dir.csv")).code == 2
    (tmp_path / "taken").mkdir()
    assert cli("audit", "export", "-o", str(tmp_path / "taken")).code == 2  # a folder: nothing half-written left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "log.csv", "log.jsonl", "taken"]


def dump(ws: Workspace) -> str:
    with ws.catalog.engine.connect() as connection:
        return "\n".join(repr(tuple(row)) for row in connection.execute(text("SELECT * FROM activity_log")))


def test_the_cli_log_hides_secrets_however_given_and_names_who_was_refused(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("init").code == 0
    cli("campaign", "connect", "--token=SECRET-JOINED-1", "--json")  # whether it works or not, it is logged
    cli("campaign", "connect", "--token", "SECRET-APART-2", "--json")
    assert cli("user", "create", "ann", "--email", "ann@example.com", "--service").code == 0
    assert cli("role", "grant", "analyst", "--user", "ann", "--sandbox", "prod").code == 0
    monkeypatch.setenv("ACCORD_TOKEN", cli("token", "create", "ann-ci", "--user", "ann", "--json").json()["token"])
    assert cli("schema", "create", "crm", "--class", "profile", "--json").code == 6
    monkeypatch.delenv("ACCORD_TOKEN")
    found = cli("audit", "list", "--json").json()
    text_of_log = json.dumps(found)
    assert "SECRET-" not in text_of_log and "ann@example.com" not in text_of_log
    connects = [e["changes"]["arguments"] for e in found if e["action"] == "accord campaign connect"]
    assert sorted(connects) == [["campaign", "connect", "--token", "***", "--json"],
                                ["campaign", "connect", "--token=***", "--json"]]  # fmt: skip
    refused = next(e for e in found if e["action"] == "accord schema create")
    assert (refused["user"], refused["token"], refused["outcome"]) == ("ann", "ann-ci", "denied")


def test_a_flag_named_like_a_secret_hides_nothing_after_it() -> None:
    from accord.access.activity import shown_arguments

    shown = shown_arguments(["user", "create", "bob", "--password", "--email", "x"], frozenset({"--password"}))
    assert shown == ["user", "create", "bob", "--password", "--email", "x"]
    assert shown_arguments(["x", "--secret-key", "v", "--api-key=w", "v2"], frozenset()) == [
        "x", "--secret-key", "***", "--api-key=***", "v2"]  # fmt: skip


def test_times_with_an_offset_find_the_same_entries_through_the_api(api: Api, ws: Workspace) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    assert api.post("/sandboxes", json={"name": "qa"}).status_code == 201
    at = datetime.fromisoformat(entries(api)[0]["at"]).astimezone(UTC)
    before, after = at - timedelta(minutes=1), at + timedelta(minutes=1)
    for moment in (before, after):  # the same moments, in UTC and ten hours behind it
        utc = len(entries(api, since=moment.isoformat()))
        behind = len(entries(api, since=moment.astimezone(timezone(timedelta(hours=-10))).isoformat()))
        assert utc == behind, moment
    assert len(entries(api, since=before.isoformat())) >= 1 and entries(api, since=after.isoformat()) == []
    edge = api.get("/audit", params={"since": "0001-01-01T00:00+01:00"})
    assert edge.status_code == 400 and edge.json()["code"] == "ACCESS-0431-400"


def test_cli_entries_name_their_object_as_the_api_does_and_reads_are_not_logged(cli: Any) -> None:
    assert cli("init").code == 0
    assert cli("schema", "create", "crm", "--class", "profile", "--field-group", "personal-contact-details").code == 0
    assert cli("dataset", "create", "crm", "--schema", "crm").code == 0
    assert cli("label", "add", "crm", "C2").code == 0
    assert cli("batch", "delete", "nope").code != 0  # a failed change is logged too
    assert cli("campaign", "list", "create", "owners-list").code == 0  # the campaign instance alone is opened
    assert cli("user", "list").code == 0 and cli("token", "list").code == 0  # reads: not logged
    found = {e["action"]: e["object"] for e in cli("audit", "list", "--json").json()}
    assert found["accord label add"] == {"type": "datasets", "id": "crm"}  # as POST /datasets/crm/labels
    assert found["accord dataset create"] == {"type": "datasets", "id": "crm"}
    assert found["accord batch delete"] == {"type": "batches", "id": "nope"}
    assert found["accord campaign list create"] == {"type": "campaign/lists", "id": "owners-list"}
    assert not {"accord user list", "accord token list"} & set(found)
    assert cli("audit", "list", "--object", "datasets/crm", "--json").json()[0]["action"] == "accord label add"
