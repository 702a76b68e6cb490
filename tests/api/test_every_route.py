"""Every route of the OpenAPI document, called with valid input on a small home, its answer's content checked.

ROUTES holds one case per (method, path template): the call, what must be done first, and what a user
would check in the answer or in the next GET (a created object reads back with its fields, a change
shows, a deleted object is gone). A route without a case, or a case without a route, fails
`test_every_route_has_a_case`, which names them. Cases do not depend on each other's order.
"""

from __future__ import annotations

import json
import mailbox
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from accord import segment
from accord.access import Permission, create_token
from accord.workspace import Workspace
from tests.checks import Check, Ref, each, has, holding, lacks, lists
from tests.conftest import Api
from tests.http_receiver import answer
from tests.small_home import (
    LOYALTY_V2,
    MATCHING_RULES,
    OSLO,
    PARISIANS,
    PEOPLE_MAPPING,
    PREFS,
    SCRATCH_MAPPING,
    TWINS_CSV,
    SmallHome,
    serving,
    small_home,
)

Step = Callable[[Api, SmallHome], None]


@dataclass(frozen=True)
class Case:
    url: str
    """The path with its parameters; `{key}` is filled from the ids the home was built with."""
    check: Check
    status: int = 200
    json: Any = None
    params: dict[str, Any] | None = None
    files: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    before: Step | None = None


def then(url: str, *checks: Check, params: dict[str, Any] | None = None) -> Check:
    """The next GET of `url` (`{field}` taken from the first answer) answers 200 and passes the checks."""

    def check(api: Api, body: Any) -> None:
        response = api.get(url.format(**body) if isinstance(body, dict) else url, params=params)
        assert response.status_code == 200, (url, response.text)
        for one in checks:
            one(api, response.json())

    return check


def gone(url: str) -> Check:
    """The next GET of `url` is a 404 in the JSON error shape."""

    def check(api: Api, _body: Any) -> None:
        response = api.get(url)
        assert response.status_code == 404, (url, response.status_code, response.text)
        assert set(response.json()) == {"code", "message", "details"} and response.json()["message"]

    return check


def fill(body: Any, ids: dict[str, str]) -> Any:
    """A request body with `{key}` at the start of a string replaced by the home's id or folder of that name."""
    if isinstance(body, dict):
        return {k: fill(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [fill(v, ids) for v in body]
    if isinstance(body, str) and body.startswith("{") and body[1 : body.find("}")] in ids:
        return body.format(**ids)
    return body


def send(method: str, url: str, body: Any) -> Step:
    def step(api: Api, home: SmallHome) -> None:
        response = api.request(method, url, json=fill(body, home.ids))
        assert response.status_code in (200, 201), (url, response.text)

    return step


def upload(dataset: str, text: str, mapping: dict[str, Any]) -> Step:
    def step(api: Api, _home: SmallHome) -> None:
        files, data = {"file": ("upload.csv", text.encode())}, {"mapping": json.dumps(mapping)}
        response = api.post(f"/datasets/{dataset}/batches", files=files, data=data)
        assert response.status_code == 201 and response.json()["status"] == "success", response.text

    return step


def none_pending(_api: Api, body: Any) -> None:
    assert body == [], body


def graph(api: Api, crm_id: str) -> str:
    return str(api.get("/profiles", params={"namespace": "CRMID", "id": crm_id}).json()["graphId"])


def members_are(*crm_ids: str) -> Check:
    def check(api: Api, body: Any) -> None:
        assert sorted(m["graphId"] for m in body["items"]) == sorted(graph(api, c) for c in crm_ids)
        assert body["total"] == len(crm_ids)

    return check


def in_scratch(present: set[str], absent: set[str] | None = None) -> Check:
    """The scratch dataset's records now: these `_id`s are there, those are not."""

    def check(api: Api, _body: Any) -> None:
        found = {r["_id"] for r in api.get("/datasets/scratch/preview", params={"limit": 100}).json()["rows"]}
        assert present <= found and not (absent or set()) & found, found

    return check


def purged(api: Api, body: Any) -> None:
    assert (body["purgedRecords"], body["batches"]) == (2, 1)
    assert [r["_id"] for r in api.get("/datasets/clicks/preview").json()["rows"]] == ["e13"]
    assert api.get("/datasets/clicks").json()["rowCount"] == 1


def uploaded(api: Api, body: Any) -> None:
    assert (body["status"], body["dataset"], body["outputRecordCount"]) == ("success", "scratch", 1)
    assert api.get(f"/batches/{body['id']}").json()["status"] == "success"
    in_scratch({"u1"})(api, body)


def secrets_are_settings(_api: Api, body: Any) -> None:
    """Each connector names its secrets as its configuration does (`secretAccessKey`), so they are kept apart."""
    for connector in body:
        properties = connector["config"]["properties"]
        assert connector["secretFields"] == [k for k, v in properties.items() if v.get("secret")], connector["id"]


def run_listed(api: Api, body: Any) -> None:
    runs = api.get("/runs", params={"dataflow": "crm-files"}).json()
    assert [(r["status"], r["recordsIngested"]) for r in runs if r["id"] == body["id"]] == [("success", 1)]


def proposed_twins(api: Api, body: Any) -> None:
    assert body["records"] == 142 and body["proposed"] > 0 and body["threshold"] == 0.9
    found = api.get("/identity/matches", params={"limit": 1000}).json()
    assert found["total"] == body["proposed"] and all(m["probability"] >= 0.9 for m in found["items"])
    assert {"Z1", "Z2"} in [{m["from"]["id"], m["to"]["id"]} for m in found["items"]]


def ann_profile(_api: Api, body: Any) -> None:
    assert body["attributes"]["person"]["name"]["firstName"] == "Ann" and body["mergePolicy"] == "latest"
    assert body["attributes"]["personalEmail"]["address"] == "ann@example.com"
    assert {"namespace": "CRMID", "id": "C1"} in body["identities"]
    assert sorted(e["eventType"] for e in body["events"]["items"]) == ["commerce.productViews", "commerce.purchases"]
    assert body["segmentMembership"]["parisians"]["status"] in ("realized", "existing")  # a later job: existing


def streaming_change(api: Api, body: Any) -> None:
    assert body["evaluated"] == ["gold"] and body["graphId"] == graph(api, "C3")
    assert [(c["segment"], c["status"]) for c in body["changes"]] == [("gold", "realized")]


def segment_call(call: dict[str, Any]) -> dict[str, Any]:
    """A Segment call with the home's inlet's write key in its body (Segment takes it there too)."""
    return {"writeKey": "{write_key}", **call}


def logged_once(api: Api, body: Any) -> None:
    """A Segment call answered as Segment answers, and in the event log (the write key came in the body)."""
    assert body == {"success": True}
    assert api.get("/streaming/stats").json()["lagMessages"] >= 1


def events_of_ann(api: Api, body: Any) -> None:
    ann = graph(api, "C1")
    assert [(e["graphId"], e["status"]) for e in body["items"] if e["graphId"] == ann] == [(ann, "realized")]
    assert body["next"] == body["items"][-1]["id"]


def each_step(*steps: Step) -> Step:
    def step(api: Api, home: SmallHome) -> None:
        for one in steps:
            one(api, home)

    return step


def audit_exported(api: Api, lines: Any) -> None:
    """The export holds, as JSON lines, the entries the listing pages through: a change just made is first."""
    assert lines[0]["action"] == "POST /sandboxes" and lines[0]["object"] == {"type": "sandboxes", "id": "audited"}
    assert [e["id"] for e in lines] == [e["id"] for e in api.get("/audit", params={"limit": 10_000}).json()["items"]]


def token_works(api: Api, body: Any) -> None:
    """The new token is the analyst of prod: it reads, and is refused a change naming the permission."""
    import httpx

    headers = {"Authorization": f"Bearer {body['token']}"}
    assert httpx.get(f"{api.base}/me", headers=headers).json()["permissions"][0] == "View Sources"
    refused = httpx.post(f"{api.base}/schemas", headers=headers, json=NEWS)
    assert refused.status_code == 403 and refused.json()["details"]["permission"] == "Manage Schemas"


ANN = {"namespace": "CRMID", "id": "C1"}
ANN_BY_EMAIL = {"namespace": "Email", "id": "ann@example.com"}
NEWS = {"name": "news", "class": "profile", "fieldGroups": ["personal-contact-details"]}
DRAFT_V2 = {"name": "draft", "class": "profile", "fieldGroups": ["demographic-details", "loyalty"]}
SPARE_DB = {"name": "spare-db", "connector": "database",
            "config": {"dialect": "sqlite", "database": "{landing}/spare.db", "password": "hunter2"}}  # fmt: skip
SPARE_FLOW = {"name": "spare-flow", "connection": "landing", "dataset": "scratch", "source": {"path": "crm"},
              "mapping": SCRATCH_MAPPING}  # fmt: skip
EVERY_DAY = {"schedule": {"frequency": "day", "interval": 2}, "enabled": False}
UNLINK = {"kind": "link", "identity": {"namespace": "CRMID", "id": "C2"},
          "other": {"namespace": "Email", "id": "bob@example.com"}, "reason": "shared inbox"}  # fmt: skip
FORGET = {"kind": "identity", "identity": {"namespace": "Email", "id": "old@example.com"}}
RULES = {"uniqueNamespaces": ["CRMID"], "priority": ["CRMID", "Email", "LoyaltyID"]}
ROBS = {"name": "bobs", "description": "Robs now", "expression": {"value": 'person.name.firstName = "Rob"'}}
DELAY = {"event": "run.delay", "delayMinutes": 150, "webhookUrl": "https://hooks.example.com/accord"}
CONNECTORS = [{"id": c} for c in ("local", "s3", "azure-blob", "sftp", "database")]

SPRING = {"name": "spring", "label": "Spring sale", "campaignId": "CMP-7", "campaignName": "Spring",
          "sender": "Shop <news@shop.example>", "subject": "Spring, {{ recipient.firstName }}",
          "html": "<p>{{ recipient.firstName }}</p>", "text": "Hi {{ recipient.firstName }}",
          "target": {"list": "vip"}}  # fmt: skip
VIP_AGAIN = {"name": "vip-again", "label": "VIP again", "activities": [
    {"name": "members", "type": "query", "options": {"filter": {"field": "externalId", "op": "eq", "value": "C1"}},
     "next": ["copy"]},
    {"name": "copy", "type": "list-update", "options": {"list": "vip-again", "mode": "add"}, "next": []}]}  # fmt: skip
TO_EDIT = {**VIP_AGAIN, "name": "to-edit", "label": "To edit"}
DOOMED_FLOW = {**VIP_AGAIN, "name": "doomed-flow"}


def mailed(to: str, subject: str, text: str) -> Check:
    """The home's SMTP server holds a message to `to` with this subject, its text part holding `text`."""

    def check(api: Api, _body: Any) -> None:
        found = [r.message() for r in api.home.smtp.received() if r.recipients == [to]]
        found = [m for m in found if m["Subject"] == subject]
        assert len(found) == 1, [(r.recipients, r.message()["Subject"]) for r in api.home.smtp.received()]
        assert text in found[0].get_body(("plain",)).get_content()

    return check


def alerted(message: str) -> Check:
    """The HTTP receiver had the alert refused once, then took it."""

    def check(api: Api, _body: Any) -> None:
        alerts = [r for r in api.home.receiver.requests("/vip") if r.json()["message"] == message]
        assert len(alerts) == 2, alerts

    return check


def audience_file(name: str, *, run: bool = False) -> Step:
    """An audience file of Ann in the instance's landing folder, as the CDP's destination writes one; imported
    at once when `run`."""

    def step(api: Api, home: SmallHome) -> None:
        text = "externalId,email,firstName,segmentMembership.status\nC1,ann@example.com,Ann,realized\n"
        (home.settings.campaign_landing_folder / name).write_text(text)
        if run:
            assert api.post("/campaign/import").json()["status"] == "success"

    return step


def delivered_report(_api: Api, home: SmallHome) -> None:
    """A DSN in the bounce mailbox saying Ann's `vip-news` message was delivered (a report to read, not a bounce)."""
    from tests.campaign.test_bounces import delivery_report

    assert home.smtp is not None and home.settings.campaign_bounce_mailbox is not None
    [sent] = [r.message() for r in home.smtp.received() if r.message()["Subject"] == "Ann, news of vip-news"]
    mailbox.Maildir(home.settings.campaign_bounce_mailbox).add(delivery_report(sent, "delivered", "2.0.0"))


def bounces_filed(api: Api, _body: Any) -> None:
    """The report was moved out of new/ (read) into cur/, and nothing was suppressed for it."""
    folder = api.home.settings.campaign_bounce_mailbox
    assert list((folder / "new").iterdir()) == [] and len(list((folder / "cur").iterdir())) == 1
    assert "ann@example.com" not in [s["email"] for s in api.get("/campaign/suppressions").json()]


# fmt: off
ROUTES: dict[tuple[str, str], Case] = {
    ("GET", "/health"): Case("/health", has({"status": "ok", "version": str})),
    # sandboxes
    ("GET", "/sandboxes"): Case("/sandboxes", lists({"name": "prod", "title": "Production"})),
    ("POST", "/sandboxes"): Case("/sandboxes", then("/sandboxes", lists({"name": "dev", "title": "Development"})),
                                 201, json={"name": "dev", "title": "Development"}),
    # schemas, unions, field groups
    ("GET", "/schemas"): Case("/schemas", lists({"name": "crm", "class": "profile",
                                                "datasets": holding("crm", "scratch")},
                                               {"name": "web", "class": "experienceevent"})),
    ("POST", "/schemas"): Case("/schemas", then("/schemas/{name}", has({**NEWS, "version": 1})), 201, json=NEWS),
    ("GET", "/schemas/{name}"): Case("/schemas/crm", has({"identities": [
        {"path": "_tenant.crmId", "namespace": "CRMID", "primary": True},
        {"path": "personalEmail.address", "namespace": "Email", "primary": False}]})),
    ("PUT", "/schemas/{name}"): Case("/schemas/draft", then("/schemas/draft", has({**DRAFT_V2, "version": 2})),
                                     json=DRAFT_V2),
    ("DELETE", "/schemas/{name}"): Case("/schemas/old", gone("/schemas/old"), 204,
                                        before=send("POST", "/schemas", {**NEWS, "name": "old"})),
    ("GET", "/schemas/{name}/jsonschema"): Case("/schemas/crm/jsonschema", has({
        "meta:class": lambda v: v.endswith("/profile"),
        "properties": {"_tenant": {"properties": {"crmId": {"type": "string"}, "tier": {"enum": ["gold", "silver"]}}}},
    })),
    ("GET", "/unions/{class_name}"): Case("/unions/profile", has({"class": "profile", "fields": {
        "_tenant": {"properties": {"tier": {"type": "string"}}}, "personalEmail": dict}})),
    ("GET", "/unions/{class_name}/jsonschema"): Case("/unions/experienceevent/jsonschema", has({
        "properties": {"commerce": {"properties": {"order": dict}}, "eventType": dict}})),
    ("GET", "/fieldgroups"): Case("/fieldgroups", lists({"name": "loyalty", "standard": False},
                                                         {"name": "demographic-details", "standard": True})),
    ("POST", "/fieldgroups"): Case("/fieldgroups", then("/fieldgroups/prefs", has(PREFS)), 201, json=PREFS),
    ("GET", "/fieldgroups/{name}"): Case("/fieldgroups/loyalty", has({"fields": {"_tenant": {"properties": {
        "crmId": {"type": "string"}}}}})),
    ("PUT", "/fieldgroups/{name}"): Case("/fieldgroups/loyalty", each(  # in use by crm: a field may be added
        then("/fieldgroups/loyalty", has({"version": 2, "fields": {"_tenant": {"properties": {"since": dict}}}})),
        then("/unions/profile", has({"fields": {"_tenant": {"properties": {"since": dict}}}}))), json=LOYALTY_V2),
    # datasets
    ("GET", "/datasets"): Case("/datasets", lists({"name": "web", "schema": "web", "rowCount": 3, "batchCount": 1},
                                                 {"name": "crm", "profileEnabled": True})),
    ("POST", "/datasets"): Case("/datasets", then("/datasets/{name}", has({"schema": "crm", "profileEnabled": False,
                                                                          "rowCount": 0})),
                                201, json={"name": "spare", "schema": "crm"}),
    ("GET", "/datasets/{name}"): Case("/datasets/crm", has({"schema": "crm", "class": "profile", "ttlDays": None,
                                                            "rowCount": lambda n: n >= 4})),
    ("PATCH", "/datasets/{name}"): Case("/datasets/later", then("/datasets/later", has({"profileEnabled": True,
                                                                                        "ttlDays": 7})),
                                        json={"profileEnabled": True, "ttlDays": 7},
                                        before=send("POST", "/datasets", {"name": "later", "schema": "web"})),
    ("POST", "/datasets/{name}/purge"): Case("/datasets/clicks/purge", purged,
                                             before=send("PATCH", "/datasets/clicks", {"ttlDays": 30})),
    ("POST", "/datasets/{name}/records/delete"): Case("/datasets/scratch/records/delete", each(
        has({"dataset": "scratch", "deletedRecords": 1}), in_scratch({"r2"}, {"r1"})), json={"ids": ["r1"]}),
    ("GET", "/datasets/{name}/preview"): Case("/datasets/web/preview", has({"dataset": "web", "rows": lambda rows: (
        len(rows) == 2 and all(r["eventType"].startswith("commerce.") for r in rows))}), params={"limit": 2}),
    ("GET", "/datasets/{name}/stats"): Case("/datasets/web/stats", has({"rowCount": 3, "fields": {
        "eventType": {"count": 3, "distinct": 2}, "commerce.order.priceTotal": {"count": 1}}})),
    # batches
    ("POST", "/datasets/{name}/batches"): Case("/datasets/scratch/batches", uploaded, 201,
                                               files={"file": ("u.csv", b"crm,first\nu1,Uma\n")},
                                               data={"mapping": json.dumps(SCRATCH_MAPPING)}),
    ("GET", "/batches"): Case("/batches", lists({"id": Ref("crm_batch"), "status": "success", "failedRecordCount": 1}),
                              params={"dataset": "crm"}),
    ("GET", "/batches/{batch_id}"): Case("/batches/{crm_batch}", has({"dataset": "crm", "inputRecordCount": 4,
                                                                       "outputRecordCount": 3})),
    ("GET", "/batches/{batch_id}/errors"): Case("/batches/{crm_batch}/errors", has({"items": lambda items: [
        (i["lineNumber"], i["record"]["email"], {e["code"] for e in i["_errors"]}) for i in items] == [
        (5, "not-an-email", {"INGEST-1214-400", "INGEST-1218-400"})]})),
    ("DELETE", "/batches/{batch_id}"): Case("/batches/{scratch_batch}", each(
        has({"status": "deleted"}), then("/batches/{id}", has({"status": "deleted"})),
        in_scratch({"r2"}, {"d1", "d2"}))),
    # connectors, connections, dataflows, runs, alerts
    ("GET", "/connectors"): Case("/connectors", each(lists(*CONNECTORS), secrets_are_settings)),
    ("GET", "/connectors/{connector}"): Case("/connectors/database", has({"secretFields": ["password"], "config": {
        "properties": {"dialect": {"enum": ["postgresql", "mysql", "sqlite"]}}}})),
    ("GET", "/connections"): Case("/connections", lists({"name": "landing", "connector": "local"},
                                                       {"name": "shopdb", "connector": "database"})),
    ("POST", "/connections"): Case("/connections", each(
        has({"name": "spare-db", "secretFields": ["password"], "config": lambda c: "password" not in c}),
        then("/connections", lists({"name": "spare-db", "config": {"database": lambda d: d.endswith("/spare.db")}}))),
        201, json=SPARE_DB),
    ("GET", "/connections/{name}"): Case("/connections/shopdb", has({"name": "shopdb", "connector": "database",
        "secretFields": [], "config": {"dialect": "sqlite"}})),
    ("POST", "/connections/{name}/test"): Case("/connections/shopdb/test", has({"connection": "shopdb", "ok": True,
        "steps": lambda steps: steps and all(s["ok"] for s in steps)})),
    ("DELETE", "/connections/{name}"): Case("/connections/gone-db", then("/connections", lacks({"name": "gone-db"})),
                                            204, before=send("POST", "/connections", {**SPARE_DB, "name": "gone-db"})),
    ("GET", "/dataflows"): Case("/dataflows", lists({"name": "crm-files", "connection": "landing", "dataset": "crm"})),
    ("POST", "/dataflows"): Case("/dataflows", then("/dataflows/{name}", has({"dataset": "scratch", "source": {
        "path": "crm"}, "enabled": True, "mapping": SCRATCH_MAPPING})), 201, json=SPARE_FLOW),
    ("GET", "/dataflows/{name}"): Case("/dataflows/crm-files", has({"source": {"path": "crm", "glob": "*.csv"},
                                                                    "errorThreshold": 50, "running": None})),
    ("PATCH", "/dataflows/{name}"): Case("/dataflows/patched", then("/dataflows/patched", has(EVERY_DAY)),
                                         json=EVERY_DAY,
                                         before=send("POST", "/dataflows", {**SPARE_FLOW, "name": "patched"})),
    ("DELETE", "/dataflows/{name}"): Case("/dataflows/doomed", gone("/dataflows/doomed"), 204,
                                          before=send("POST", "/dataflows", {**SPARE_FLOW, "name": "doomed"})),
    ("POST", "/dataflows/{name}/runs"): Case("/dataflows/crm-files/runs", each(
        has({"status": "success", "files": 1, "recordsIngested": 1}), run_listed), 201,
        before=lambda _api, home: home.drop_late_file()),
    ("GET", "/runs"): Case("/runs", lists({"id": Ref("run"), "dataflow": "crm-files", "status": "success"}),
                           params={"dataflow": "crm-files"}),
    ("GET", "/runs/{run_id}"): Case("/runs/{run}", has({"recordsIngested": 1, "files": 1, "errors": [],
                                                       "batches": lambda b: len(b) == 1})),
    ("GET", "/alerts/subscriptions"): Case("/alerts/subscriptions", lists({"event": "run.success",
                                                                          "dataflow": "crm-files"})),
    ("POST", "/alerts/subscriptions"): Case("/alerts/subscriptions", then("/alerts/subscriptions", lists({
        "event": "run.delay", "delayMinutes": 150, "webhook": "hooks.example.com"})), 201, json=DELAY),
    ("GET", "/alerts"): Case("/alerts", lists({"event": "run.success", "dataflow": "crm-files", "runId": Ref("run"),
                                              "delivery": "none"})),
    # identity
    ("GET", "/namespaces"): Case("/namespaces", lists({"symbol": "LoyaltyID", "standard": False,
                                                       "type": "cross_device"}, {"symbol": "Email", "standard": True})),
    ("POST", "/namespaces"): Case("/namespaces", then("/namespaces", lists({"symbol": "MemberID",
                                                                            "type": "partner_id"})),
                                  201, json={"symbol": "MemberID", "type": "partner_id", "name": "Member"}),
    ("POST", "/identity/graph/build"): Case("/identity/graph/build", each(
        has({"identities": lambda n: n >= 11, "graphs": lambda n: n >= 5}),
        then("/identity/graph", has({"identities": lambda ids: ANN in ids}), params=ANN_BY_EMAIL))),
    ("GET", "/identity/graph"): Case("/identity/graph", has({"primary": ANN, "links": [{
        "from": ANN, "to": ANN_BY_EMAIL, "rule": "same record", "records": 1, "batch": Ref("crm_batch"),
        "dataset": "crm"}]}),
        params=ANN_BY_EMAIL),
    ("GET", "/identity/rules"): Case("/identity/rules", has({"uniqueNamespaces": ["CRMID"],
                                                             "priority": lambda p: p[:2] == ["CRMID", "Email"]})),
    ("PUT", "/identity/rules"): Case("/identity/rules", then("/identity/rules", has(RULES)), json=RULES),
    ("POST", "/identity/removals"): Case("/identity/removals", then("/identity/removals", lists(UNLINK)), 201,
                                         json=UNLINK),
    ("GET", "/identity/removals"): Case("/identity/removals", lists({**FORGET, "removedBy": "admin"}),
                                        before=send("POST", "/identity/removals", FORGET)),
    ("POST", "/identity/matching"): Case("/identity/matching", proposed_twins, json=MATCHING_RULES,
                                         before=upload("people", TWINS_CSV, PEOPLE_MAPPING)),
    ("GET", "/identity/matches"): Case("/identity/matches", has({"total": lambda n: n > 0, "items": lambda items: all(
        m["probability"] >= 0.9 and len(m["records"]) == 2 for m in items)})),
    # profiles
    ("POST", "/profiles/rebuild"): Case("/profiles/rebuild", each(
        has({"graph": {"graphs": lambda n: n >= 5}, "profiles": {"profiles": lambda n: n >= 5}}),
        then("/profiles", has({"attributes": {"person": {"name": {"firstName": "Ann"}}}}), params=ANN))),
    ("GET", "/profiles"): Case("/profiles", ann_profile, params=ANN_BY_EMAIL),
    ("GET", "/mergepolicies"): Case("/mergepolicies", lists({"name": "latest", "kind": "timestamp", "default": True},
                                                           {"name": "crm-first", "datasets": ["crm", "web"]})),
    ("POST", "/mergepolicies"): Case("/mergepolicies", each(
        has({"name": "web-first", "kind": "dataset_precedence", "default": False}),
        then("/profiles", has({"mergePolicy": "web-first", "attributes": {"person": {"name": {"firstName": "Ann"}}}}),
             params={**ANN, "mergePolicy": "web-first"})), 201,
        json={"name": "web-first", "kind": "dataset_precedence", "datasets": ["web", "crm"]}),
    # segments
    ("GET", "/segment/definitions"): Case("/segment/definitions", lists({"name": "parisians", "expression": {
        "value": PARISIANS}}, {"name": "paris-buyers", "composition": {"intersection": ["parisians", "buyers"]}})),
    ("POST", "/segment/definitions"): Case("/segment/definitions", then("/segment/definitions/oslo", has({
        "expression": {"value": OSLO}, "streamingEligible": True})), 201,
        json={"name": "oslo", "expression": {"value": OSLO}}),
    ("GET", "/segment/definitions/{name}"): Case("/segment/definitions/gold", has({
        "evaluationInfo": {"streaming": {"enabled": True}}, "expression": {"type": "PQL", "format": "pql/text"}})),
    ("PUT", "/segment/definitions/{name}"): Case("/segment/definitions/bobs", then("/segment/definitions/bobs", has(
        ROBS)), json=ROBS),
    ("DELETE", "/segment/definitions/{name}"): Case("/segment/definitions/brief", each(
        has({"name": "brief"}), gone("/segment/definitions/brief")),
        before=send("POST", "/segment/definitions", {"name": "brief", "expression": {"value": OSLO}})),
    ("POST", "/computed-attributes"): Case("/computed-attributes", each(
        has({"name": "visits", "status": "NEW", "mergeFunction": {"value": "COUNT"},
             "path": "_tenant.SystemComputedAttributes.visits.value"}),
        then("/computed-attributes/visits", has({"duration": {"count": 7, "unit": "DAYS"}}))), 201,
        json={"name": "visits", "expression": {"value": "xEvent.count()"}, "duration": {"count": 7, "unit": "days"}}),
    ("GET", "/computed-attributes"): Case("/computed-attributes", lists({"name": "seen", "status": "NEW"}),
        before=send("POST", "/computed-attributes", {"name": "seen", "expression": {"value": "xEvent.count()"},
                                                      "duration": {"count": 1, "unit": "DAYS"}})),
    ("GET", "/computed-attributes/{name}"): Case("/computed-attributes/shown", has({
        "name": "shown", "returnSchema": {"meta:xdmType": "integer"}, "lastEvaluatedAt": None}),
        before=send("POST", "/computed-attributes", {"name": "shown", "expression": {"value": "xEvent.count()"},
                                                      "duration": {"count": 1, "unit": "DAYS"}})),
    ("PATCH", "/computed-attributes/{name}"): Case("/computed-attributes/later", then(
        "/computed-attributes/later", has({"status": "NEW", "description": "published"})),
        json={"status": "NEW", "description": "published"},
        before=send("POST", "/computed-attributes", {"name": "later", "expression": {"value": "xEvent.count()"},
                                                      "duration": {"count": 1, "unit": "DAYS"}, "status": "DRAFT"})),
    ("DELETE", "/computed-attributes/{name}"): Case("/computed-attributes/brief", each(
        has({"name": "brief"}), gone("/computed-attributes/brief")),
        before=send("POST", "/computed-attributes", {"name": "brief", "expression": {"value": "xEvent.count()"},
                                                      "duration": {"count": 1, "unit": "DAYS"}})),
    ("POST", "/computed-attributes/refresh"): Case("/computed-attributes/refresh", each(
        has({"evaluated": list, "evaluatedAt": str}), then("/computed-attributes/fresh", has({
            "status": "PROCESSED", "lastEvaluatedAt": str}))),
        before=send("POST", "/computed-attributes", {"name": "fresh", "expression": {"value": "xEvent.count()"},
                                                      "duration": {"count": 1, "unit": "DAYS"}})),
    ("POST", "/segment/validate"): Case("/segment/validate", has({"valid": True, "streamingEligible": True}),
                                        json={"expression": {"value": PARISIANS}}),
    ("POST", "/segment/estimate"): Case("/segment/estimate", has({"estimate": 2, "profiles": lambda n: n >= 5,
        "sample": lambda s: len(s) == 2}), json={"expression": {"value": PARISIANS}}),
    ("POST", "/segment/jobs"): Case("/segment/jobs", each(
        has({"status": "success", "segments": 1, "counts": {"parisians": {"qualified": 2}}}),
        then("/segment/jobs/{id}", has({"status": "success", "finished": str}))), 201,
        json={"segments": ["parisians"]}),
    ("GET", "/segment/jobs/{job_id}"): Case("/segment/jobs/{job}", has({"status": "success", "segments": 4, "counts": {
        "parisians": {"realized": 2}, "paris-buyers": {"realized": 1}, "bobs": {"realized": 1}}})),
    ("GET", "/segment/jobs"): Case("/segment/jobs", lists({"id": Ref("job"), "status": "success", "trigger": "manual"},
                                                          {"id": Ref("queued_job")})),
    ("DELETE", "/segment/jobs/{job_id}"): Case("/segment/jobs/{queued_job}", each(
        has({"status": "cancelled", "cancelRequested": True}), then("/segment/jobs/{id}", has({"status": "cancelled",
                                                                                              "finished": str})))),
    ("GET", "/segment/schedule"): Case("/segment/schedule", has({"everyHours": 6, "at": "01:30", "enabled": True,
        "nextRunAt": str}), before=send("PUT", "/segment/schedule", {"everyHours": 6, "at": "01:30"})),
    ("PUT", "/segment/schedule"): Case("/segment/schedule", then("/segment/schedule", has({"everyHours": 12,
        "at": "03:00", "rebuildProfiles": True, "enabled": True})), json={"everyHours": 12, "at": "03:00",
                                                                          "rebuildProfiles": True}),
    ("DELETE", "/segment/schedule"): Case("/segment/schedule", each(has({"enabled": False}), then(
        "/segment/schedule", has({"enabled": False, "nextRunAt": None}))),
        before=send("PUT", "/segment/schedule", {"everyHours": 24})),
    ("GET", "/segment/definitions/{name}/members"): Case("/segment/definitions/paris-buyers/members",
                                                         members_are("C1")),
    ("POST", "/segment/streaming/evaluate"): Case("/segment/streaming/evaluate", streaming_change,
                                                  json={"namespace": "CRMID", "id": "C3"}),
    ("GET", "/segment/history"): Case("/segment/history", has({"transitions": lambda t: {
        (x["segment"], x["status"]) for x in t} == {("parisians", "realized"), ("buyers", "realized"),
        ("paris-buyers", "realized")}}), params=ANN),
    ("GET", "/segment/events"): Case("/segment/events", events_of_ann,
                                     before=send("POST", "/segment/streaming/evaluate", ANN)),
    # destinations and activation
    ("GET", "/destinations"): Case("/destinations", lists({"id": "local", "delivery": "batch", "exportType": "profile",
                                                           "files": {"splitRows": 5_000_000}})),
    ("GET", "/destinations/{destination}"): Case("/destinations/local", has({"name": "Local folder", "config": {
        "required": ["root"]}, "limits": {"audiencesPerFlow": 250, "attributesPerFlow": 50}})),
    ("POST", "/streaming/inlets"): Case("/streaming/inlets", each(has({"name": "spare-inlet",
        "dataset": "scratch", "public": False, "collectionUrl": lambda u: u.startswith("/collection/")}),
        then("/streaming/inlets/spare-inlet", has({"dataset": "scratch", "kind": "xdm"}))), 201,
        json={"name": "spare-inlet", "dataset": "scratch"}),
    ("GET", "/streaming/inlets"): Case("/streaming/inlets", lists({"id": Ref("inlet"), "name": "scratch-inlet",
        "dataset": "scratch"})),
    ("GET", "/streaming/inlets/{name}"): Case("/streaming/inlets/scratch-inlet", has({"id": Ref("inlet"),
        "dataset": "scratch", "public": False})),
    ("DELETE", "/streaming/inlets/{name}"): Case("/streaming/inlets/gone-inlet", then("/streaming/inlets",
        lacks({"name": "gone-inlet"})), 204, before=send("POST", "/streaming/inlets", {"name": "gone-inlet",
        "dataset": "scratch"})),
    ("GET", "/streaming/stats"): Case("/streaming/stats", has({"processorRunning": False,
        "lagMessages": lambda n: n >= 0})),
    ("POST", "/collection/{inlet_id}"): Case("/collection/{inlet}", each(has({"inletId": Ref("inlet"),
        "status": 200, "xactionId": lambda x: bool(x)}), then("/streaming/stats", has({
        "lagMessages": lambda n: n >= 1}))), json={"header": {}, "body": {"xdmEntity": {
        "_id": "s1", "person": {"name": {"firstName": "Sue"}}}}}),
    ("POST", "/collection/batch/{inlet_id}"): Case("/collection/batch/{inlet}", has({"inletId": Ref("inlet"),
        "responses": lambda r: [x["status"] for x in r] == [200, 400]}), 207, json={"messages": [
        {"body": {"xdmEntity": {"_id": "s2", "person": {"name": {"firstName": "Sid"}}}}}, {"body": {}}]}),
    ("POST", "/v1/identify"): Case("/v1/identify", logged_once, json=segment_call({"userId": "w-1",
        "traits": {"firstName": "Wes"}})),
    ("POST", "/v1/track"): Case("/v1/track", logged_once, json=segment_call({"userId": "w-1", "event": "Signed Up",
        "properties": {"plan": "pro"}})),
    ("POST", "/v1/page"): Case("/v1/page", logged_once, json=segment_call({"anonymousId": "a-1", "name": "Home"})),
    ("POST", "/v1/screen"): Case("/v1/screen", logged_once, json=segment_call({"anonymousId": "a-1", "name": "Cart"})),
    ("POST", "/v1/group"): Case("/v1/group", logged_once, json=segment_call({"userId": "w-1", "groupId": "g-1"})),
    ("POST", "/v1/alias"): Case("/v1/alias", logged_once, json=segment_call({"previousId": "a-1", "userId": "w-1"})),
    ("POST", "/v1/batch"): Case("/v1/batch", logged_once, json={"writeKey": "{write_key}", "batch": [
        {"type": "track", "anonymousId": "a-2", "event": "Viewed"}]}),
    ("POST", "/v1/import"): Case("/v1/import", logged_once, json={"writeKey": "{write_key}", "batch": [
        {"type": "page", "anonymousId": "a-3", "timestamp": "2025-01-01T00:00:00Z"}]}),
    ("GET", "/destinations/accounts"): Case("/destinations/accounts", lists({"name": "outbox", "destination": "local",
                                                                             "config": {"root": Ref("outbox")}})),
    ("POST", "/destinations/accounts"): Case("/destinations/accounts", each(
        has({"name": "spare-box", "destination": "local", "secretFields": []}),
        then("/destinations/accounts/spare-box", has({"config": {"root": Ref("outbox")}}))), 201,
        json={"name": "spare-box", "destination": "local", "config": {"root": "{outbox}"}}),
    ("GET", "/destinations/accounts/{name}"): Case("/destinations/accounts/outbox", has({"destination": "local",
                                                                                         "secretFields": []})),
    ("POST", "/destinations/accounts/{name}/test"): Case("/destinations/accounts/outbox/test", has({
        "account": "outbox", "ok": True, "steps": lambda steps: [s["step"] for s in steps] == [
            "folder exists", "folder writable"]})),
    ("PUT", "/destinations/accounts/{name}/marketing-actions"): Case(
        "/destinations/accounts/acted-box/marketing-actions",
        each(has({"marketingActions": ["exportToThirdParty"]}), then("/destinations/accounts/acted-box", has({
            "marketingActions": ["exportToThirdParty"]}))), json={"marketingActions": ["exportToThirdParty"]},
        before=send("POST", "/destinations/accounts", {"name": "acted-box", "destination": "local",
                                                       "config": {"root": "{outbox}"}})),
    ("DELETE", "/destinations/accounts/{name}"): Case("/destinations/accounts/gone-box", then(
        "/destinations/accounts", lacks({"name": "gone-box"})), 204, before=send("POST", "/destinations/accounts", {
            "name": "gone-box", "destination": "local", "config": {"root": "{outbox}"}})),
    ("GET", "/activations"): Case("/activations", lists({"name": "paris-out", "account": "outbox", "state": "enabled",
                                                         "exportMode": "incremental"})),
    ("POST", "/activations"): Case("/activations", then("/activations/{name}", has({"account": "outbox",
        "audiences": [{"segment": "bobs", "segmentId": str}], "mandatory": []})), 201,
        json={"name": "bobs-out", "account": "outbox", "audiences": [{"segment": "bobs"}],
              "mapping": [{"source": "identityMap.Email", "target": "email"}]}),
    ("GET", "/activations/{name}"): Case("/activations/paris-out", has({"audiences": [{"segment": "parisians",
        "schedule": {"frequency": "daily", "time": "06:00"}}], "file": {"manifest": True}, "dedupKey": []})),
    ("DELETE", "/activations/{name}"): Case("/activations/doomed-out", gone("/activations/doomed-out"), 204,
        before=send("POST", "/activations", {"name": "doomed-out", "account": "outbox", "audiences": [
            {"segment": "bobs"}], "mapping": [{"source": "identityMap.Email", "target": "email"}]})),
    ("POST", "/activations/{name}/enable"): Case("/activations/paris-out/enable", has({"state": "enabled"}),
                                                 before=send("POST", "/activations/paris-out/disable", None)),
    ("POST", "/activations/{name}/disable"): Case("/activations/paused-out/disable", then(
        "/activations/paused-out", has({"state": "disabled"})), before=send("POST", "/activations", {
            "name": "paused-out", "account": "outbox", "audiences": [{"segment": "bobs"}],
            "mapping": [{"source": "identityMap.Email", "target": "email"}]})),
    ("POST", "/activations/{name}/runs"): Case("/activations/paris-out/runs", each(
        has({"status": "success", "full": False, "profilesReceived": 2, "audiences": [{"changes": {}}],
             "files": lambda files: [f["rows"] for f in files] == [0, 1]}),
        then("/activations/paris-out/runs", lists({"id": Ref("activation_run"), "status": "success"}))), 201),
    ("GET", "/activations/{name}/runs"): Case("/activations/paris-out/runs", lists({
        "id": Ref("activation_run"), "status": "success", "full": True, "identitiesActivated": 2})),
    ("GET", "/activations/{name}/deadletters"): Case("/activations/paris-hook/deadletters", lists({
        "runId": Ref("hook_run"), "profiles": 2, "answer": {"status": 503}, "request": {"method": "POST"}})),
    ("POST", "/activations/{name}/deadletters/replay"): Case("/activations/paris-hook/deadletters/replay", each(
        has({"flow": "paris-hook", "failed": 0, "delivered": lambda n: n >= 1}),
        then("/activations/paris-hook/deadletters", none_pending, params={"pending": True})),
        before=lambda api, home: home.receiver.then(default=answer(200))),
    ("GET", "/activations/runs/{run_id}"): Case("/activations/runs/{activation_run}", has({
        "flow": "paris-out", "profilesReceived": 2, "excluded": {}, "audiences": [{"changes": {"added": 2}}],
        "files": lambda files: [f["rows"] for f in files] == [2, 1] and files[0]["name"].startswith("paris_")})),
    ("GET", "/campaign/instance"): Case("/campaign/instance", has({"instance": "default", "targetMappings": [
        "recipient"], "limits": lambda limits: limits["audiences"] == 25 and limits["fields"] == 20})),
    ("GET", "/campaign/recipients"): Case("/campaign/recipients", has({"total": 2, "recipients": lambda r: [
        x["externalId"] for x in r] == ["C1", "C2"]}), params={"limit": 10}),
    ("GET", "/campaign/recipients/{external_id}"): Case("/campaign/recipients/C1", has({
        "email": "ann@example.com", "firstName": "Ann", "blackListEmail": False})),
    ("POST", "/campaign/recipients/{external_id}/opt-out"): Case("/campaign/recipients/C2/opt-out", each(
        has({"blackListMobile": True}), then("/campaign/recipients/C2", has({"blackListMobile": True}))),
        json={"channel": "sms"}),
    ("GET", "/campaign/lists"): Case("/campaign/lists", lists({"name": "vip", "origin": "manual", "members": 1})),
    ("POST", "/campaign/lists"): Case("/campaign/lists", each(has({"name": "news", "doubleOptIn": True}),
        then("/campaign/lists", lists({"name": "news", "origin": "subscription", "members": 0}))), 201,
        json={"name": "news", "doubleOptIn": True}),
    ("GET", "/campaign/lists/{name}/members"): Case("/campaign/lists/vip/members", lambda _a, body: body == ["C1"]),
    ("GET", "/campaign/addresses"): Case("/campaign/addresses", lists({"email": "proof@example.com", "kind": "test"})),
    ("POST", "/campaign/addresses"): Case("/campaign/addresses", then("/campaign/addresses", lists({
        "email": "copies@example.com", "kind": "seed"}), params={"kind": "seed"}), 201,
        json={"email": "copies@example.com", "kind": "seed"}),
    ("GET", "/campaign/suppressions"): Case("/campaign/suppressions", lists({"email": "old@example.com",
        "reason": "hard-bounce"}), before=send("POST", "/campaign/suppressions", {"email": "Old@example.com",
        "reason": "hard-bounce"})),
    ("POST", "/campaign/suppressions"): Case("/campaign/suppressions", each(has({"email": "eve@example.com"}),
        then("/campaign/suppressions", lists({"email": "eve@example.com", "reason": "complained"}))), 201,
        json={"email": "Eve@Example.com", "reason": "complained"}),
    ("DELETE", "/campaign/suppressions/{email}"): Case("/campaign/suppressions/gone@example.com", then(
        "/campaign/suppressions", lacks({"email": "gone@example.com"})), 204, before=send(
        "POST", "/campaign/suppressions", {"email": "gone@example.com"})),
    ("POST", "/campaign/logs/export"): Case("/campaign/logs/export", has({"instance": "default",  # vip-news's row
        "deliveryLogs": lambda n: n >= 1, "files": lambda f: [x["name"].split("_")[0] for x in f] == ["deliverylogs"]
        and f[0]["rows"] >= 1})),
    ("POST", "/campaign/connect"): Case("/campaign/connect", each(has({"destinationAccount": "campaign-default",
        "dataflows": holding("campaign-default-tracking-logs")}), then("/destinations/accounts/campaign-default",
        has({"destination": "accord-campaign"}))), json={"namespace": "CRMID"}),
    ("GET", "/campaign/deliveries"): Case("/campaign/deliveries", lists({"name": "vip-news", "state": "sent",
        "target": {"list": "vip"}}, {"name": "vip-proof", "sender": "Shop <news@shop.example>"})),
    ("POST", "/campaign/deliveries"): Case("/campaign/deliveries", each(has({"name": "spring", "state": "draft"}),
        then("/campaign/deliveries/spring", has({**SPRING, "state": "draft", "counts": {}}))), 201, json=SPRING),
    ("GET", "/campaign/deliveries/{name}"): Case("/campaign/deliveries/vip-news", has({"id": Ref("vip-news"),
        "subject": "{{ recipient.firstName }}, news of vip-news", "state": "sent",
        "counts": lambda c: c["sent"] == 1})),
    ("POST", "/campaign/deliveries/{name}/check"): Case("/campaign/deliveries/vip-news/check", has({
        "recipients": 1, "fields": ["firstName"], "missing": {}, "excluded": lambda e: sum(e.values()) == 0})),
    ("POST", "/campaign/deliveries/{name}/proof"): Case("/campaign/deliveries/vip-proof/proof", each(
        has({"sent": 1, "messages": [{"to": "proof@example.com", "status": "sent", "messageId": str}]}),
        mailed("proof@example.com", "[PROOF] Ann, news of vip-proof", "Hello Ann"),
        then("/campaign/deliveries/vip-proof", has({"state": "proofed"})))),
    ("POST", "/campaign/deliveries/{name}/send"): Case("/campaign/deliveries/vip-send/send", each(
        has({"delivery": "vip-send", "targeted": 1, "sentNow": 1, "sent": 1, "failed": 0, "bounced": 0}),
        mailed("ann@example.com", "Ann, news of vip-send", "Hello Ann"),
        then("/campaign/deliveries/vip-send/log", has({"counts": {"sent": 1}, "rows": [{"externalId": "C1",
             "status": "sent"}]})))),
    ("GET", "/campaign/deliveries/{name}/log"): Case("/campaign/deliveries/vip-news/log", has({"delivery": "vip-news",
        "counts": {"pending": 0, "sending": 0, "sent": 1, "failed": 0, "bounced": 0}, "total": 1, "rows": [{
        "externalId": "C1", "email": "ann@example.com", "status": "sent", "messageId": str, "at": str}]}),
        params={"status": "sent", "limit": 10}),
    ("POST", "/campaign/lists/{name}/subscribe"): Case("/campaign/lists/letters/subscribe", each(
        has({"list": "letters", "email": "bob@example.com", "status": "pending", "confirmation": {"status": "sent"}}),
        mailed("bob@example.com", "Please confirm your subscription to letters", "/campaign/t/s/"),
        then("/campaign/lists/letters/members", lambda _a, ids: ids == [])),  # pending until confirmed
        json={"email": "Bob@Example.com", "fields": {"firstName": "Bob"}},
        before=send("POST", "/campaign/lists", {"name": "letters", "doubleOptIn": True})),
    ("GET", "/campaign/workflows"): Case("/campaign/workflows", lists({"name": "audience-import", "enabled": True},
        {"name": "vip-copy", "activities": lambda a: len(a) == 2})),
    ("POST", "/campaign/workflows"): Case("/campaign/workflows", each(has({"name": "vip-again", "enabled": True}),
        then("/campaign/workflows/vip-again", has({**VIP_AGAIN, "enabled": True}))), 201, json=VIP_AGAIN),
    ("GET", "/campaign/workflows/{name}"): Case("/campaign/workflows/audience-import", has({"activities": lambda a: [
        x["type"] for x in a] == ["scheduler", "file-collector", "data-loading", "update-data", "list-update"]})),
    ("PUT", "/campaign/workflows/{name}"): Case("/campaign/workflows/to-edit", then("/campaign/workflows/to-edit",
        has({"label": "Edited", "enabled": False})), json={**TO_EDIT, "label": "Edited"}, params={"enabled": False},
        before=send("POST", "/campaign/workflows", TO_EDIT)),
    ("DELETE", "/campaign/workflows/{name}"): Case("/campaign/workflows/doomed-flow", gone(
        "/campaign/workflows/doomed-flow"), 204, before=send("POST", "/campaign/workflows", DOOMED_FLOW)),
    ("POST", "/campaign/workflows/{name}/runs"): Case("/campaign/workflows/vip-copy/runs", each(has({
        "workflow": "vip-copy", "status": "success", "activities": lambda a: [x["status"] for x in a] == [
        "success", "success"]}), then("/campaign/lists/vip-copy/members", lambda _a, ids: ids == ["C1"]))),
    ("GET", "/campaign/workflows/{name}/runs"): Case("/campaign/workflows/vip-copy/runs", lists({
        "id": Ref("workflow_run"), "workflow": "vip-copy", "status": "success", "trigger": "manual"})),
    ("GET", "/campaign/workflows/runs/{run_id}"): Case("/campaign/workflows/runs/{workflow_run}", has({
        "workflow": "vip-copy", "status": "success", "error": None, "activities": [
        {"activity": "members", "type": "query", "status": "success", "counts": {"population": 1}},
        {"activity": "copy", "type": "list-update", "status": "success", "counts": lambda c: c.get("added") == 1}]})),
    ("POST", "/campaign/workflows/runs/{run_id}/resume"): Case("/campaign/workflows/runs/{failed_run}/resume", each(
        has({"id": Ref("failed_run"), "status": "success", "error": None, "activities": lambda a: [(x["activity"],
        x["status"]) for x in a] == [("members", "success"), ("alert", "failed"), ("alert", "success")]}),
        alerted("vip-alert"))),
    ("POST", "/campaign/import"): Case("/campaign/import", each(has({"workflow": "audience-import",
        "status": "success", "activities": lambda a: len(a) == 5}), then("/campaign/loads", lists({
        "file": "spring_segmentsp1_20261130080000.csv", "loaded": 1, "inserted": 0, "rejected": 0}))),
        before=audience_file("spring_segmentsp1_20261130080000.csv")),
    ("GET", "/campaign/loads"): Case("/campaign/loads", lists({"file": "autumn_segmentau1_20261130080000.csv",
        "loaded": 1, "rejected": 0, "error": None, "list": "autumn_segmentau1"}),
        before=audience_file("autumn_segmentau1_20261130080000.csv", run=True)),
    ("POST", "/campaign/bounces/process"): Case("/campaign/bounces/process", each(has({"read": 1, "ignored": 1,
        "hard": 0, "soft": 0, "unreadable": 0}), bounces_filed), before=delivered_report),
    # access control
    ("GET", "/me"): Case("/me", has({"user": "admin", "token": "admin", "sandbox": "prod", "tokenSandbox": None,
        "permissions": lambda p: set(p) == {str(x) for x in Permission}})),
    ("POST", "/auth/login"): Case("/auth/login", has({"user": "signer", "csrfToken": str, "expiresAt": str}),
        json={"user": "signer", "password": "a long passphrase"},
        before=send("POST", "/users", {"name": "signer", "password": "a long passphrase"})),
    ("POST", "/auth/logout"): Case("/auth/logout", lambda _api, body: None, 204),
    ("GET", "/users"): Case("/users", lists({"name": "admin", "kind": "person", "disabled": False,
        "roles": [{"role": "admin", "sandbox": "*"}]})),
    ("POST", "/users"): Case("/users", then("/users/{name}", has({"name": "ops-bot", "kind": "service",
        "hasPassword": False, "roles": []})), 201, json={"name": "ops-bot", "kind": "service"}),
    ("GET", "/users/{name}"): Case("/users/admin", has({"name": "admin", "roles": [{"role": "admin",
        "sandbox": "*"}]})),
    ("POST", "/users/{name}/disable"): Case("/users/leaver/disable", then("/users/leaver", has({"disabled": True})),
        before=send("POST", "/users", {"name": "leaver", "email": "leaver@example.com"})),
    ("POST", "/users/{name}/enable"): Case("/users/returner/enable", then("/users/returner", has({"disabled": False})),
        before=each_step(send("POST", "/users", {"name": "returner"}), send("POST", "/users/returner/disable", {}))),
    ("GET", "/roles"): Case("/roles", lists({"name": "marketer", "builtIn": True,
        "permissions": holding("Activate Destinations", "Manage Campaign")}, {"name": "auditor", "builtIn": True})),
    ("POST", "/roles"): Case("/roles", then("/roles", lists({"name": "segmenter", "builtIn": False,
        "permissions": ["View Segments", "Manage Segments"]})), 201,
        json={"name": "segmenter", "permissions": ["View Segments", "Manage Segments"]}),
    ("POST", "/roles/{name}/grants"): Case("/roles/analyst/grants", then("/users/granted", has({
        "roles": [{"role": "analyst", "sandbox": "prod"}]})), 201, json={"user": "granted", "sandbox": "prod"},
        before=send("POST", "/users", {"name": "granted"})),
    ("DELETE", "/roles/{name}/grants"): Case("/roles/auditor/grants", then("/users/ungranted", has({"roles": []})),
        params={"user": "ungranted"}, before=each_step(send("POST", "/users", {"name": "ungranted"}),
        send("POST", "/roles/auditor/grants", {"user": "ungranted"}))),
    ("GET", "/tokens"): Case("/tokens", lists({"name": "admin", "user": "admin", "role": None, "revoked": False,
        "token": None})),
    ("POST", "/tokens"): Case("/tokens", each(has({"name": "ci", "user": "admin", "role": "analyst",
        "sandbox": "prod", "token": lambda t: t.startswith("acc_"), "expiresAt": str}), token_works), 201,
        json={"name": "ci", "role": "analyst", "sandbox": "prod", "expires": "1d"}),
    # data usage governance
    ("GET", "/labels"): Case("/labels", lists({"name": "C2", "category": "contract"}, {"name": "S3",
        "category": "sensitive"})),
    ("POST", "/labels"): Case("/labels", then("/labels", lists({"name": "PSPD", "category": "custom",
        "description": "permitted sensitive personal data"})), 201,
        json={"name": "PSPD", "description": "permitted sensitive personal data"}),
    ("GET", "/datasets/{name}/labels"): Case("/datasets/web/labels", has({"dataset": "web", "labels": ["C9"],
        "fields": {}}), before=send("POST", "/datasets/web/labels", {"labels": ["C9"]})),
    ("POST", "/datasets/{name}/labels"): Case("/datasets/crm/labels", then("/datasets/crm/labels", has({
        "fields": {"personalEmail.address": ["C2", "I1"]}})), json={"labels": ["I1", "C2"],
        "field": "personalEmail.address"}),
    ("DELETE", "/datasets/{name}/labels"): Case("/datasets/scratch/labels", then("/datasets/scratch/labels", has({
        "labels": ["C1"]})), params={"label": ["C12"]}, before=send("POST", "/datasets/scratch/labels",
        {"labels": ["C1", "C12"]})),
    ("GET", "/marketing-actions"): Case("/marketing-actions", lists({"name": "emailTargeting", "core": True})),
    ("POST", "/marketing-actions"): Case("/marketing-actions", then("/marketing-actions", lists({
        "name": "smsTargeting", "title": "SMS targeting", "core": False})), 201,
        json={"name": "smsTargeting", "title": "SMS targeting"}),
    ("GET", "/policies"): Case("/policies", lists({"name": "core-export-to-third-party", "enabled": False,
        "core": True, "marketingAction": "exportToThirdParty"})),
    ("POST", "/policies"): Case("/policies", then("/policies", lists({"name": "no-c9-science", "enabled": False,
        "expression": "C9 AND NOT C1"})), 201, json={"name": "no-c9-science", "marketingAction": "dataScience",
        "expression": "C9 AND NOT C1"}),
    ("POST", "/policies/{name}/enable"): Case("/policies/core-segment-match/enable", then("/policies", lists({
        "name": "core-segment-match", "enabled": True}))),
    ("POST", "/policies/{name}/disable"): Case("/policies/core-data-science/disable", then("/policies", lists({
        "name": "core-data-science", "enabled": False})), before=send("POST", "/policies/core-data-science/enable",
        {})),
    ("GET", "/activations/{name}/policies"): Case("/activations/paris-out/policies", has({"activation": "paris-out",
        "destination": "outbox", "allowed": True, "violations": []})),
    ("GET", "/audit"): Case("/audit", each(has({"items": lambda items: all(i["sandbox"] in ("prod", None)
        for i in items), "next": None}), lists({"action": "POST /sandboxes", "user": "admin", "sandbox": None,
        "object": {"type": "sandboxes", "id": "seen"}}, key="items")), params={"limit": 10_000},
        before=send("POST", "/sandboxes", {"name": "seen"})),
    ("GET", "/audit/export"): Case("/audit/export", audit_exported, before=send("POST", "/sandboxes",
        {"name": "audited"})),
    ("DELETE", "/tokens/{token_id}"): Case("/tokens/{spare_token}", then("/tokens", lists({"id": Ref("spare_token"),
        "revoked": True})), 204),
    # privacy jobs: an access job finds Ann in the lake, her graph and her profile; a delete of someone who is
    # nowhere completes, finds nothing and names nobody (the walk's home keeps everyone for the other cases)
    ("POST", "/privacy/jobs"): Case("/privacy/jobs", each(has({"kind": "access", "status": "complete",
        "summary": {"people": 1, "storesWithErrors": []}, "bundleReady": True, "report": lambda r: {
        x["store"] for x in r if x["found"]} >= {"lake", "identityGraph", "profileStore", "segmentMemberships"}}),
        then("/privacy/jobs/{id}", has({"status": "complete"}))), 201,
        json={"kind": "access", "identities": [{"namespace": "CRMID", "value": "C1"}]}),
    ("GET", "/privacy/jobs"): Case("/privacy/jobs", lists({"kind": "delete", "status": "complete", "summary": {
        "found": 0, "removed": 0}, "identities": [{"namespace": "Email", "digest": str}]}), before=send(
        "POST", "/privacy/jobs", {"kind": "delete", "identities": ["Email:nobody@example.com"]})),
    ("GET", "/privacy/jobs/{job_id}"): Case("/privacy/jobs/{privacy_job}", has({"id": Ref("privacy_job"),
        "kind": "access", "identities": [{"namespace": "Email", "value": "bob@example.com"}], "report": lambda r: [
        x["store"] for x in r] == ["eventLog", "lake", "identityGraph", "profileStore", "segmentMemberships",
        "activations", "campaign", "lakeDiagnostics", "catalog", "sourceFiles"]})),
    ("GET", "/privacy/jobs/{job_id}/bundle"): Case("/privacy/jobs/{privacy_job}/bundle", has({
        "job": Ref("privacy_job"), "lake": {"crm": [{"_tenant": {"crmId": "C2"}}]},
        "profileStore": [{"attributes": {"person": {"name": {"firstName": "Bob"}}}}]})),
}
# fmt: on


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, SmallHome]]:
    with small_home(Path(tmp_path_factory.mktemp("route-walk"))) as home, serving(home.settings, home.token) as api:
        workspace = Workspace.open(home.settings)
        home.ids["spare_token"] = create_token(workspace.catalog, "spare")[0].id
        home.ids["queued_job"] = segment.queue_job(workspace, "prod", None)  # its process is about to start
        workspace.close()
        api.ids = home.ids
        api.home = home  # what checks read besides the API: the SMTP server, the HTTP receiver, the mailbox
        made = api.post("/privacy/jobs", json={"kind": "access", "identities": ["Email:bob@example.com"]})
        assert made.status_code == 201, made.text
        home.ids["privacy_job"] = made.json()["id"]
        yield api, home


def test_every_route_has_a_case(walk: tuple[Api, SmallHome]) -> None:
    api, _ = walk
    paths = api.get("/openapi.json").json()["paths"]
    live = {(method.upper(), path) for path, operations in paths.items() for method in operations}
    missing = sorted(live - set(ROUTES))
    stale = sorted(set(ROUTES) - live)
    assert not missing, f"routes without a case in ROUTES (tests/api/test_every_route.py): {missing}"
    assert not stale, f"cases in ROUTES for routes the API no longer has: {stale}"


@pytest.mark.parametrize("route", list(ROUTES), ids=" ".join)
def test_route(walk: tuple[Api, SmallHome], route: tuple[str, str]) -> None:
    api, home = walk
    method, template = route
    case = ROUTES[route]
    url = case.url.format(**home.ids)
    assert re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", template), url), f"{url} is not a call of {template}"
    if case.before is not None:
        case.before(api, home)
    body = fill(case.json, home.ids)
    response = api.request(method, url, json=body, params=case.params, files=case.files, data=case.data)
    assert response.status_code == case.status, f"{method} {url}: {response.status_code} {response.text}"
    if response.headers.get("content-type", "").startswith("application/x-ndjson"):
        answer = [json.loads(line) for line in response.text.splitlines()]
    else:
        answer = response.json() if response.content else None
    naive = [t for t in _strings(answer) if TIME.match(t) and not OFFSET.search(t)]
    assert naive == [], f"{method} {url}: times without their UTC offset {naive[:3]}"
    case.check(api, answer)


TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
OFFSET = re.compile(r"(Z|[+-]\d\d:?\d\d)$")


def _strings(value: Any) -> Iterator[str]:
    """Every string of a JSON document, at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
