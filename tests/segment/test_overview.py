"""What the workspace shows of audiences without evaluating them: sizes and jobs as the jobs recorded them (also
after a rename), a few members read from the memberships file, the audiences one is made of and made into, and
a job's steps as it runs."""

from __future__ import annotations

from typing import Any

import pytest

from accord import profile, segment
from accord.catalog import SegmentJobRecord
from accord.errors import NotFoundError
from accord.segment.overview import counts_by_id
from accord.workspace import Workspace


def create(ws: Workspace, name: str, pql: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return segment.create_segment(session, "prod", {"name": name, "expression": {"value": pql}})


def test_sizes_and_jobs_are_read_from_what_the_jobs_recorded_by_id(shop: Workspace) -> None:
    parisians = create(shop, "parisians", 'homeAddress.city = "Paris"')["id"]
    everyone = create(shop, "everyone", "true")["id"]
    steps: list[tuple[str, float]] = []
    segment.run_job(shop, "prod", on_step=lambda label, done: steps.append((label, done)))
    assert [done for _, done in steps] == [0.0, 0.1, 0.7] and "evaluating 2 segment(s)" in steps[1][0]
    never = create(shop, "never run", "true")["id"]
    with shop.catalog.session() as session:
        segment.update_segment(session, "prod", "parisians", {"name": "paris people", "expression": {
            "value": 'homeAddress.city = "Paris" and person.name.firstName = "Ann"'}})  # fmt: skip
    segment.run_job(shop, "prod", ["paris people"])
    with shop.catalog.session() as session:
        sizes = segment.recent_sizes(session, "prod", [parisians, everyone, never, "no-such-id"], per_segment=5)
        assert [s.qualified for s in sizes[parisians]] == [1, 2]  # newest first, across the rename
        assert [(s.qualified, s.realized, s.exited) for s in sizes[everyone]] == [(3, 3, 0)]
        assert sizes[never] == []
        assert sizes["no-such-id"] == []
        latest = segment.recent_sizes(session, "prod", [parisians], per_segment=1)[parisians]
        assert [s.qualified for s in latest] == [1]
        jobs = segment.audience_jobs(session, "prod", "paris people")
        assert [(j.status, j.counts and j.counts["exited"]) for j in jobs] == [("success", 1), ("success", 0)]
        assert jobs[0].started >= jobs[1].started and jobs[0].seconds is not None
        assert [j.id for j in segment.audience_jobs(session, "prod", everyone)] == [jobs[1].id]
        assert segment.audience_jobs(session, "prod", "paris people", limit=1) == jobs[:1]
        with pytest.raises(NotFoundError):
            segment.audience_jobs(session, "prod", "nobody")


def test_a_failed_job_is_listed_and_counts_nothing(shop: Workspace) -> None:
    made = create(shop, "parisians", 'homeAddress.city = "Paris"')
    with shop.catalog.session() as session:  # as a job the process running it left behind
        sandbox_id = segment.find_segment(session, "prod", "parisians").sandbox_id
        session.add(SegmentJobRecord(sandbox_id=sandbox_id, segments=[made["id"]], status="failed", counts={},
                                     error="interrupted"))  # fmt: skip
    with shop.catalog.session() as session:
        [job] = segment.audience_jobs(session, "prod", "parisians")
        assert (job.status, job.counts, job.error) == ("failed", None, "interrupted")
        assert segment.recent_sizes(session, "prod", [made["id"]]) == {made["id"]: []}
    assert counts_by_id(["a", "b"], {}) == {}
    assert counts_by_id(["a", "b"], {"x": {"qualified": 1}, "y": {"qualified": 2}}) == {
        "a": {"qualified": 1}, "b": {"qualified": 2}}  # fmt: skip


def test_a_sample_of_members_is_read_without_counting_them(shop: Workspace) -> None:
    create(shop, "parisians", 'homeAddress.city = "Paris"')
    assert segment.member_sample(shop, "prod", "parisians") == []  # no job yet
    segment.run_job(shop, "prod")
    everyone = segment.members(shop, "prod", "parisians")["items"]
    sample = segment.member_sample(shop, "prod", "parisians", limit=1)
    assert sample == [{"graphId": everyone[0]["graphId"], "status": "realized"}]
    assert {m["graphId"] for m in segment.member_sample(shop, "prod", "parisians")} == {m["graphId"] for m in everyone}
    with shop.catalog.session() as session:
        segment.update_segment(session, "prod", "parisians", {"name": "parisians", "expression": {
            "value": 'homeAddress.city = "Paris" and person.name.firstName = "Ann"'}})  # fmt: skip
    segment.run_job(shop, "prod")  # C3 leaves: an exited membership is kept, and is not a member
    [ann] = segment.member_sample(shop, "prod", "parisians")
    assert ann["status"] == "existing"
    identities = profile.store_identities(shop, "prod", [int(ann["graphId"]), 12345])
    assert identities == {int(ann["graphId"]): [("CRMID", "C1")], 12345: []}


def test_relations_name_the_audiences_an_audience_is_made_of_and_made_into(shop: Workspace) -> None:
    parisians = create(shop, "parisians", 'homeAddress.city = "Paris"')
    create(shop, "oslo", 'homeAddress.city = "Oslo"')
    create(shop, "either", f'inSegment("parisians") or inSegment("{parisians["id"]}") or inSegment("oslo")')
    create(shop, "paris only", 'inSegment("parisians") and not inSegment("oslo")')
    with shop.catalog.session() as session:
        either = segment.segment_relations(session, "prod", "either")
        assert [r["name"] for r in either["refersTo"]] == ["parisians", "oslo"]  # by name or id: once each
        assert either["referredBy"] == []
        by = segment.segment_relations(session, "prod", parisians["id"])
        assert by["refersTo"] == [] and [r["name"] for r in by["referredBy"]] == ["either", "paris only"]
        record = segment.find_segment(session, "prod", "paris only")
        record.expression = 'inSegment("gone") and inSegment("parisians")'  # saved before "gone" was deleted
    with shop.catalog.session() as session:
        refers = segment.segment_relations(session, "prod", "paris only")["refersTo"]
        assert refers == [{"name": "gone", "id": None}, {"name": "parisians", "id": parisians["id"]}]
