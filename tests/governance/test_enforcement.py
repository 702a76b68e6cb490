"""Labels on datasets and fields flow by lineage to activations; enabled policies block them when saved, when
a segment they send changes, and at every run, naming the policy and the lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, setup_crm

PARISIANS = {"name": "parisians", "expression": {"type": "PQL", "value": 'homeAddress.city = "Paris"'}}
EVERYONE = {"name": "everyone", "expression": {"type": "PQL", "value": "true"}}
FLOW = {"name": "paris-out", "account": "outbox", "audiences": [{"segment": "parisians"}],
        "mapping": [{"source": "personalEmail.address", "target": "email"}]}  # fmt: skip


@pytest.fixture
def home(api: Api, tmp_path: Path) -> Api:
    setup_crm(api)
    (tmp_path / "outbox").mkdir()
    made = api.post("/destinations/accounts", json={"name": "outbox", "destination": "local",
                                                    "config": {"root": str(tmp_path / "outbox")}})  # fmt: skip
    assert made.status_code == 201, made.text
    for segment in (PARISIANS, EVERYONE):
        assert api.post("/segment/definitions", json=segment).status_code == 201
    return api


def refused(response: Any) -> dict[str, Any]:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["code"] == "GOVERNANCE-0450-403", body
    return body  # type: ignore[no-any-return]


def test_labels_on_datasets_and_fields_are_checked_whole(home: Api) -> None:
    labelled = home.post("/datasets/crm/labels", json={"labels": ["I1", "C2"], "field": "personalEmail.address"})
    assert labelled.status_code == 200 and labelled.json()["fields"] == {"personalEmail.address": ["C2", "I1"]}
    assert home.post("/datasets/crm/labels", json={"labels": ["C12"]}).json()["labels"] == ["C12"]
    bad = home.post("/datasets/crm/labels", json={"labels": ["C13", "I1", "Zz"], "field": "personalEmail.adress"})
    assert bad.status_code == 400
    assert [p["path"] for p in bad.json()["details"]["problems"]] == ["labels[0]", "labels[2]", "field"]
    assert "did you mean personalEmail.address" in bad.text
    assert home.post("/datasets/nope/labels", json={"labels": ["C1"]}).status_code == 404
    assert (
        home.post("/labels", json={"name": "PSPD", "description": "permitted sensitive personal data"}).status_code
        == 201
    )
    assert home.post("/datasets/crm/labels", json={"labels": ["PSPD"], "field": "homeAddress"}).status_code == 200
    absent = home.delete("/datasets/crm/labels", params={"label": ["C12", "C3"], "field": "homeAddress"})
    assert absent.status_code == 404 and "has no label C12, C3; it holds: PSPD" in absent.json()["message"]
    removed = home.delete("/datasets/crm/labels", params={"label": ["C12"]})
    assert removed.json() == {"dataset": "crm", "labels": [], "fields": {
        "homeAddress": ["PSPD"], "personalEmail.address": ["C2", "I1"]}}  # fmt: skip


def test_core_policies_are_shipped_disabled_and_expressions_are_checked(home: Api) -> None:
    policies = home.get("/policies").json()
    assert len(policies) == 9 and all(p["core"] and not p["enabled"] for p in policies)
    bad = home.post("/policies", json={"name": "x", "marketingAction": "emailTargetting", "expression": "C4 OR (C99"})
    assert bad.status_code == 400
    paths = [p["path"] for p in bad.json()["details"]["problems"]]
    assert paths[0] == "action" and "expression" in paths and "did you mean emailTargeting" in bad.text


def test_a_violation_blocks_the_save_with_the_policy_and_its_lineage(home: Api) -> None:
    home.post("/datasets/crm/labels", json={"labels": ["C2"], "field": "personalEmail.address"})
    made = home.post("/policies", json={"name": "no-third-party", "marketingAction": "exportToThirdParty",
                                        "expression": "C2 OR C12", "enabled": True})  # fmt: skip
    assert made.status_code == 201
    body = refused(home.post("/activations", json={**FLOW, "marketingActions": ["exportToThirdParty"]}))
    [violation] = body["details"]["violations"]
    assert (violation["policy"], violation["labels"]) == ("no-third-party", ["C2"])
    assert violation["lineage"] == [["field personalEmail.address", "dataset crm", "activation paris-out",
                                     "destination outbox (local)"]]  # fmt: skip
    assert "breaks data usage policy 'no-third-party'" in body["message"]
    assert home.get("/activations/paris-out").status_code == 404  # nothing was saved
    # a flow that performs no forbidden action is saved
    assert home.post("/activations", json=FLOW).status_code == 201
    assert home.get("/activations/paris-out/policies").json()["allowed"] is True


def test_labels_reach_a_flow_through_the_segments_it_sends(home: Api) -> None:
    home.post("/datasets/crm/labels", json={"labels": ["S2"], "field": "homeAddress"})  # an object: its fields too
    flow = {**FLOW, "mapping": [{"source": "person.name.firstName", "target": "first"}],
            "marketingActions": ["onsiteAdvertising"]}  # fmt: skip
    assert home.post("/activations", json=flow).status_code == 201
    assert home.post("/policies", json={"name": "no-location-ads", "marketingAction": "onsiteAdvertising",
                                        "expression": "S1 OR S2", "enabled": True}).status_code == 201  # fmt: skip
    evaluated = home.get("/activations/paris-out/policies").json()
    assert evaluated["allowed"] is False and evaluated["marketingActions"] == ["onsiteAdvertising"]
    assert evaluated["violations"][0]["lineage"] == [[
        "field homeAddress.city", "dataset crm", "segment parisians", "activation paris-out",
        "destination outbox (local)"]]  # fmt: skip
    # at every run: the run fails, naming the policy
    run = home.post("/activations/paris-out/runs")
    refused(run)
    runs = home.get("/activations/paris-out/runs").json()
    assert runs[0]["status"] == "failed" and "no-location-ads" in runs[0]["errors"][0]["message"]


def test_a_segment_change_that_would_break_a_policy_is_refused(home: Api) -> None:
    flow = {**FLOW, "audiences": [{"segment": "everyone"}], "marketingActions": ["exportToThirdParty"]}
    assert home.post("/activations", json=flow).status_code == 201
    home.post("/datasets/crm/labels", json={"labels": ["C2"], "field": "homeAddress.city"})
    home.post("/policies/core-export-to-third-party/enable")
    body = refused(home.put("/segment/definitions/everyone", json={**EVERYONE, "expression": {
        "type": "PQL", "value": 'homeAddress.city = "Lyon"'}}))  # fmt: skip
    assert body["details"]["violations"][0]["lineage"][0][:3] == ["field homeAddress.city", "dataset crm",
                                                                 "segment everyone"]  # fmt: skip
    assert home.get("/segment/definitions/everyone").json()["expression"]["value"] == "true"  # unchanged
    home.post("/policies/core-export-to-third-party/disable")
    assert home.put("/segment/definitions/everyone", json={**EVERYONE, "expression": {
        "type": "PQL", "value": 'homeAddress.city = "Lyon"'}}).status_code == 200  # fmt: skip


def test_a_change_of_a_segment_that_a_sent_segment_refers_to_is_refused_too(home: Api) -> None:
    outer = {"name": "outer", "expression": {"type": "PQL", "value": 'inSegment("everyone")'}}
    assert home.post("/segment/definitions", json=outer).status_code == 201
    flow = {**FLOW, "audiences": [{"segment": "outer"}], "marketingActions": ["exportToThirdParty"]}
    assert home.post("/activations", json=flow).status_code == 201
    home.post("/datasets/crm/labels", json={"labels": ["C2"], "field": "homeAddress.city"})
    home.post("/policies/core-export-to-third-party/enable")
    body = refused(home.put("/segment/definitions/everyone", json={**EVERYONE, "expression": {
        "type": "PQL", "value": 'homeAddress.city = "Lyon"'}}))  # fmt: skip
    assert body["details"]["violations"][0]["lineage"][0][:4] == ["field homeAddress.city", "dataset crm",
                                                                 "segment everyone", "segment outer"]  # fmt: skip
    assert home.get("/segment/definitions/everyone").json()["expression"]["value"] == "true"  # unchanged
    # a segment no flow reaches changes freely
    assert home.put("/segment/definitions/parisians", json={**PARISIANS, "expression": {
        "type": "PQL", "value": 'homeAddress.city = "Lyon"'}}).status_code == 200  # fmt: skip


def test_the_cli_labels_evaluates_and_explains(cli: Any, tmp_path: Path) -> None:
    assert cli("init").code == 0
    assert cli("schema", "create", "crm", "--class", "profile", "-g", "personal-contact-details").code == 0
    assert cli("dataset", "create", "crm", "--schema", "crm", "--profile-enabled").code == 0
    assert cli("segment", "create", "all", "--pql", "true").code == 0
    (tmp_path / "box").mkdir()
    (tmp_path / "box.yaml").write_text(f"root: {tmp_path / 'box'}\n")
    assert (
        cli("destination", "connect", "box", "--destination", "local", "--config", str(tmp_path / "box.yaml")).code == 0
    )
    (tmp_path / "map.yaml").write_text("mapping:\n- {source: personalEmail.address, target: email}\n")
    assert (
        cli("activate", "out", "--destination", "box", "--segment", "all", "--mapping", str(tmp_path / "map.yaml")).code
        == 0
    )
    assert cli("label", "add", "crm", "I1", "--field", "personalEmail.address").code == 0
    assert cli("label", "show", "crm", "--json").json()["fields"] == {"personalEmail.address": ["I1"]}
    assert cli("action", "create", "smsTargeting", "--title", "SMS targeting").code == 0
    assert cli("policy", "create", "no-identified-export", "--action", "exportToThirdParty", "-e", "I1").code == 0
    assert cli("policy", "enable", "no-identified-export").code == 0
    assert cli("policy", "evaluate", "--activation", "out").code == 0  # enabled, but the flow performs no such action
    assert cli("policy", "disable", "no-identified-export").code == 0
    bad = cli("policy", "create", "x", "--action", "smsTargeting", "-e", "I1 AND")
    assert bad.code == 2 and "expression" in bad.stderr
    listed = {p["name"]: p for p in cli("policy", "list", "--json").json()}
    assert listed["no-identified-export"]["enabled"] is False and len(listed) == 10


def test_an_accounts_marketing_actions_hold_every_flow_through_it(home: Api, tmp_path: Path) -> None:
    """Whoever manages destinations says what a file destination's account is for; a flow cannot drop it."""
    home.post("/datasets/crm/labels", json={"labels": ["C2"], "field": "personalEmail.address"})
    home.post("/policies/core-export-to-third-party/enable")
    bad = home.post("/destinations/accounts", json={"name": "partner", "destination": "local", "config": {
        "root": str(tmp_path / "outbox")}, "marketingActions": ["exportToThirdparty"]})  # fmt: skip
    assert bad.status_code == 400 and "did you mean exportToThirdParty" in bad.text
    assert [p["path"] for p in bad.json()["details"]["problems"]] == ["marketingActions[0]"]
    flow = home.post("/activations", json={**FLOW, "marketingActions": ["emailTargeting", "dataScienc"]})
    assert flow.status_code == 400 and "did you mean dataScience" in flow.text  # a flow's own are checked alike
    assert [p["path"] for p in flow.json()["details"]["problems"]] == ["marketingActions[1]"]
    made = home.post("/destinations/accounts", json={"name": "partner", "destination": "local", "config": {
        "root": str(tmp_path / "outbox")}, "marketingActions": ["exportToThirdParty"]})  # fmt: skip
    assert made.status_code == 201 and made.json()["marketingActions"] == ["exportToThirdParty"]
    body = refused(home.post("/activations", json={**FLOW, "account": "partner"}))  # declares no action itself
    assert body["details"]["violations"][0]["lineage"][0][-1] == "destination partner (local)"
    # an account whose flow would then break a policy keeps its actions
    assert home.post("/activations", json=FLOW).status_code == 201  # through outbox: no action
    changed = home.put("/destinations/accounts/outbox/marketing-actions", json={"marketingActions": [
        "exportToThirdParty"]})  # fmt: skip
    refused(changed)
    assert home.get("/destinations/accounts/outbox").json()["marketingActions"] == []
    assert home.get("/activations/paris-out/policies").json()["marketingActions"] == []
    emailed = home.put("/destinations/accounts/outbox/marketing-actions", json={"marketingActions": ["emailTargeting"]})
    assert emailed.status_code == 200 and emailed.json()["marketingActions"] == ["emailTargeting"]
    assert home.get("/activations/paris-out/policies").json()["marketingActions"] == ["emailTargeting"]
