"""Segments end to end: definitions, batch jobs, memberships and their history, estimates, streaming."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from accord import profile, segment
from accord.errors import ConflictError, DocumentError, InvalidInputError, NotFoundError
from accord.ingest import IngestRequest, ingest_file
from accord.workspace import Workspace
from tests.segment.conftest import MAPPING, NOW


def create(ws: Workspace, name: str, pql: str, streaming: bool = False) -> dict[str, Any]:
    with ws.catalog.session() as session:
        document = {"name": name, "expression": {"type": "PQL", "value": pql},
                    "evaluationInfo": {"streaming": {"enabled": streaming}}}  # fmt: skip
        return segment.create_segment(session, "prod", document)


def crm_of(ws: Workspace, graph: str) -> str:
    people = {}
    for crm in ("C1", "C2", "C3"):
        people[profile.get_profile(ws, "prod", "CRMID", crm)["graphId"]] = crm
    return people[graph]


def member_names(ws: Workspace, name: str) -> set[str]:
    return {crm_of(ws, m["graphId"]) for m in segment.members(ws, "prod", name)["items"]}


def test_a_batch_job_evaluates_every_kind_of_audience(shop: Workspace) -> None:
    create(shop, "high value", 'xEvent[eventType = "commerce.purchases" and timestamp occurs <= 30 days before now]'
                               ".sum(commerce.order.priceTotal) >= 150")  # fmt: skip
    create(shop, "parisians", 'homeAddress.city = "Paris" and consents.marketing.email.val notIn ["n", "dn"]')
    create(shop, "abandoners", 'CHAIN(xEvent, timestamp, [C0: WHAT(eventType = "commerce.productViews") '
                               "WHEN(<= 24 hours before now), C1: WHAT(eventType = \"commerce.purchases\") "
                               "WHEN(<= 2 hours after C0)])")  # fmt: skip
    create(shop, "paris and valuable", 'inSegment("parisians") and inSegment("high value")')
    with shop.catalog.session() as session:
        composition = {"from": "parisians", "exclude": ["high value"]}
        segment.create_segment(session, "prod", {"name": "parisians not valuable", "composition": composition})
    job = segment.run_job(shop, "prod")
    assert job["status"] == "success"
    assert {k: v["qualified"] for k, v in job["counts"].items()} == {
        "high value": 1,
        "parisians": 2,
        "abandoners": 1,
        "paris and valuable": 1,
        "parisians not valuable": 1,
    }
    assert member_names(shop, "high value") == {"C1"}
    assert member_names(shop, "parisians") == {"C1", "C3"}
    assert member_names(shop, "abandoners") == {"C2"}  # viewed, then bought within 2 hours
    assert member_names(shop, "parisians not valuable") == {"C3"}
    assert all(m["status"] == "realized" for m in segment.members(shop, "prod", "parisians")["items"])

    again = segment.run_job(shop, "prod", ["parisians"])  # the next run: still in, so `existing`
    assert again["counts"]["parisians"] == {"realized": 0, "existing": 2, "exited": 0, "qualified": 2}
    with shop.catalog.session() as session:
        segment.update_segment(session, "prod", "parisians", {"name": "parisians", "expression": {
            "value": 'homeAddress.city = "Paris" and person.name.firstName = "Ann"'}})  # fmt: skip
    third = segment.run_job(shop, "prod", ["parisians"])
    assert third["counts"]["parisians"] == {"realized": 0, "existing": 1, "exited": 1, "qualified": 1}
    found = profile.get_profile(shop, "prod", "CRMID", "C3")
    assert found["segmentMembership"]["parisians"]["status"] == "exited"
    steps = [(h["previous"], h["status"]) for h in segment.history(shop, "prod", int(found["graphId"]))
             if h["segment"] == segment_id(shop, "parisians")]  # fmt: skip
    assert steps == [(None, "realized"), ("existing", "exited")]


def segment_id(ws: Workspace, name: str) -> str:
    with ws.catalog.session() as session:
        return segment.find_segment(session, "prod", name).id


def test_estimates_need_no_saving(shop: Workspace) -> None:
    guess = segment.estimate(shop, "prod", 'homeAddress.city = "Paris"')
    assert (guess["estimate"], guess["profiles"]) == (2, 3) and len(guess["sample"]) == 2
    assert guess["streamingEligible"]
    assert not segment.estimate(shop, "prod", "xEvent.count() > 0")["streamingEligible"]


def test_bad_definitions_say_what_and_where(shop: Workspace) -> None:
    with pytest.raises(DocumentError) as caught:
        create(shop, "typo", 'homeAddress.cty = "Paris" and\n  person.name.firstName.startWith("A")')
    problems = caught.value.problems
    assert "did you mean homeAddress.city" in problems[0]["message"] and problems[0]["column"] == 1
    assert "did you mean startsWith" in problems[1]["message"] and problems[1]["line"] == 2
    assert problems[1]["caret"].endswith("\n  ^")
    with pytest.raises(DocumentError, match="unexpected"):
        create(shop, "syntax", 'homeAddress.city = = "Paris"')
    with pytest.raises(DocumentError, match="cannot compare string with number"):
        create(shop, "types", "homeAddress.city > 3")
    with pytest.raises(DocumentError, match="no segment 'parisans'"):
        create(shop, "ref", 'inSegment("parisans")')
    with pytest.raises(InvalidInputError, match="cannot stream: an event condition is not bounded"):
        create(shop, "slow", "xEvent.count() > 1", streaming=True)
    create(shop, "a", 'homeAddress.city = "Paris"')
    with pytest.raises(ConflictError):
        create(shop, "a", 'homeAddress.city = "Oslo"')
    create(shop, "b", 'inSegment("a")')
    with pytest.raises(ConflictError, match="used by b"), shop.catalog.session() as session:
        segment.delete_segment(session, "prod", "a")
    with pytest.raises(NotFoundError, match="did you mean a"), shop.catalog.session() as session:
        segment.find_segment(session, "prod", "aa")
    with shop.catalog.session() as session:
        assert [s["name"] for s in segment.list_segments(session, "prod")] == ["a", "b"]  # refused: still there
        segment.delete_segment(session, "prod", "b")
        segment.delete_segment(session, "prod", "a")  # nothing refers to it now
        assert segment.list_segments(session, "prod") == []


def test_streaming_evaluation_emits_membership_changes(shop: Workspace) -> None:
    create(shop, "viewers", 'xEvent[eventType = "commerce.productViews" and timestamp occurs <= 24 hours before now]'
                            ".exists()", streaming=True)  # fmt: skip
    create(shop, "osloites", 'homeAddress.city = "Oslo"', streaming=True)
    segment.run_job(shop, "prod")
    assert member_names(shop, "viewers") == {"C2", "C3"}
    c1 = profile.get_profile(shop, "prod", "CRMID", "C1")
    evaluator = segment.StreamingEvaluator(shop, "prod")
    try:
        attributes = c1["attributes"]
        view = {"eventType": "commerce.productViews", "timestamp": NOW - timedelta(minutes=1)}
        changes = evaluator.evaluate(int(c1["graphId"]), {"attributes": attributes, "events": [view]})
        assert [(c["segment"], c["status"]) for c in changes] == [("viewers", "realized")]
        assert evaluator.evaluate(int(c1["graphId"]), {"attributes": attributes, "events": [view]}) == []
        moved = {**attributes, "homeAddress": {"city": "Oslo"}}
        changes = evaluator.evaluate(int(c1["graphId"]), {"attributes": moved, "events": []})
        assert sorted((c["segment"], c["status"]) for c in changes) == [("osloites", "realized"), ("viewers", "exited")]
    finally:
        evaluator.close()
    emitted = segment.membership_events(shop, "prod")
    assert [e["status"] for e in emitted["items"]] == ["realized", "realized", "exited"]
    assert segment.membership_events(shop, "prod", after=emitted["next"])["items"] == []
    # the next batch job takes the streamed memberships as the state it moves on from
    job = segment.run_job(shop, "prod", ["osloites"])
    assert job["counts"]["osloites"]["exited"] == 1  # C1 does not live in Oslo in the lake


def test_compositions_union_and_intersection(shop: Workspace) -> None:
    create(shop, "parisians", 'homeAddress.city = "Paris"')
    create(shop, "buyers", 'xEvent[eventType = "commerce.purchases"].exists()')
    compositions = {"either": {"union": ["parisians", "buyers"]}, "both": {"intersection": ["parisians", "buyers"]}}
    with shop.catalog.session() as session:
        for name, composition in compositions.items():
            segment.create_segment(session, "prod", {"name": name, "composition": composition})
        with pytest.raises(DocumentError, match="exactly one of"):
            two = {"union": ["a", "b"], "intersection": ["a", "b"]}
            segment.create_segment(session, "prod", {"name": "bad", "composition": two})
    segment.run_job(shop, "prod")
    assert member_names(shop, "either") == {"C1", "C2", "C3"}
    assert member_names(shop, "both") == {"C1"}


def add_people(ws: Workspace, tmp_path: Path, first: int, count: int) -> None:
    path = tmp_path / f"people-{first}.csv"
    path.write_text("crm,first,city,email_ok\n" + "".join(f"P{n},Pat,Lima,y\n" for n in range(first, first + count)))
    ingest_file(ws, "prod", IngestRequest("crm", path, MAPPING))
    profile.rebuild(ws, "prod")


def graphs_in(ws: Workspace, name: str) -> set[str]:
    found = segment.members(ws, "prod", name, limit=10_000)
    assert found["total"] == len(found["items"])
    return {m["graphId"] for m in found["items"]}


def test_splits_share_an_audience_out_and_keep_each_person_in_their_part(shop: Workspace, tmp_path: Path) -> None:
    add_people(shop, tmp_path, 0, 200)
    create(shop, "limenos", 'homeAddress.city = "Lima"')
    with shop.catalog.session() as session:
        for name, percent in (("test group", [0, 30]), ("the rest", [30, 100])):
            segment.create_segment(session, "prod", {"name": name, "composition": {"split": "limenos",
                                                                                  "percent": percent}})  # fmt: skip
        with pytest.raises(DocumentError, match="percent"):
            bad = {"split": "limenos", "percent": [50, 20]}
            segment.create_segment(session, "prod", {"name": "bad", "composition": bad})
    segment.run_job(shop, "prod")
    test_group, rest = graphs_in(shop, "test group"), graphs_in(shop, "the rest")
    assert len(graphs_in(shop, "limenos")) == 200
    assert not test_group & rest and test_group | rest == graphs_in(shop, "limenos")
    assert 30 <= len(test_group) <= 90  # about 30 % of 200, as a fair split of stable ids gives
    add_people(shop, tmp_path, 200, 100)  # more people, and the next job
    segment.run_job(shop, "prod")
    later_test_group, later_rest = graphs_in(shop, "test group"), graphs_in(shop, "the rest")
    assert len(later_test_group | later_rest) == 300 and not later_test_group & later_rest
    assert test_group <= later_test_group and rest <= later_rest  # nobody changed part


def test_the_history_of_the_latest_jobs_reads_only_theirs(shop: Workspace) -> None:
    create(shop, "parisians", 'homeAddress.city = "Paris"')
    segment.run_job(shop, "prod")
    graph = int(profile.get_profile(shop, "prod", "CRMID", "C3")["graphId"])
    with shop.catalog.session() as session:
        segment.update_segment(session, "prod", "parisians", {"name": "parisians", "expression": {
            "value": 'homeAddress.city = "Oslo"'}})  # fmt: skip
    segment.run_job(shop, "prod")
    assert [h["status"] for h in segment.history(shop, "prod", graph)] == ["realized", "exited"]
    [latest] = segment.history(shop, "prod", graph, jobs=1)
    assert (latest["previous"], latest["status"]) == ("realized", "exited")
    assert segment.history(shop, "prod", graph, jobs=5) == segment.history(shop, "prod", graph)
