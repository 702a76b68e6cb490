"""Activation flows before they are saved (the workspace's wizard): what a flow may map, a draft checked whole
with what the policies would say of it, nothing stored; and dead letters counted and listed a page at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord import destinations, governance
from accord.access import AllowedRoots
from accord.errors import DocumentError
from accord.sources import SecretBox
from accord.workspace import Workspace
from tests.destinations.conftest import FLOW, create_flow
from tests.destinations.test_streaming_activation import account
from tests.http_receiver import HttpReceiver, answer


def test_a_flow_may_map_the_attributes_that_hold_one_value_and_the_identities_the_destination_takes(
    people: Workspace, outbox: Path
) -> None:
    with people.catalog.session() as s:
        local = destinations.exportable_sources(s, "prod", destinations.destination_spec("local"))
        ads = destinations.exportable_sources(s, "prod", destinations.destination_spec("ads"))
    assert {"identityMap.Email", "identityMap.CRMID"} <= set(local["identities"])
    assert "person.name.firstName" in local["attributes"] and "homeAddress.city" in local["attributes"]
    assert "homeAddress" not in local["attributes"]  # an object: its fields are mapped one by one
    spec = destinations.destination_spec("ads")
    assert spec.namespaces is not None and {i.removeprefix("identityMap.") for i in ads["identities"]} <= set(
        spec.namespaces)  # fmt: skip
    document = {**FLOW, "mapping": [{"source": s, "target": f"t{i}"} for i, s in enumerate(local["attributes"][:50])]}
    with people.catalog.session() as s:  # every one of them is accepted by the check that saving makes
        assert destinations.evaluate_draft(s, "prod", "every", "outbox", document)["allowed"] is True


def test_a_draft_is_checked_whole_and_nothing_is_stored(people: Workspace, outbox: Path) -> None:
    create_flow(people, "taken", FLOW)
    bad = {**FLOW, "audiences": [{"segment": "parisians", "schedule": {"frequency": "daily"}}],
           "mapping": [{"source": "homeAddress.cty", "target": "city"}]}  # fmt: skip
    with people.catalog.session() as s, pytest.raises(DocumentError) as raised:
        destinations.evaluate_draft(s, "prod", "taken", "outbox", bad)
    paths = [p["path"] for p in raised.value.problems]
    assert paths == ["name", "audiences[0].schedule.time", "mapping[0].source"], paths
    assert "did you mean homeAddress.city" in raised.value.message
    with people.catalog.session() as s, pytest.raises(DocumentError) as raised:
        destinations.evaluate_draft(s, "prod", "<script>", "outbox", {**FLOW, "mapping": []})
    assert [p["path"] for p in raised.value.problems] == ["name", "mapping"]
    unmapped = {"audiences": [{"segment": "parisians", "schedule": {"frequency": "daily"}}, {"segment": "nobody"}]}
    with people.catalog.session() as s, pytest.raises(DocumentError) as raised:  # a wizard's first steps
        destinations.evaluate_draft(s, "prod", "fresh", "outbox", unmapped)
    assert [p["path"] for p in raised.value.problems] == ["mapping", "audiences[0].schedule.time",
                                                          "audiences[1].segment"]  # fmt: skip
    with people.catalog.session() as s:
        said = destinations.evaluate_draft(s, "prod", "fresh", "outbox", FLOW)
        assert [f["name"] for f in destinations.list_flows(s, "prod")] == ["taken"]  # the draft was not saved
    assert said == {"activation": "fresh", "destination": "outbox", "marketingActions": [], "allowed": True,
                    "violations": [], "consents": []}  # fmt: skip


def test_a_draft_says_which_policies_it_breaks_and_which_consents_apply(people: Workspace, outbox: Path) -> None:
    with people.catalog.session() as s:
        governance.add_labels(s, "prod", "crm", ["C2"], "personalEmail.address")
        governance.create_policy(s, "prod", "no-third-party", "exportToThirdParty", "C2", enabled=True)
    email = {**FLOW, "mapping": [{"source": "personalEmail.address", "target": "email"}],
             "marketingActions": ["exportToThirdParty"], "consentChannel": "email"}  # fmt: skip
    with people.catalog.session() as s:
        said = destinations.evaluate_draft(s, "prod", "paris", "outbox", email)
    assert said["allowed"] is False and said["marketingActions"] == ["exportToThirdParty"]
    [violation] = said["violations"]
    assert violation["policy"] == "no-third-party" and violation["lineage"] == [[
        "field personalEmail.address", "dataset crm", "activation paris", "destination outbox (local)"]]  # fmt: skip
    assert said["consents"] == ["consents.marketing.email.val", "consents.share.val"]
    with people.catalog.session() as s, pytest.raises(governance.PolicyViolationError):  # saving it is refused
        destinations.create_flow(s, "prod", "paris", "outbox", email)


def test_dead_letters_are_counted_and_listed_a_page_at_a_time(people: Workspace, receiver: HttpReceiver) -> None:
    account(people, "hook", "http", {"url": f"{receiver.url}/in"})
    create_flow(people, "paris", FLOW, account="hook")
    with people.catalog.session() as s:
        assert destinations.count_dead_letters(s, "prod", "paris") == {"total": 0, "pending": 0}
    receiver.then(default=answer(503))
    destinations.run_activation(people, "prod", "paris")
    with people.catalog.session() as s:
        every = destinations.list_dead_letters(s, "prod", "paris")
        counted = destinations.count_dead_letters(s, "prod", "paris")
        first = destinations.list_dead_letters(s, "prod", "paris", pending=True, limit=1)
    assert counted == {"total": len(every), "pending": len(every)} and len(every) >= 1
    assert [letter["id"] for letter in first] == [every[0]["id"]]  # the oldest
    receiver.then(default=answer(200))
    with people.catalog.session() as s:
        destinations.replay_dead_letters(s, SecretBox(people.settings.home), "prod", "paris", every[0]["id"],
                                         AllowedRoots.from_settings(people.settings))  # fmt: skip
    with people.catalog.session() as s:
        assert destinations.count_dead_letters(s, "prod", "paris") == {"total": len(every), "pending": len(every) - 1}
