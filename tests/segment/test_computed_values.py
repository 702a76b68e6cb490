"""Computed attributes' values where they are read: no value (unknown, never 0) until a refresh computed it
from the definition of now, in lookups, estimates, exports and streaming alike; streaming's fold of every
function against a plain computation; list items' fields in a filter; what a used attribute may not become;
the status a stopped refresh leaves."""

from __future__ import annotations

import csv
import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accord import destinations, lake, profile, segment
from accord.catalog import ComputedAttributeRecord
from accord.errors import ConflictError
from accord.ingest import IngestRequest, ingest_file
from accord.segment.computed_streaming import ComputedFold
from accord.segment.computed_values import attribute_path
from accord.workspace import Workspace
from tests.segment.computed_shop import EVENTS, NOW, PEOPLE, build_shop, create, expected, spend_flow, values_of

FUNCTIONS = ["count", "sum", "avg", "min", "max", "mostRecent", "first"]
PURCHASES = 'xEvent[eventType = "commerce.purchases"].count()'


@pytest.fixture
def shop(workspace: Workspace, tmp_path: Path) -> Workspace:
    return build_shop(workspace, tmp_path)


def graphs(workspace: Workspace) -> dict[str, int]:
    return {crm: int(profile.get_profile(workspace, "prod", "CRMID", crm)["graphId"]) for crm in PEOPLE}


def redefine(workspace: Workspace, name: str, change: dict[str, Any]) -> None:
    with workspace.catalog.session() as s:
        segment.update_computed_attribute(s, "prod", name, change)


def test_no_value_until_a_refresh_in_lookups_and_estimates(shop: Workspace) -> None:
    create(shop, "purchases30d", PURCHASES, 30)
    path = attribute_path("purchases30d")
    below = sum(1 for crm in PEOPLE if expected(crm, "count", 30, "commerce.purchases") < 3)
    assert 0 < below < len(PEOPLE)
    for moment in ("never refreshed", "refreshed", "redefined since"):
        if moment == "refreshed":
            segment.refresh_computed_attributes(shop, "prod", NOW)
        if moment == "redefined since":  # the file holds the old definition's column: not current
            redefine(shop, "purchases30d", {"duration": {"count": 29, "unit": "DAYS"}})
        known = moment == "refreshed"
        assert {values_of(shop, c)["purchases30d"] is None for c in PEOPLE} == {not known}, moment
        assert segment.estimate(shop, "prod", f"{path} < 3")["estimate"] == (below if known else 0), moment
        assert segment.estimate(shop, "prod", f"{path} >= 3")["estimate"] == (
            len(PEOPLE) - below if known else 0), moment  # fmt: skip
        assert segment.estimate(shop, "prod", f"{path}.isNull()")["estimate"] == (0 if known else len(PEOPLE))


def test_no_value_until_a_refresh_in_exports(shop: Workspace, tmp_path: Path) -> None:
    create(shop, "spend", "xEvent.sum(commerce.order.priceTotal)", 30)
    written = spend_flow(shop, tmp_path / "outbox")
    segment.run_job(shop, "prod")  # refreshes the attribute
    redefine(shop, "spend", {"duration": {"count": 3, "unit": "WEEKS"}})  # the same type: accepted, no value now
    assert destinations.run_activation(shop, "prod", "spenders")["status"] == "success"
    with written.open() as file:
        rows = {r["crm"]: r["spend"] for r in csv.DictReader(file)}
    assert rows == {crm: "" for crm in PEOPLE}  # unknown, not 0 (C5 has no event: 0 once refreshed)


def test_no_value_until_a_refresh_in_streaming(shop: Workspace) -> None:
    create(shop, "purchases30d", PURCHASES, 30)
    create(shop, "purchases1d", PURCHASES, 24, "HOURS")  # short enough to be computed from streaming's events
    path = attribute_path("purchases30d")
    with shop.catalog.session() as s:
        segment.create_segment(s, "prod", {"name": "few", "expression": {"value": f"{path} < 3"},
                                           "evaluationInfo": {"streaming": {"enabled": True}}})  # fmt: skip
    bought = [{"timestamp": (NOW + timedelta(minutes=1)).isoformat(), "eventType": "commerce.purchases"}]
    later = NOW + timedelta(minutes=10)
    evaluator = segment.StreamingEvaluator(shop, "prod")
    try:
        assert evaluator.computed is not None
        folded = evaluator.computed.apply(graphs(shop)["C5"], {"attributes": {}, "events": bought}, later)
        group = folded["attributes"]["_tenant"]["SystemComputedAttributes"]
        assert group["purchases30d"]["value"] is None and group["purchases1d"]["value"] == 1
        changes = evaluator.evaluate(graphs(shop)["C5"], {"attributes": {}, "events": bought}, later)
        assert changes == []  # unknown < 3 is unknown: as a batch job says
    finally:
        evaluator.close()


def plain(function: str, chosen: list[tuple[datetime, float | None]]) -> Any:
    """A function of the chosen events (time, price) as a plain computation."""
    if function == "count":
        return len(chosen)
    priced = [(t, p) for t, p in chosen if p is not None]
    values = [p for _, p in priced]
    if function == "sum":
        return sum(values)
    if not values:
        return None
    return {"avg": lambda: sum(values) / len(values), "min": lambda: min(values), "max": lambda: max(values),
            "mostRecent": lambda: max(priced)[1], "first": lambda: min(priced)[1]}[function]()  # fmt: skip


def test_streaming_folds_every_function_as_a_plain_computation(shop: Workspace) -> None:
    for function in FUNCTIONS:
        argument = "" if function == "count" else "commerce.order.priceTotal"
        create(shop, f"{function}Month", f'xEvent[eventType = "commerce.purchases"].{function}({argument})', 30)
        create(shop, f"{function}Day", f"xEvent.{function}({argument})", 24, "HOURS")
    segment.refresh_computed_attributes(shop, "prod", NOW)
    later, draw = NOW + timedelta(hours=2), random.Random(7)
    fold = ComputedFold(shop, "prod")
    for crm, graph in graphs(shop).items():
        mine = [e for e in EVENTS if e["identityMap"]["CRMID"][0]["id"] == crm]
        new = [{"timestamp": (NOW + timedelta(minutes=m)).isoformat(), "eventType": "commerce.purchases",
                **({"commerce": {"order": {"priceTotal": p}}} if (p := draw.choice([None, 4.0, 250.5])) else {})}
               for m in draw.sample(range(1, 110), 4)]  # fmt: skip
        read = [e for e in mine if later - timedelta(hours=24) <= datetime.fromisoformat(e["timestamp"])] + new

        def timed(events: list[dict[str, Any]], kind: str | None = None) -> list[tuple[datetime, float | None]]:
            return [(datetime.fromisoformat(e["timestamp"]), (e.get("commerce") or {}).get("order", {}).get(
                "priceTotal")) for e in events if kind is None or e["eventType"] == kind]  # fmt: skip

        refreshed = [(t, p) for t, p in timed(mine, "commerce.purchases") if NOW - timedelta(days=30) <= t <= NOW]
        since = [(t, p) for t, p in timed(read, "commerce.purchases") if NOW < t <= later]
        day = [(t, p) for t, p in timed(read) if later - timedelta(hours=24) <= t <= later]
        group = fold.apply(graph, {"attributes": {}, "events": read}, later)["attributes"]["_tenant"][
            "SystemComputedAttributes"]  # fmt: skip
        for function in FUNCTIONS:
            for name, wanted in ((f"{function}Month", plain(function, refreshed + since)),
                                 (f"{function}Day", plain(function, day))):  # fmt: skip
                got = group[name]["value"]
                assert got == (pytest.approx(wanted) if isinstance(wanted, float) else wanted), (crm, name)


ITEMS = [("C1", ["x", "y"]), ("C1", ["y"]), ("C2", ["x"]), ("C3", [])]
"""Purchases of lists of items: who bought which SKUs."""


def test_a_list_of_items_in_a_filter_is_read_as_the_list_not_as_event_fields(shop: Workspace, tmp_path: Path) -> None:
    bought = [{"_id": f"p{n}", "timestamp": (NOW - timedelta(days=n)).isoformat(), "eventType": "commerce.purchases",
               "identityMap": {"CRMID": [{"id": crm}]},
               "productListItems": [{"SKU": sku, "quantity": 1} for sku in skus]}
              for n, (crm, skus) in enumerate(ITEMS)]  # fmt: skip
    (tmp_path / "items.json").write_text("\n".join(json.dumps(e) for e in bought))
    ingest_file(shop, "prod", IngestRequest("web", tmp_path / "items.json"))
    profile.rebuild(shop, "prod")
    create(shop, "boughtX", 'xEvent[productListItems.exists(SKU = "x")].count()', 30)
    fold = ComputedFold(shop, "prod")
    assert "productListItems" in fold.event_columns and "SKU" not in fold.event_columns
    segment.refresh_computed_attributes(shop, "prod", NOW)
    assert {c: values_of(shop, c)["boughtX"] for c in PEOPLE} == {"C1": 1, "C2": 1, "C3": 0, "C4": 0, "C5": 0}
    fold = ComputedFold(shop, "prod")
    later = [{**bought[0], "timestamp": (NOW + timedelta(minutes=5)).isoformat()}]
    group = fold.apply(graphs(shop)["C3"], {"attributes": {}, "events": later}, NOW + timedelta(minutes=9))
    assert group["attributes"]["_tenant"]["SystemComputedAttributes"]["boughtX"]["value"] == 1


def test_a_used_attribute_cannot_change_its_type(shop: Workspace) -> None:
    create(shop, "top", "xEvent.max(commerce.order.priceTotal)")
    create(shop, "alone", "xEvent.max(commerce.order.priceTotal)")
    with shop.catalog.session() as s:
        segment.create_segment(s, "prod", {"name": "big", "expression": {"value": f"{attribute_path('top')} > 100"}})
    for change in ({"expression": {"value": "xEvent.mostRecent(eventType)"}},
                   {"expression": {"value": "xEvent.count()"}}):  # fmt: skip
        with pytest.raises(ConflictError, match=r"segments big.*changed from number to (string|integer)") as refused:
            redefine(shop, "top", change)
        assert refused.value.code == "COMPUTED-0411-409" and refused.value.details["segments"] == ["big"]
    with shop.catalog.session() as s:
        shown = segment.computed_attribute_document(segment.find_computed_attribute(s, "prod", "top"))
    assert shown["expression"]["value"] == "xEvent.max(commerce.order.priceTotal)"  # nothing was changed
    redefine(shop, "top", {"expression": {"value": "xEvent.min(commerce.order.priceTotal)"}})  # still a number
    redefine(shop, "alone", {"expression": {"value": "xEvent.mostRecent(eventType)"}})  # no one reads it
    with shop.catalog.session() as s:
        shown = segment.computed_attribute_document(segment.find_computed_attribute(s, "prod", "alone"))
    assert shown["returnSchema"] == {"meta:xdmType": "string"}


def test_a_stopped_refresh_leaves_no_attribute_processing(shop: Workspace) -> None:
    create(shop, "spend", "xEvent.sum(commerce.order.priceTotal)")
    segment.refresh_computed_attributes(shop, "prod", NOW)
    create(shop, "views", "xEvent.count()")
    with shop.catalog.session() as s:  # what a refresh killed mid-way leaves: both PROCESSING, no lock held
        for record in s.scalars(select(ComputedAttributeRecord)):
            record.status = "PROCESSING"

    def shown() -> dict[str, tuple[str, str | None]]:
        with shop.catalog.session() as s:
            return {a["name"]: (a["status"], a["lastEvaluationError"]) for a in segment.list_computed_attributes(
                s, "prod")}  # fmt: skip

    found = shown()
    assert found["spend"][0] == "PROCESSED" and found["views"][0] == "NEW"
    assert "interrupted" in (found["spend"][1] or "") and NOW.isoformat() in (found["spend"][1] or "")
    with lake.sandbox_job(shop, "prod", "computed attributes refresh"):  # one that runs: it is processing
        assert {status for status, _ in shown().values()} == {"PROCESSING"}
    segment.refresh_computed_attributes(shop, "prod", NOW)
    assert shown() == {"spend": ("PROCESSED", None), "views": ("PROCESSED", None)}
