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


def update(ws: Workspace, name: str, document: dict[str, Any]) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return segment.update_segment(session, "prod", name, document)


def stored(ws: Workspace, name: str) -> str:
    with ws.catalog.session() as session:
        return segment.find_segment(session, "prod", name).expression


def force(ws: Workspace, name: str, expression: str) -> None:
    """Write an expression past every check, as a catalog from before cycles were refused may hold."""
    with ws.catalog.session() as session:
        record = session.get(SegmentDefinitionRecord, segment.find_segment(session, "prod", name).id)
        assert record is not None
        record.expression = expression


def test_a_cycle_is_refused_on_every_write_path(api: Any, shop: Workspace, cli: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    create(shop, "a", 'homeAddress.city = "Paris"')
    b = create(shop, "b", 'inSegment("a")')
    create(shop, "c", 'inSegment("b")')
    with pytest.raises(DocumentError) as caught:  # the case, one step longer
        update(shop, "a", {"name": "a", "expression": {"value": 'homeAddress.city = "Paris" or inSegment("c")'}})
    [found] = caught.value.problems
    assert found["message"] == "segments would refer to each other in a cycle: a -> c -> b -> a"
    assert (found["line"], found["column"]) == (1, 31)
    with pytest.raises(DocumentError, match="a -> b -> a"):  # by id, told by name
        update(shop, "a", {"name": "a", "expression": {"value": f'inSegment("{b["id"]}")'}})
    with pytest.raises(DocumentError, match="a -> b -> a"):
        update(shop, "a", {"name": "a", "composition": {"union": ["b", "c"]}})
    put = api.put("/segment/definitions/a", json={"name": "a", "expression": {"value": 'inSegment("b")'}})
    assert put.status_code == 400 and "cycle: a -> b -> a" in put.json()["message"]
    monkeypatch.setenv("ACCORD_HOME", str(shop.settings.home))
    refused = cli("segment", "update", "a", "--pql", 'inSegment("c")')
    assert refused.code == 2 and "a -> c -> b -> a" in refused.stderr and "Traceback" not in refused.stderr
    assert stored(shop, "a") == 'homeAddress.city = "Paris"'  # nothing stored was lost
    # a rename is a write too: a name someone refers to cannot be given up, nor taken to close a cycle
    renamed = cli("segment", "update", "a", "--name", "paris")
    assert renamed.code == 4 and "used by name by b" in renamed.stderr
    force(shop, "b", 'inSegment("gone")')  # a reference left dangling, as an old catalog may hold
    with pytest.raises(DocumentError, match="gone -> b -> gone"):
        update(shop, "c", {"name": "gone", "expression": {"value": 'inSegment("b")'}})
    with pytest.raises(DocumentError, match="gone -> b -> gone"):  # a new segment taking the dangling name
        create(shop, "gone", 'inSegment("b")')
    posted = api.post("/segment/definitions", json={"name": "gone", "composition": {"union": ["a", "b"]}})
    assert posted.status_code == 400 and "cycle: gone -> b -> gone" in posted.json()["message"]


def test_a_catalog_holding_a_cycle_runs_the_others_and_can_be_mended(
    shop: Workspace, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    create(shop, "a", 'homeAddress.city = "Paris"')
    create(shop, "b", 'inSegment("a")')
    create(shop, "osloites", 'homeAddress.city = "Oslo"')
    force(shop, "a", 'inSegment("b")')
    job = segment.run_job(shop, "prod")
    assert (job["status"], set(job["counts"])) == ("partial", {"osloites"})
    assert "a was left out: segments refer to each other in a cycle: a -> b -> a" in job["error"]
    assert "b was left out: segments refer to each other in a cycle: b -> a -> b" in job["error"]
    assert member_names(shop, "osloites") == {"C2"}
    with pytest.raises(InvalidInputError, match=r"no segment could be evaluated: a was left out: .* a -> b -> a"):
        segment.run_job(shop, "prod", ["a"])
    with pytest.raises(DocumentError, match="'b' leads to segments that refer to each other in a cycle: b -> a -> b"):
        create(shop, "d", 'inSegment("b")')
    with pytest.raises(ConflictError, match="used by b; change those first"), shop.catalog.session() as session:
        segment.delete_segment(session, "prod", "a")
    monkeypatch.setenv("ACCORD_HOME", str(shop.settings.home))
    partial = cli("segment", "run", "--json")
    assert partial.code == 1 and partial.json()["status"] == "partial"
    mended = cli("segment", "update", "a", "--pql", 'homeAddress.city = "Paris"', "--json")
    assert mended.code == 0 and mended.json()["expression"]["value"] == 'homeAddress.city = "Paris"'
    assert segment.run_job(shop, "prod")["status"] == "success"
    assert member_names(shop, "b") == {"C1", "C3"}
    assert cli("segment", "delete", "b").code == 0 and cli("segment", "delete", "a").code == 0


def test_reference_problems_say_where(api: Any, shop: Workspace) -> None:
    parisians = create(shop, "parisians", 'homeAddress.city = "Paris"')
    create(shop, "loops", 'homeAddress.city = "Oslo"')
    with pytest.raises(DocumentError) as caught:
        create(shop, "x", 'homeAddress.city = "Oslo" or\n  inSegment("parisans")')
    [found] = caught.value.problems
    assert found["message"] == "no segment 'parisans'; did you mean parisians?"
    assert (found["line"], found["column"], found["caret"]) == (2, 3, '  inSegment("parisans")\n  ^')
    with pytest.raises(DocumentError) as caught:  # itself, at create time: no name to suggest
        create(shop, "loop", 'homeAddress.city = "Oslo" and inSegment("loop")')
    [found] = caught.value.problems
    assert (found["message"], found["line"], found["column"]) == ("a segment cannot refer to itself", 1, 31)
    with pytest.raises(DocumentError) as caught:  # itself by id, at update time
        update(shop, "parisians", {"name": "parisians", "expression": {"value": f'inSegment("{parisians["id"]}")'}})
    assert [(p["message"], p["column"]) for p in caught.value.problems] == [("a segment cannot refer to itself", 1)]
    body = api.post("/segment/validate", json={"expression": {"value": 'inSegment("nope")'}}).json()
    assert body["details"]["problems"][0] | {"caret": None} == {
        "path": "expression", "message": "no segment 'nope'", "line": 1, "column": 1, "caret": None}  # fmt: skip
