"""Computed attributes: each function's value against a plain computation over the seeded events, lookback
edges, filters; their use in PQL (batch and streaming), in activations and in lookups; the limit; bad input."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from accord import destinations, profile, segment
from accord.errors import ConflictError, DocumentError, NotFoundError
from accord.segment.computed_attributes import MAX_ACTIVE
from accord.segment.computed_values import attribute_path
from accord.workspace import Workspace
from tests.segment.computed_shop import NOW, PEOPLE, build_shop, create, expected, spend_flow, values_of


@pytest.fixture
def shop(workspace: Workspace, tmp_path: Path) -> Workspace:
    return build_shop(workspace, tmp_path)


FUNCTIONS = ["count", "sum", "avg", "min", "max", "mostRecent", "first"]


def test_every_function_gives_what_a_plain_computation_gives(shop: Workspace) -> None:
    for function in FUNCTIONS:
        argument = "" if function == "count" else "commerce.order.priceTotal"
        create(shop, f"{function}Month", f"xEvent.{function}({argument})", 30)
        create(shop, f"{function}Week", f'xEvent[eventType = "commerce.purchases"].{function}({argument})', 7)
    done = segment.refresh_computed_attributes(shop, "prod", NOW)
    assert sorted(done["evaluated"]) == sorted(f"{f}{w}" for f in FUNCTIONS for w in ("Month", "Week"))
    for crm in PEOPLE:
        found = values_of(shop, crm)
        for function in FUNCTIONS:
            month, week = expected(crm, function, 30), expected(crm, function, 7, "commerce.purchases")
            for name, wanted in ((f"{function}Month", month), (f"{function}Week", week)):
                assert found[name] == (pytest.approx(wanted) if isinstance(wanted, float) else wanted), (crm, name)
    assert values_of(shop, "C1")["maxWeek"] == 1000.0  # the event exactly 7 days ago counts, 1 second more does not
    assert values_of(shop, "C2")["mostRecentWeek"] == 9.0 and values_of(shop, "C5")["countMonth"] == 0
    with shop.catalog.session() as s:
        shown = segment.computed_attribute_document(segment.find_computed_attribute(s, "prod", "sumWeek"))
    assert shown["status"] == "PROCESSED" and shown["lastEvaluatedAt"] == NOW.isoformat()
    assert shown["mergeFunction"] == {"value": "SUM"} and shown["returnSchema"] == {"meta:xdmType": "number"}
    assert shown["path"] == "_tenant.SystemComputedAttributes.sumWeek.value"


def test_a_changed_definition_has_no_value_until_the_next_refresh(shop: Workspace) -> None:
    create(shop, "spend", "xEvent.sum(commerce.order.priceTotal)", 30)
    segment.refresh_computed_attributes(shop, "prod", NOW)
    assert values_of(shop, "C1")["spend"] == pytest.approx(expected("C1", "sum", 30))
    with shop.catalog.session() as s:
        changed = segment.update_computed_attribute(s, "prod", "spend", {"duration": {"count": 2, "unit": "weeks"}})
    assert changed["status"] == "NEW" and changed["lastEvaluatedAt"] is None
    assert values_of(shop, "C1")["spend"] is None
    segment.refresh_computed_attributes(shop, "prod", NOW)
    assert values_of(shop, "C1")["spend"] == pytest.approx(expected("C1", "sum", 14))


def test_pql_reads_a_computed_attribute_in_batch_and_streaming(shop: Workspace) -> None:
    create(shop, "purchases", 'xEvent[eventType = "commerce.purchases"].count()', 90)
    path = attribute_path("purchases")
    with shop.catalog.session() as s:
        segment.create_segment(s, "prod", {"name": "buyers", "expression": {"value": f"{path} >= 3"},
                                           "evaluationInfo": {"streaming": {"enabled": True}}})  # fmt: skip
    job = segment.run_job(shop, "prod")  # the job refreshes the computed attributes first
    assert job["status"] == "success"
    members = {m["graphId"] for m in segment.members(shop, "prod", "buyers")["items"]}
    wanted = {crm for crm in PEOPLE if expected(crm, "count", 90, "commerce.purchases") >= 3}
    graphs = {crm: profile.get_profile(shop, "prod", "CRMID", crm)["graphId"] for crm in PEOPLE}
    assert members == {graphs[c] for c in wanted} and wanted and set(PEOPLE) - wanted
    # streaming: the person's events since the refresh are folded in; C5 buys three times now
    below = next(c for c in PEOPLE if c not in wanted)
    have = expected(below, "count", 90, "commerce.purchases")
    since = datetime.now(UTC)  # after the job's refresh: only events after it are folded in
    recent = [{"timestamp": (since + timedelta(minutes=m)).isoformat(), "eventType": "commerce.purchases"}
              for m in range(1, 4 - have)]  # fmt: skip
    evaluator = segment.StreamingEvaluator(shop, "prod")
    try:
        assert evaluator.reads_events and "eventType" in evaluator.event_columns
        later = since + timedelta(minutes=10)
        changes = evaluator.evaluate(int(graphs[below]), {"attributes": {}, "events": recent}, later)
        assert [c["status"] for c in changes] == (["realized"] if have + len(recent) >= 3 else [])
        assert changes, "the person should have reached three purchases"
    finally:
        evaluator.close()


def test_a_computed_attribute_is_mapped_and_exported_to_a_local_folder(shop: Workspace, tmp_path: Path) -> None:
    create(shop, "spend", "xEvent.sum(commerce.order.priceTotal)", 30)
    with shop.catalog.session() as s:
        spec = destinations.destination_spec("local")
        assert attribute_path("spend") in destinations.exportable_sources(s, "prod", spec)["attributes"]
    written = spend_flow(shop, tmp_path / "outbox")
    segment.run_job(shop, "prod")
    run = destinations.run_activation(shop, "prod", "spenders")
    assert run["status"] == "success"
    with written.open() as file:
        rows = {r["crm"]: r["spend"] for r in csv.DictReader(file)}
    assert {crm: float(v) for crm, v in rows.items()} == pytest.approx({c: expected(c, "sum", 30) for c in PEOPLE})


def test_the_limit_of_active_attributes_per_sandbox(shop: Workspace) -> None:
    for n in range(MAX_ACTIVE):
        create(shop, f"views{n}", "xEvent.count()", 1 + n % 7)
    with pytest.raises(ConflictError) as refused:
        create(shop, "oneMore", "xEvent.count()")
    assert refused.value.code == "COMPUTED-0410-409"
    with shop.catalog.session() as s:
        segment.update_computed_attribute(s, "prod", "views0", {"status": "DISABLED"})
    create(shop, "oneMore", "xEvent.count()")  # a disabled one does not count
    with shop.catalog.session() as s, pytest.raises(ConflictError):
        segment.update_computed_attribute(s, "prod", "views0", {"status": "NEW"})


BAD = [
    (
        {"name": "two words", "expression": {"value": "xEvent.count()"}, "duration": {"count": 1, "unit": "DAYS"}},
        ["name"],
    ),
    ({"name": "a", "expression": {"value": "xEvent.count()"}, "duration": {"count": 91, "unit": "DAYS"}}, ["duration"]),
    (
        {"name": "a", "expression": {"value": "xEvent.count()"}, "duration": {"count": 4, "unit": "MONTHS"}},
        ["duration"],
    ),
    (
        {"name": "a", "expression": {"value": "xEvent.count()"}, "duration": {"count": 1, "unit": "YEARS"}},
        ["duration.unit"],
    ),
    (
        {
            "name": "a",
            "expression": {"value": "xEvent.sum(commerce.order.priceTotl)"},
            "duration": {"count": 91, "unit": "DAYS"},
        },
        ["duration", "expression.value"],
    ),
    (
        {
            "name": "a",
            "expression": {"value": 'xEvent[eventTyp = "x"].count()'},
            "duration": {"count": 1, "unit": "DAYS"},
        },
        ["expression.value"],
    ),
    (
        {"name": "a", "expression": {"value": "xEvent.sum(eventType)"}, "duration": {"count": 1, "unit": "DAYS"}},
        ["expression.value"],
    ),
    (
        {"name": "a", "expression": {"value": "xEvent.median(timestamp)"}, "duration": {"count": 1, "unit": "DAYS"}},
        ["expression.value"],
    ),
    (
        {"name": "a", "expression": {"value": 'homeAddress.city = "Paris"'}, "duration": {"count": 1, "unit": "DAYS"}},
        ["expression.value"],
    ),
    (
        {"name": "a", "expression": {"value": "xEvent.count("}, "duration": {"count": 1, "unit": "DAYS"}},
        ["expression.value"],
    ),
]


@pytest.mark.parametrize(("document", "paths"), BAD)
def test_bad_input_is_refused_whole_with_every_problem_and_nothing_saved(
    shop: Workspace, document: dict[str, Any], paths: list[str]
) -> None:
    with shop.catalog.session() as s, pytest.raises(DocumentError) as refused:
        segment.create_computed_attribute(s, "prod", document)
    assert sorted({p["path"] for p in refused.value.problems}) == paths, refused.value.problems
    assert refused.value.code == "COMPUTED-0400-400"
    with shop.catalog.session() as s:
        assert segment.list_computed_attributes(s, "prod") == []


def test_a_used_attribute_cannot_be_deleted_or_disabled_and_names_its_users(shop: Workspace) -> None:
    create(shop, "spend", "xEvent.sum(commerce.order.priceTotal)")
    with shop.catalog.session() as s:
        segment.create_segment(s, "prod", {"name": "big", "expression": {"value": f"{attribute_path('spend')} > 100"}})
    for attempt in ({"status": "DISABLED"}, None):
        with shop.catalog.session() as s, pytest.raises(ConflictError, match="segments big"):
            if attempt is None:
                segment.delete_computed_attribute(s, "prod", "spend")
            else:
                segment.update_computed_attribute(s, "prod", "spend", attempt)
    with shop.catalog.session() as s:
        segment.delete_segment(s, "prod", "big")
        segment.delete_computed_attribute(s, "prod", "spend")
        with pytest.raises(NotFoundError):
            segment.find_computed_attribute(s, "prod", "spend")


def test_a_draft_is_no_profile_field_yet(shop: Workspace) -> None:
    create(shop, "later", "xEvent.count()", status="DRAFT")
    with shop.catalog.session() as s, pytest.raises(DocumentError, match=r"no field '_tenant\.SystemComputedAttrib"):
        segment.validate_pql(s, "prod", f"{attribute_path('later')} > 1")
    assert segment.refresh_computed_attributes(shop, "prod", NOW)["evaluated"] == []


def test_the_api_creates_changes_refreshes_and_shows_them(api: Any, shop: Workspace) -> None:
    body = {"name": "spend", "displayName": "Spend", "expression": {"type": "PQL", "format": "pql/text",
            "value": "xEvent.sum(commerce.order.priceTotal)"}, "duration": {"count": 4, "unit": "WEEKS"}}  # fmt: skip
    created = api.post("/computed-attributes", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["path"] == attribute_path("spend") and created.json()["status"] == "NEW"
    refused = api.post("/computed-attributes", json={**body, "name": "other", "duration": {"count": 0, "unit": "X"}})
    assert refused.status_code == 400
    assert {p["path"] for p in refused.json()["details"]["problems"]} >= {"duration.count", "duration.unit"}
    assert api.post("/computed-attributes", json=body).status_code == 409
    changed = api.patch("/computed-attributes/spend", json={"description": "money"})
    assert changed.status_code == 200 and changed.json()["description"] == "money"
    refreshed = api.post("/computed-attributes/refresh")
    assert refreshed.status_code == 200 and refreshed.json()["evaluated"] == ["spend"]
    looked = api.get("/profiles", params={"namespace": "CRMID", "id": "C1"}).json()["computedAttributes"]
    assert looked[0]["name"] == "spend" and looked[0]["value"] == pytest.approx(expected("C1", "sum", 28))
    assert [a["name"] for a in api.get("/computed-attributes").json()] == ["spend"]
    assert api.get("/computed-attributes/nope").status_code == 404
    assert api.delete("/computed-attributes/spend").status_code == 200


def test_the_cli_creates_lists_refreshes_and_refuses_bad_input(cli: Any, shop: Workspace) -> None:
    made = cli("computed", "create", "views", "--pql", 'xEvent[eventType = "commerce.productViews"].count()',
               "--lookback", "2 weeks", "--json")  # fmt: skip
    assert made.code == 0, made.stderr
    assert made.json()["duration"] == {"count": 2, "unit": "WEEKS"}
    bad = cli("computed", "create", "other", "--pql", "xEvent.count()", "--lookback", "13 weeks")
    assert bad.code != 0 and "90 days" in bad.stderr + bad.stdout and "Traceback" not in bad.stderr
    assert cli("computed", "refresh", "--json").json()["evaluated"] == ["views"]
    listed = cli("computed", "list", "--json").json()
    assert [(a["name"], a["status"]) for a in listed] == [("views", "PROCESSED")]
    shown = cli("profile", "get", "--namespace", "CRMID", "--id", "C2", "--json")
    assert shown.code == 0, shown.stderr
    assert shown.json()["computedAttributes"][0]["value"] == expected("C2", "count", 14, "commerce.productViews")
    assert cli("computed", "delete", "views").code == 0


FOUR_PROBLEMS = 'xEvent[eventTyp = "commerce.purchases"].median(commerce.order.priceTotal)'  # filter, function


def _four_problems(problems: list[dict[str, Any]], first: str) -> None:
    """`first` (a shape problem), the bad filter and the unknown function (placed), the lookback over 90 days."""
    assert [p["path"] for p in problems] == [first, "expression.value", "expression.value", "duration"], problems
    function, filter = problems[1:3]  # in the order of the text: the call is placed where it starts
    assert (function["line"], function["column"]) == (1, 1) and "unknown function 'median'" in function["message"]
    assert (filter["line"], filter["column"]) == (1, 8) and "no field 'eventTyp'; did you mean eventType" in \
        filter["message"]  # fmt: skip
    assert function["caret"] == FOUR_PROBLEMS + "\n^" and filter["caret"] == FOUR_PROBLEMS + "\n       ^"
    assert "91 days is longer than the 90 days" in problems[3]["message"]


def test_a_bad_definition_is_told_whole_and_alike_by_the_cli_a_file_and_the_api(
    api: Any, cli: Any, shop: Workspace, tmp_path: Path
) -> None:
    document = {"name": "9x", "expression": {"type": "PQL", "value": FOUR_PROBLEMS},
                "duration": {"count": 91, "unit": "DAYS"}}  # fmt: skip
    (tmp_path / "bad.json").write_text(json.dumps(document))
    by_cli = cli("computed", "create", "9x", "--pql", FOUR_PROBLEMS, "--lookback", "91 days", "--json")
    by_file = cli("computed", "create", "--file", str(tmp_path / "bad.json"), "--json")
    by_api = api.post("/computed-attributes", json=document)
    assert by_cli.code == by_file.code == 2 and by_api.status_code == 400, (by_cli.stdout, by_api.text)
    errors = [by_cli.json()["error"], by_file.json()["error"], by_api.json()]
    assert {e["code"] for e in errors} == {"COMPUTED-0400-400"}
    problems = errors[0]["details"]["problems"]
    assert all(e["details"]["problems"] == problems for e in errors), errors
    _four_problems(problems, "name")
    assert problems[0]["message"] == ("'9x': a name must start with a letter and hold only letters and digits, at "
                                      "most 64 (it names a field)")  # fmt: skip
    assert "pattern" not in by_api.json()["message"] and "Traceback" not in by_cli.stderr
    assert api.get("/computed-attributes").json() == []
    for missing in (None, [document]):  # no body, or not an object: the service's code too
        refused = api.post("/computed-attributes", json=missing)
        assert refused.status_code == 400 and refused.json()["code"] == "COMPUTED-0400-400", refused.text


def test_a_bad_change_is_told_whole_and_alike_by_the_cli_and_the_api(api: Any, cli: Any, shop: Workspace) -> None:
    create(shop, "spend", "xEvent.sum(commerce.order.priceTotal)", 30)
    change = {"expression": {"value": FOUR_PROBLEMS}, "duration": {"count": 91, "unit": "DAYS"}, "status": "GONE"}
    by_cli = cli("computed", "update", "spend", "--pql", FOUR_PROBLEMS, "--lookback", "91 days", "--status", "GONE",
                 "--json")  # fmt: skip
    by_api = api.patch("/computed-attributes/spend", json=change)
    assert by_cli.code == 2 and by_api.status_code == 400, (by_cli.stdout, by_api.text)
    assert by_api.json()["code"] == by_cli.json()["error"]["code"] == "COMPUTED-0400-400"
    problems = by_api.json()["details"]["problems"]
    assert by_cli.json()["error"]["details"]["problems"] == problems
    _four_problems(problems, "status")
    # the finding's own: a shape problem in the lookback does not hide the expression's
    refused = api.patch("/computed-attributes/spend", json={"expression": {"value": "xEvent.sum(eventType)"},
                                                            "duration": {"count": 0, "unit": "DAYS"}})  # fmt: skip
    assert [p["path"] for p in refused.json()["details"]["problems"]] == ["duration.count", "expression.value"]
    kept = api.get("/computed-attributes/spend").json()
    assert kept["expression"]["value"] == "xEvent.sum(commerce.order.priceTotal)" and kept["duration"]["count"] == 30


def test_the_api_documents_the_bodies_it_checks_itself(api: Any) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    changed = {"expression", "duration", "status"}
    for method, path, fields in [("post", "/computed-attributes", changed | {"name"}),
                                 ("patch", "/computed-attributes/{name}", changed)]:  # fmt: skip
        body = paths[path][method]["requestBody"]
        schema = body["content"]["application/json"]["schema"]
        assert body["required"] and fields <= set(schema["properties"]), (method, schema)
        assert "$defs" not in json.dumps(schema), (method, schema)  # nested models written in place
    created = paths["/computed-attributes"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(created["properties"]["duration"]["properties"]) == {"count", "unit"}
    assert created["properties"]["name"]["pattern"] == "^[A-Za-z][A-Za-z0-9]{0,63}$"
