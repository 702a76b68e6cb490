"""Workflow documents are checked whole: every problem at once, each with its path."""

from __future__ import annotations

from typing import Any

import pytest

from accord import campaign
from accord.campaign import workflows
from accord.campaign.exceptions import CampaignInputError, DuplicateObjectError, UnknownObjectError
from accord.errors import DocumentError


def problems(document: Any) -> dict[str, str]:
    with pytest.raises(DocumentError) as caught:
        workflows.check_workflow(document)
    return {p["path"]: p["message"] for p in caught.value.problems}


def test_every_problem_of_a_document_is_said_at_once_with_its_path() -> None:
    found = problems({"name": "broken", "activities": [
        {"name": "start", "type": "scheduler", "options": {"frequency": "daily"}, "next": ["pick"]},
        {"name": "pick", "type": "qurey", "next": ["mail", "nowhere"]},
        {"name": "mail", "type": "delivery", "options": {"delivery": 3}},
        {"name": "lonely", "type": "wait", "options": {"duration": "2h"}},
        {"name": "mail", "type": "alert", "options": {"url": "http://127.0.0.1:9/x", "colour": "red"}},
    ]})  # fmt: skip
    assert "a daily schedule says `at` what time" in found["activities[0].options"]
    assert "unknown activity type 'qurey'; did you mean query?" in found["activities[1].type"]
    assert "known: alert, data-loading, delivery" in found["activities[1].type"]  # the known ones listed
    assert "no activity named 'nowhere'" in found["activities[1].next[1]"]
    assert found["activities[2].options.delivery"]  # a number where a name is wanted
    assert "'lonely' cannot be reached from 'start'" in found["activities[3]"]
    assert "a second activity named 'mail'" in found["activities[4].name"]
    assert found["activities[4].options.colour"]


def test_a_cycle_is_refused_naming_its_activities() -> None:
    found = problems({"name": "loop", "activities": [
        {"name": "a", "type": "query", "options": {"filter": {"field": "email", "op": "notNull"}}, "next": ["b"]},
        {"name": "b", "type": "wait", "options": {"duration": "1h"}, "next": ["c"]},
        {"name": "c", "type": "exclusion", "options": {"exclude": ["b"]}, "next": ["b"]},
    ]})  # fmt: skip
    assert found == {"activities": "a cycle: b -> c -> b; a workflow runs forward only"}


def test_a_split_s_transitions_leave_from_its_named_outputs() -> None:
    split = {"name": "s", "type": "split", "next": {"gold": ["x"], "bronze": ["x"]},
             "options": {"branches": [{"name": "gold", "percent": 10}], "remainder": "rest"}}  # fmt: skip
    found = problems({"name": "w", "activities": [split, {"name": "x", "type": "alert", "options": {"url": "http://h/"}},
                                                  {"name": "y", "type": "query", "next": {"a": ["x"]}}]})  # fmt: skip
    assert "'s' has no output 'bronze'; outputs: gold, rest" in found["activities[0].next.bronze"]
    assert "a query has one output" in found["activities[2].next"]
    assert "activities[2].options.filter" in found  # required


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("name: w\nactivities:\n  - {name: a, type: wait\n", "line 4, column 1"),
        ('{"name": "w", "activities": [}', "line 1, column 30"),
    ],
)
def test_text_that_is_not_yaml_or_json_is_refused_with_its_line_and_column(text: str, where: str) -> None:
    with pytest.raises(DocumentError) as caught:
        workflows.check_workflow(text)
    assert where in str(caught.value)


def test_every_activity_type_is_a_plug_in_with_a_spec_and_a_json_schema() -> None:
    types = workflows.activity_types()
    assert set(types) >= {"scheduler", "file-collector", "data-loading", "update-data", "list-update", "query",
                          "exclusion", "split", "delivery", "wait", "extraction", "alert"}  # fmt: skip
    for name in types:
        spec = workflows.activity_spec(name).to_document()
        assert spec["type"] == name and spec["description"] and spec["options"]["type"] == "object"


def test_a_local_path_outside_the_allowed_roots_is_refused_when_stored(engine: campaign.CampaignEngine) -> None:
    document = {"name": "out", "activities": [
        {"name": "q", "type": "query", "options": {"filter": {"field": "email", "op": "notNull"}}, "next": ["x"]},
        {"name": "x", "type": "extraction", "options": {"folder": "/etc"}},
    ]}  # fmt: skip
    with pytest.raises(DocumentError) as caught:
        workflows.create_workflow(engine, document)
    assert [p["path"] for p in caught.value.problems] == ["activities[1].options.folder"]
    assert [w["name"] for w in workflows.list_workflows(engine)] == ["audience-import", "log-export"]  # nothing kept


def test_every_activity_s_options_refuse_what_they_do_not_know_with_its_path() -> None:
    for name in workflows.activity_types():
        found = problems({"name": "w", "activities": [{"name": "a", "type": name, "options": {"colour": "red"}}]})
        assert found.get("activities[0].options.colour") == "Extra inputs are not permitted", (name, found)


def test_a_workflow_is_stored_updated_and_deleted_with_its_runs(engine: campaign.CampaignEngine) -> None:
    gold = {"filter": {"field": "custom.tier", "op": "eq", "value": "gold"}}
    document = {"name": "gold", "activities": [{"name": "q", "type": "query", "options": gold}]}
    workflows.create_workflow(engine, document)
    with pytest.raises(DuplicateObjectError):
        workflows.create_workflow(engine, document)
    yaml_text = "name: gold\nactivities:\n  - {name: q, type: query, options: {filter: {list: vip}}}\n"
    assert workflows.update_workflow(engine, "gold", yaml_text)["activities"][0]["options"] == {
        "filter": {"list": "vip"}
    }
    with pytest.raises(CampaignInputError, match="a workflow keeps its name"):
        workflows.update_workflow(engine, "gold", {**document, "name": "silver"})
    run = workflows.run_workflow(engine, "gold")
    workflows.delete_workflow(engine, "gold")
    with pytest.raises(UnknownObjectError):
        workflows.get_run(engine, run["id"])
    with pytest.raises(UnknownObjectError, match="no workflow 'gold'"):
        workflows.run_workflow(engine, "gold")


def test_a_transition_between_activities_that_do_not_fit_is_refused() -> None:
    found = problems({"name": "w", "activities": [
        {"name": "q", "type": "query", "options": {"filter": {"field": "email", "op": "notNull"}}, "next": ["load"]},
        {"name": "load", "type": "update-data"},
    ]})  # fmt: skip
    assert found == {"activities[0].next[0]": "'load' (update-data) takes files, and 'q' (query) gives a population"}


def test_an_exclusion_naming_an_activity_that_does_not_lead_to_it_is_refused_when_checked() -> None:
    document = {"name": "ex", "activities": [
        {"name": "all", "type": "query", "options": {"filter": {"field": "email", "op": "notNull"}}, "next": ["less"]},
        {"name": "gold", "type": "query", "options": {"filter": {"field": "custom.tier", "op": "eq", "value": "g"}}},
        {"name": "less", "type": "exclusion", "options": {"exclude": ["gold", "zz"]}},
    ]}  # fmt: skip
    with pytest.raises(DocumentError) as caught:
        workflows.check_workflow(document)
    messages = [p["message"] for p in caught.value.problems if p["path"] == "activities[2].options"]
    assert any("'gold'" in m and "add a transition from it to 'less'" in m for m in messages)
    assert any("'zz'" in m and "does not lead to it" in m for m in messages)
