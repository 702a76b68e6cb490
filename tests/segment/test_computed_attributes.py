"""Computed attributes: each function's value against a plain computation over the seeded events, lookback
edges, filters; their use in PQL (batch and streaming), in activations and in lookups; the limit; bad input."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from accord import destinations, profile, segment, sources
from accord.access import AllowedRoots
from accord.errors import ConflictError, DocumentError, NotFoundError
from accord.segment.computed_attributes import MAX_ACTIVE
from accord.segment.computed_values import attribute_path
from accord.workspace import Workspace
from tests.segment.computed_shop import NOW, PEOPLE, build_shop, create, expected, values_of


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
    recent = [{"timestamp": (NOW + timedelta(minutes=m)).isoformat(), "eventType": "commerce.purchases"}
              for m in range(1, 4 - have)]  # fmt: skip
    evaluator = segment.StreamingEvaluator(shop, "prod")
    try:
        assert evaluator.reads_events and "eventType" in evaluator.event_columns
        later = NOW + timedelta(minutes=10)
        changes = evaluator.evaluate(int(graphs[below]), {"attributes": {}, "events": recent}, later)
        assert [c["status"] for c in changes] == (["realized"] if have + len(recent) >= 3 else [])
        assert changes, "the person should have reached three purchases"
    finally:
        evaluator.close()


def test_a_computed_attribute_is_mapped_and_exported_to_a_local_folder(shop: Workspace, tmp_path: Path) -> None:
    create(shop, "spend", "xEvent.sum(commerce.order.priceTotal)", 30)
    folder = tmp_path / "outbox"
    folder.mkdir()
    with shop.catalog.session() as s:
        segment.create_segment(s, "prod", {"name": "all", "expression": {"value": 'homeAddress.city = "Paris"'}})
        destinations.create_account(s, sources.SecretBox(shop.settings.home), "prod", "outbox", "local",
                                    {"root": str(folder)}, AllowedRoots.from_settings(shop.settings))  # fmt: skip
        spec = destinations.destination_spec("local")
        assert attribute_path("spend") in destinations.exportable_sources(s, "prod", spec)["attributes"]
        destinations.create_flow(s, "prod", "spenders", "outbox", {
            "audiences": [{"segment": "all"}], "file": {"nameTemplate": "spend"},
            "mapping": [{"source": "identityMap.CRMID", "target": "crm"},
                        {"source": attribute_path("spend"), "target": "spend"}]})  # fmt: skip
    segment.run_job(shop, "prod")
    run = destinations.run_activation(shop, "prod", "spenders")
    assert run["status"] == "success"
    with (folder / "spend.csv").open() as file:
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
    assert refused.value.code in ("COMPUTED-0400-400", "SEGMENT-0400-400")
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
    assert {p["path"] for p in refused.json()["details"]["problems"]} >= {"body.duration.count", "body.duration.unit"}
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
