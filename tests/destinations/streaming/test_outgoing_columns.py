"""Outgoing profiles as columns (`OutgoingProfiles`): what slicing, grouping and joining give is what the
same operations on a list of `OutgoingProfile`s give, for any mix of rows given as text and as dicts."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.destinations.outgoing import OutgoingProfile, OutgoingProfiles
from accord.destinations.spec import RequestContext
from accord.destinations.streaming.lanes import deliver
from tests.destinations.conftest import destination, document, rows

FLOW = RequestContext("acct", {"id": "f1", "name": "flow one"})

IDS = st.sampled_from([str(n) for n in range(12)])
PROFILES = st.lists(
    st.one_of(
        st.builds(lambda i, n: OutgoingProfile(i, json.dumps({"profileId": i, "identities": {"E": ["x"] * n}}),
                                               None, n), IDS, st.integers(0, 3)),
        st.builds(lambda i, n: OutgoingProfile.of_row({"profileId": i, "attributes": {},  # type: ignore[typeddict-item]
                                                       "identities": {"E": ["y"] * n}, "segments": {}}),
                  IDS, st.integers(0, 3)),
    ),
    max_size=40,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(PROFILES, st.integers(1, 5), st.integers(0, 45), st.integers(0, 45))
def test_columns_behave_as_the_list_of_profiles_they_hold(profiles: list[OutgoingProfile], groups: int,
                                                           start: int, stop: int) -> None:  # fmt: skip
    columns = OutgoingProfiles.of(profiles)
    assert list(columns) == profiles and len(columns) == len(profiles)
    assert list(columns[start:stop]) == profiles[start:stop]
    assert [columns[i] for i in range(len(profiles))] == profiles
    keys = [int(p.profile_id) % groups for p in profiles]
    grouped = columns.grouped(keys, groups)
    assert len(grouped) == groups
    for key, group in enumerate(grouped):  # each profile in its key's group, in the order it came
        assert list(group) == [p for p, k in zip(profiles, keys, strict=True) if k == key]
    assert sorted(map(repr, OutgoingProfiles.joined(grouped))) == sorted(map(repr, profiles))  # every one, once
    assert list(OutgoingProfiles.joined([columns[:start], columns[start:]])) == profiles
    assert columns.identifier_counts() == [p.identifiers for p in profiles]
    assert [json.loads(t) for t in columns.json_texts()] == [p.row for p in profiles]


def test_batches_of_columns_and_loose_rows_are_delivered_alike(receivers: Any) -> None:
    loose, batched = receivers(), receivers()
    sample = rows(35) + rows(5)  # five profiles twice: every row counts, in the request that carries it
    doc = document(limits={"requestsInFlight": 1})
    one = deliver(destination(doc, url=loose.url), sample, FLOW)
    texts = [OutgoingProfile(r["profileId"], json.dumps(r, sort_keys=True), None, 1) for r in sample]
    mixed: list[Any] = [
        OutgoingProfiles.of(texts[:12]),
        *sample[12:20],
        OutgoingProfiles.of(texts[20:33]),
        *sample[33:],
    ]
    other = deliver(destination(doc, url=batched.url), mixed, FLOW)
    assert one.rows_delivered == other.rows_delivered == 40 and one.rows_failed == other.rows_failed == 0
    assert [r.json() for r in loose.requests("/profiles")] == [r.json() for r in batched.requests("/profiles")]
    assert [len(r.json()["profiles"]) for r in batched.requests("/profiles")] == [10, 10, 10, 10]
