"""Every event aggregation alone in a definition reads the events: through estimates, jobs of one
segment and jobs of many, each held to the reference evaluator on the profiles as a lookup shows them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from accord import profile, segment
from accord.segment import parse_pql
from accord.workspace import Workspace
from tests.segment.reference import Reference

FORMS = {
    "count": "xEvent.count() > 0",
    "count exactly": "xEvent.count() = 3",
    "count of all": "xEvent[true].count() >= 2",
    "exists": "xEvent.exists()",
    "not exists": "not xEvent.exists()",
    "sum": "xEvent.sum(commerce.order.priceTotal) > 100",
    "avg": "xEvent.avg(commerce.order.priceTotal) > 100",
    "min": "xEvent.min(commerce.order.priceTotal) < 50",
    "max": "xEvent.max(timestamp) occurs <= 4 hours before now",
    "any": 'xEvent.any(eventType = "commerce.productViews")',
    "all": 'xEvent.all(eventType = "commerce.purchases")',
    "filtered count": 'xEvent[eventType = "commerce.purchases"].count() >= 2',
    "chain": 'CHAIN(xEvent, timestamp, [A: WHAT(eventType = "commerce.productViews"), '
             'B: WHAT(eventType = "commerce.purchases")])',
}  # fmt: skip


def people(ws: Workspace) -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each customer's attributes and events, by graph id, as a profile lookup gives them."""
    found = {}
    for crm in ("C1", "C2", "C3"):
        person = profile.get_profile(ws, "prod", "CRMID", crm, events_limit=1000)
        events = [{**e, "timestamp": datetime.fromisoformat(e["timestamp"])} for e in person["events"]["items"]]
        found[person["graphId"]] = (person["attributes"], events)
    return found


def expected(everyone: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]], text: str) -> set[str]:
    reference, tree = Reference(datetime.now(UTC)), parse_pql(text)
    return {graph for graph, (attributes, events) in everyone.items() if reference.qualifies(tree, attributes, events)}


def members(ws: Workspace, name: str) -> set[str]:
    return {m["graphId"] for m in segment.members(ws, "prod", name)["items"]}


def test_each_form_alone_in_an_estimate(shop: Workspace) -> None:
    everyone = people(shop)
    answers = {name: expected(everyone, text) for name, text in FORMS.items()}
    # the cases can fail: every customer has events, and most forms hold for some customers and not others
    assert answers["count"] == answers["exists"] == set(everyone)
    assert sum(0 < len(found) < len(everyone) for found in answers.values()) >= 7
    for name, text in FORMS.items():
        found = segment.estimate(shop, "prod", text)
        assert (found["estimate"], set(found["sample"])) == (len(answers[name]), answers[name]), text


def test_each_form_alone_in_a_job_of_its_own_and_all_in_one_job(shop: Workspace) -> None:
    everyone = people(shop)
    with shop.catalog.session() as session:
        for name, text in FORMS.items():
            segment.create_segment(session, "prod", {"name": name, "expression": {"value": text}})
    assert segment.run_job(shop, "prod")["status"] == "success"
    for name, text in FORMS.items():
        assert members(shop, name) == expected(everyone, text), text
    for name, text in FORMS.items():  # again, one segment per job: nobody may exit
        alone = segment.run_job(shop, "prod", [name])
        assert alone["counts"][name]["exited"] == 0, text
        assert members(shop, name) == expected(everyone, text), text
