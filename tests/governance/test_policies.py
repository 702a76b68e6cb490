"""What policies forbid of a use of data: the labels of all its pieces together, each enabled policy whose
action the use performs, and the lineage of the pieces that carried the labels that made it match."""

from __future__ import annotations

import pytest

from accord.governance import CORE_LABELS, Labelled, PolicyExpressionError, policy, violations

KNOWN = set(CORE_LABELS)
EMAIL = Labelled(frozenset({"I1"}), ("field personalEmail.address", "dataset crm", "audience buyers"))
CITY = Labelled(frozenset({"S2", "C5"}), ("field homeAddress.city", "dataset crm", "audience buyers"))
PAGES = Labelled(frozenset({"C4"}), ("dataset web", "audience viewers"))
PLAIN = Labelled(frozenset(), ("field person.name.firstName", "dataset crm", "audience buyers"))


def test_a_policy_is_broken_by_the_labels_of_all_the_pieces_together_with_their_lineage() -> None:
    targeting = policy("no targeting of identified people by interest", "emailTargeting", "C5 AND I1", KNOWN)
    (broken,) = violations([targeting], {"emailTargeting", "exportToThirdParty"}, [EMAIL, CITY, PLAIN])
    assert broken.labels == {"C5", "I1"}  # neither piece alone matches: together they do
    assert broken.paths == (EMAIL.path, CITY.path)  # the pieces that carried them, not the plain one
    assert broken.to_dict() == {
        "policy": "no targeting of identified people by interest", "marketingAction": "emailTargeting",
        "expression": "C5 AND I1", "labels": ["C5", "I1"], "lineage": [list(EMAIL.path), list(CITY.path)]}  # fmt: skip
    assert violations([targeting], {"emailTargeting"}, [EMAIL, PLAIN]) == []  # no C5


def test_only_enabled_policies_of_the_actions_performed_are_enforced() -> None:
    policies = [
        policy("a", "onsiteAdvertising", "C4", KNOWN),
        policy("b", "emailTargeting", "C4 OR C12", KNOWN, enabled=False),  # as the core policies ship
        policy("c", "emailTargeting", "C4 OR C12", KNOWN),
        policy("d", "emailTargeting", "NOT I1", KNOWN),
    ]
    found = violations(policies, {"emailTargeting"}, [PAGES, EMAIL])
    assert [v.policy for v in found] == ["c"]  # d: I1 is there, so NOT I1 does not match
    assert found[0].labels == {"C4"} and found[0].paths == (PAGES.path,)
    assert violations(policies, set(), [PAGES]) == []
    assert violations(policies, {"emailTargeting"}, []) == []  # a use of no data
    # matched only by what the data lacks: no label to name, every piece in the lineage
    (unnamed,) = violations(policies[3:], {"emailTargeting"}, [PAGES, PLAIN])
    assert unnamed.labels == set() and unnamed.paths == (PAGES.path, PLAIN.path)


def test_a_policy_over_labels_that_do_not_exist_is_refused_with_each() -> None:
    with pytest.raises(PolicyExpressionError) as refused:
        policy("x", "emailTargeting", "C4 OR C44 OR I3", KNOWN)
    assert [p["column"] for p in refused.value.problems] == [7, 14]
