"""Isolation and pace: each destination has its own lane, so one that is down or slow delays no other,
and a destination limited to N requests a second never receives more (timestamps taken by the receiver)."""

from __future__ import annotations

import time
from collections.abc import Callable

from accord.destinations.spec import RequestContext
from accord.destinations.streaming.lanes import deliver
from accord.destinations.streaming.service import StreamingDeliveries
from tests.destinations.conftest import delivered_ids, destination, document, rows
from tests.http_receiver import HttpReceiver, answer, slow_read

FLOW = RequestContext("acct", {"id": "f1", "name": "paced"})


def test_a_destination_down_and_one_slow_do_not_delay_two_healthy_ones(
    receivers: Callable[[], HttpReceiver],
) -> None:
    down, slow, first, second = receivers(), receivers(), receivers(), receivers()
    down.then(default=answer(503))
    slow.then(default=slow_read())
    patient = document(retry={"attempts": 5, "initialWaitSeconds": 1, "maxWaitSeconds": 5})
    deliveries = StreamingDeliveries()
    try:
        for key, server in (("down", down), ("slow", slow), ("first", first), ("second", second)):
            config = {"url": server.url, "timeoutSeconds": 30 if key == "slow" else 5}
            deliveries.open(key, destination(patient, **config), RequestContext(key, {"name": key}))
        began = time.monotonic()
        for wave in range(5):  # rows keep coming for all four, as memberships change
            for key in ("down", "slow", "first", "second"):
                deliveries.submit(key, rows(40, start=wave * 40))
            time.sleep(0.1)
        deadline = began + 5
        while time.monotonic() < deadline and not all(len(delivered_ids(s)) == 200 for s in (first, second)):
            time.sleep(0.05)
        for server in (first, second):
            got = server.requests("/profiles")
            assert sorted(delivered_ids(server), key=int) == [str(i) for i in range(200)]
            assert max(r.finished for r in got) - began < 3  # on time: the gatherer's 0.2 s and the network
        assert [r for r in down.requests("/profiles") if r.status == 200] == []  # still trying, as it should
        assert slow.requests("/profiles") == []  # nothing read whole there yet
        assert deliveries.stats("first").rows_delivered == deliveries.stats("second").rows_delivered == 200
        healthy = [deliveries.close(key) for key in ("first", "second")]
        assert all((r.rows_delivered, r.rows_failed, r.retries) == (200, 0, 0) for r in healthy)
    finally:
        deliveries.stop(drain=False)  # the two others would still be trying: dropped, as when `accord serve` stops


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
