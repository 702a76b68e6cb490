"""Pace: a destination limited to N requests a second never receives more (timestamps taken by the receiver).
That one down or slow delays no other is tested where it happens, under `accord serve`
(tests/destinations/test_following.py)."""

from __future__ import annotations

from accord.destinations.spec import RequestContext
from accord.destinations.streaming.lanes import deliver
from tests.destinations.conftest import destination, document, rows
from tests.http_receiver import HttpReceiver

FLOW = RequestContext("acct", {"id": "f1", "name": "paced"})


def test_a_destination_never_exceeds_its_requests_per_second(receiver: HttpReceiver) -> None:
    paced = document(aggregation={"maxProfilesPerRequest": 1, "maxBatchAgeSeconds": 0.01},
                     limits={"requestsInFlight": 4, "requestsPerSecond": 5})  # fmt: skip
    result = deliver(destination(paced, url=receiver.url), rows(16), FLOW)
    stamps = sorted(r.started for r in receiver.requests("/profiles"))
    assert result.rows_delivered == 16 and len(stamps) == 16
    # any six requests in a row span at least a second: no window of one second holds more than five
    assert min(stamps[i + 5] - stamps[i] for i in range(len(stamps) - 5)) >= 0.95  # 50 ms for the network
    assert stamps[-1] - stamps[0] < 4.5  # and the pace is kept, not slower: 16 requests at 5 a second


def test_an_account_sets_its_own_pace_in_rows_per_second(receiver: HttpReceiver) -> None:
    paced = document(aggregation={"maxProfilesPerRequest": 10, "maxBatchAgeSeconds": 0.01},
                     limits={"requestsInFlight": 1})  # fmt: skip
    result = deliver(destination(paced, url=receiver.url, rowsPerSecond=20), rows(60), FLOW)
    stamps = [r.started for r in receiver.requests("/profiles")]
    assert result.rows_delivered == 60 and len(stamps) == 6
    assert stamps[-1] - stamps[0] >= 1.9  # 60 profiles at 20 a second: the first 20 at once, then 2 s
