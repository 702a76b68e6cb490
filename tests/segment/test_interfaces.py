"""Segments through the REST API and the CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from accord.workspace import Workspace


def test_segments_through_the_api(api: Any, shop: Workspace) -> None:
    bad = api.post("/segment/validate", json={"expression": {"value": 'homeAddress.cty = "Paris"'}})
    assert bad.status_code == 400
    body = bad.json()
    assert body["code"] == "SEGMENT-0400-400" and "did you mean homeAddress.city" in body["message"]
    assert body["details"]["problems"][0]["caret"] == 'homeAddress.cty = "Paris"\n^'
    ok = api.post("/segment/validate", json={"expression": {"value": 'homeAddress.city = "Paris"'}}).json()
    assert ok == {"valid": True, "streamingEligible": True,
                  "streamingReason": "attribute conditions and events within 24 hours only"}  # fmt: skip
    created = api.post(
        "/segment/definitions",
        json={
            "name": "parisians",
            "expression": {"type": "PQL", "value": 'homeAddress.city = "Paris"'},
            "evaluationInfo": {"streaming": {"enabled": True}},
        },
    )
    assert created.status_code == 201 and created.json()["streamingEligible"]
    assert (
        api.post("/segment/definitions", json={"name": "parisians", "expression": {"value": "true"}}).status_code == 409
    )
    hostile = api.post("/segment/definitions", json={"name": "x" * 500, "expression": {"value": "(" * 5000}})
    assert hostile.status_code == 400
    assert api.post("/segment/estimate", json={"expression": {"value": 'homeAddress.city = "Paris"'}}).json()[
        "estimate"] == 2  # fmt: skip
    job = api.post("/segment/jobs", json={"segments": ["parisians"]})
    assert job.status_code == 201 and job.json()["counts"]["parisians"]["realized"] == 2
    assert api.get(f"/segment/jobs/{job.json()['id']}").json()["status"] == "success"
    members = api.get("/segment/definitions/parisians/members", params={"limit": 1}).json()
    assert members["total"] == 2 and len(members["items"]) == 1
    assert api.get("/segment/definitions/nope/members").status_code == 404
    history = api.get("/segment/history", params={"namespace": "CRMID", "id": "C3"}).json()["transitions"]
    assert [(h["segment"], h["status"]) for h in history] == [("parisians", "realized")]
    assert api.get("/segment/events").json() == {"items": [], "next": 0}
    streamed = api.post("/segment/streaming/evaluate", json={"namespace": "CRMID", "id": "C1"}).json()
    assert streamed["evaluated"] == ["parisians"] and streamed["changes"] == []  # already a member
    assert api.post("/segment/streaming/evaluate", json={"namespace": "CRMID", "id": "C404"}).status_code == 404
    assert [d["name"] for d in api.get("/segment/definitions").json()] == ["parisians"]
    assert api.delete("/segment/definitions/parisians").status_code == 200
    assert api.get("/segment/definitions/parisians").status_code == 404
    assert api.get("/segment/definitions").json() == []
    assert api.get("/segment/definitions/parisians/members").status_code == 404
    profile = api.get("/profiles", params={"namespace": "CRMID", "id": "C1"}).json()
    assert "parisians" not in profile["segmentMembership"]  # no membership of a segment that is gone
    assert api.delete("/segment/definitions/parisians").status_code == 404


def test_segments_through_the_cli(cli: Any, shop: Workspace) -> None:
    created = cli("segment", "create", "buyers", "--pql", 'xEvent[eventType = "commerce.purchases"].count() > 0',
                  "--json").json()  # fmt: skip
    assert created["streamingEligible"] is False
    refused = cli("segment", "create", "fast", "--pql", "xEvent.count() > 0", "--streaming")
    assert refused.code == 2 and "cannot stream" in refused.stderr
    typo = cli("segment", "validate", "--pql", "homeAddress.city = ")
    assert typo.code == 2 and "ends too early" in typo.stderr
    assert cli("segment", "validate", "--pql", 'homeAddress.city = "Oslo"', "--json").json()["valid"]
    assert cli("segment", "estimate", "buyers", "--json").json()["estimate"] == 2
    ran = cli("segment", "run", "--json").json()
    assert ran["counts"]["buyers"]["qualified"] == 2
    exported = cli("segment", "members", "buyers", "--export")
    assert exported.code == 0 and len([json.loads(line) for line in exported.stdout.splitlines()]) == 2
    assert cli("segment", "members", "buyers", "--json").json()["total"] == 2
    assert [s["name"] for s in cli("segment", "list", "--json").json()] == ["buyers"]
    assert cli("segment", "show", "byers").code == 3
    moves = cli("segment", "history", "--namespace", "CRMID", "--id", "C1", "--json").json()["transitions"]
    assert [(m["segment"], m["previous"], m["status"]) for m in moves] == [("buyers", None, "realized")]
    assert cli("segment", "delete", "buyers", "--json").json()["name"] == "buyers"
    assert cli("segment", "list", "--json").json() == []
    assert cli("segment", "show", "buyers").code == 3
    assert cli("segment", "members", "buyers").code == 3


def test_pql_problems_are_placed_once(cli: Any, api: Any, shop: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_HOME", str(shop.settings.home))
    typo = cli("segment", "validate", "--pql", 'homeAddress.city = "Paris" and\n  homeAddress.cty = "Oslo"')
    assert typo.code == 2
    assert "- expression (line 2, column 3): the profile union schema has no field 'homeAddress.cty'" in typo.stderr
    assert "(line 2, column 3) (line 2, column 3)" not in typo.stderr
    body = api.post("/segment/validate", json={"expression": {"value": "homeAddress.city = ("}}).json()
    assert body["message"] == ("the PQL expression is invalid: expression (line 1, column 20): the parenthesis '(' "
                               "opened at line 1, column 20 is never closed (a ')' is missing)")  # fmt: skip
    assert body["details"]["problems"][0]["path"] == "expression"


def test_unfiltered_event_counts_through_the_cli_and_the_api(
    cli: Any, api: Any, shop: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_HOME", str(shop.settings.home))
    assert cli("segment", "estimate", "--pql", "xEvent.count() > 0", "--json").json()["estimate"] == 3
    assert cli("segment", "create", "active", "--pql", "xEvent.exists()").code == 0
    assert cli("segment", "run", "active", "--json").json()["counts"]["active"]["qualified"] == 3
    assert cli("segment", "run", "active", "--json").json()["counts"]["active"]["exited"] == 0
    assert api.post("/segment/estimate", json={"expression": {"value": "xEvent.exists()"}}).json()["estimate"] == 3
    api.post("/segment/definitions", json={"name": "counted", "expression": {"value": "xEvent.count() >= 1"}})
    job = api.post("/segment/jobs", json={"segments": ["counted"]}).json()
    assert (job["status"], job["counts"]["counted"]["realized"]) == ("success", 3)
