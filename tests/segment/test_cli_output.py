"""What the CLI prints for people about audiences and computed attributes: users' text as they wrote it
(rich markup is off: `[...]` in an expression is not a style), whole ids at 80 columns, a profile's audiences
and computed attributes."""

from __future__ import annotations

from typing import Any

import pytest

from accord.cli.output import out
from accord.workspace import Workspace

MARKUP = "[bold]x[/bold]"
SEGMENT_PQL = f'xEvent[eventType = "commerce.purchases"].count() >= 2 or person.name.firstName = "{MARKUP}"'
COMPUTED_PQL = f'xEvent[eventType = "commerce.purchases" or eventType = "{MARKUP}"].count()'
DESCRIPTION = f"{MARKUP} buyers [vip] [/]"


def test_expressions_and_descriptions_are_printed_verbatim(
    cli: Any, shop: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(out, "_width", 250)  # a table cell holds the whole expression on one line (the console
    # was made before the test: COLUMNS would not reach it; rich keeps an explicit width in `_width`)
    assert cli("segment", "create", "buyers", "--pql", SEGMENT_PQL, "--description", DESCRIPTION).code == 0
    made = cli("computed", "create", "bought", "--pql", COMPUTED_PQL, "--description", DESCRIPTION)
    assert made.code == 0, made.stderr
    printed = {
        "computed create": made.stdout,
        "computed show": cli("computed", "show", "bought").stdout,
        "segment show": cli("segment", "show", "buyers").stdout,
    }
    for command, text in printed.items():
        assert SEGMENT_PQL in text or COMPUTED_PQL in text, f"accord {command}:\n{text}"
        assert DESCRIPTION in text, f"accord {command}:\n{text}"
    assert SEGMENT_PQL in cli("segment", "list").stdout
    assert COMPUTED_PQL in cli("computed", "list").stdout
    missing = cli("segment", "show", MARKUP)  # an error's message holds the user's text too
    assert missing.code == 3 and MARKUP in missing.stderr, missing


def test_job_and_profile_ids_are_whole_at_80_columns(
    cli: Any, shop: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(out, "_width", 80)  # a terminal of 80 columns
    assert cli("segment", "create", "paris", "--pql", 'homeAddress.city = "Paris"').code == 0
    job = cli("segment", "run", "--json").json()
    listed = cli("segment", "jobs")
    assert job["id"] in listed.stdout and "…" not in listed.stdout, listed.stdout
    graphs = [m["graphId"] for m in cli("segment", "members", "paris", "--json").json()["items"]]
    members = cli("segment", "members", "paris").stdout
    assert graphs and all(str(g) in members for g in graphs) and "…" not in members, members


def test_a_profile_lookup_shows_its_audiences_and_computed_attributes(cli: Any, shop: Workspace) -> None:
    assert cli("segment", "create", "paris", "--pql", 'homeAddress.city = "Paris"').code == 0
    pql = 'xEvent[eventType = "commerce.purchases"].count()'
    assert cli("computed", "create", "purchases", "--pql", pql).code == 0
    assert cli("segment", "run", "--json").json()["status"] == "success"  # it refreshes computed attributes first
    looked = cli("profile", "get", "--namespace", "CRMID", "--id", "C1", "--json").json()
    [value] = [c["value"] for c in looked["computedAttributes"] if c["name"] == "purchases"]
    shown = cli("profile", "get", "--namespace", "CRMID", "--id", "C1")
    assert shown.code == 0, shown.stderr
    status = looked["segmentMembership"]["paris"]["status"]
    assert f"paris: {status}" in shown.stdout, shown.stdout
    assert f"purchases (count, _tenant.SystemComputedAttributes.purchases.value): {value} (computed" in shown.stdout, (
        shown.stdout
    )
    assert value == 2
