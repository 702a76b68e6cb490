"""References between segments: membership is true or false, cycles are refused on every write path and
never block unrelated segments, and problems with references say where they are."""

from __future__ import annotations

from typing import Any

import pytest

from accord import profile, segment
from accord.catalog import SegmentDefinitionRecord
from accord.errors import ConflictError, DocumentError, InvalidInputError
from accord.workspace import Workspace


def create(ws: Workspace, name: str, pql: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return segment.create_segment(session, "prod", {"name": name, "expression": {"value": pql}})


def member_names(ws: Workspace, name: str) -> set[str]:
    graphs = {profile.get_profile(ws, "prod", "CRMID", crm)["graphId"]: crm for crm in ("C1", "C2", "C3")}
    return {graphs[m["graphId"]] for m in segment.members(ws, "prod", name)["items"]}


def test_not_in_segment_and_exclude_are_two_valued(shop: Workspace) -> None:
    create(shop, "parisians", 'homeAddress.city = "Paris"')
    create(shop, "born early", "person.birthDate < date(2000, 1, 1)")  # nobody has a birth date: unknown
    create(shop, "not born early", 'not inSegment("born early")')
    create(shop, "non-parisians", 'not inSegment("parisians")')
    with shop.catalog.session() as session:
        composition = {"from": "parisians", "exclude": ["born early"]}
        segment.create_segment(session, "prod", {"name": "parisians left", "composition": composition})
    assert segment.run_job(shop, "prod")["status"] == "success"
    assert member_names(shop, "born early") == set()
    assert member_names(shop, "not born early") == {"C1", "C2", "C3"}
    assert member_names(shop, "non-parisians") == {"C2"}
    assert member_names(shop, "parisians left") == {"C1", "C3"}
    assert segment.estimate(shop, "prod", 'not inSegment("born early")')["estimate"] == 3
