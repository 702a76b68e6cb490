"""The delivery engine against a real receiver that misbehaves: every profile is delivered once the
receiver lets it through, tries are counted, waits honoured, and what never gets through is a dead letter."""

from __future__ import annotations

import time
from typing import Any

from accord.destinations.spec import RequestContext
from accord.destinations.streaming.deadletters import MemoryDeadLetters
from accord.destinations.streaming.lanes import deliver
from tests.destinations.conftest import delivered_ids, destination, document, rows
from tests.http_receiver import HttpReceiver, answer, reset, slow_read

FLOW = RequestContext("acct", {"id": "f1", "name": "flow one"})
ONE_AT_A_TIME = document(limits={"requestsInFlight": 1, "failuresToOpen": 100})


def test_rows_are_gathered_into_requests_and_delivered_in_order_per_profile(receiver: HttpReceiver) -> None:
    result = deliver(destination(url=receiver.url), rows(95), FLOW)
    assert (result.rows_delivered, result.rows_failed, result.retries) == (95, 0, 0)
    got = receiver.requests("/profiles")
    assert all(r.method == "POST" and r.headers["content-type"] == "application/json" for r in got)
    assert all(len(r.json()["profiles"]) <= 10 for r in got) and result.requests == len(got)
    assert sorted(delivered_ids(receiver), key=int) == [str(i) for i in range(95)]
    assert {r.json()["flow"] for r in got} == {"flow one"}


def test_order_is_kept_per_profile(receiver: HttpReceiver) -> None:
    updates = [row | {"attributes": {"version": v}} for v in range(5) for row in rows(6)]
    receiver.then(answer(500), answer(503))  # the first requests fail once, and are tried again
    result = deliver(destination(url=receiver.url), updates, FLOW)
    assert result.rows_delivered == 30
    seen: dict[str, list[int]] = {}
    for request in receiver.requests("/profiles"):
        if request.status == 200:
            for profile in request.json()["profiles"]:
                seen.setdefault(profile["profileId"], []).append(profile["attributes"]["version"])
    assert seen == {str(i): [0, 1, 2, 3, 4] for i in range(6)}


def test_429_waits_as_long_as_retry_after_says(receiver: HttpReceiver) -> None:
    receiver.then(answer(429, Retry_After="2"))
    result = deliver(destination(ONE_AT_A_TIME, url=receiver.url), rows(3), FLOW)
    first, second = receiver.requests("/profiles")
    assert (first.status, second.status) == (429, 200)
    assert second.started - first.finished >= 1.9  # the policy alone would have waited 50 ms
    assert (result.rows_delivered, result.retries, result.requests) == (3, 1, 1)


def test_retry_after_as_an_http_date(receiver: HttpReceiver) -> None:
    from email.utils import formatdate

    receiver.then(answer(503, Retry_After=formatdate(time.time() + 3, usegmt=True)))
    result = deliver(destination(ONE_AT_A_TIME, url=receiver.url), rows(2), FLOW)
    first, second = receiver.requests("/profiles")
    assert (
        second.started - first.finished >= 1.0
    )  # an HTTP date has whole seconds, and the run may start late on a busy machine
    assert result.rows_delivered == 2 and result.retries == 1


def test_500_then_success_is_delivered_once_with_one_retry(receiver: HttpReceiver) -> None:
    receiver.then(answer(500))
    result = deliver(destination(ONE_AT_A_TIME, url=receiver.url), rows(4), FLOW)
    assert [r.status for r in receiver.requests("/profiles")] == [500, 200]
    assert sorted(delivered_ids(receiver)) == ["0", "1", "2", "3"]
    assert (result.requests, result.retries, result.rows_delivered, result.rows_failed) == (1, 1, 4, 0)
    assert result.dead_letters == []


def test_503_for_ever_ends_in_dead_letters_with_request_and_last_answer(receiver: HttpReceiver) -> None:
    receiver.then(default=answer(503, body=b'{"error": "down for maintenance"}'))
    letters = MemoryDeadLetters()
    result = deliver(destination(url=receiver.url), rows(12), FLOW, letters)
    assert (result.rows_delivered, result.rows_failed) == (0, 12)
    assert result.failures == {"HTTP 503": 12} and len(result.dead_letters) == len(letters.letters) == 2
    assert len(receiver.requests("/profiles")) == 2 * 3  # two requests, three tries each
    for letter in letters.letters:
        assert letter.attempts == 3
        assert letter.answer == {
            "status": 503,
            "body": '{"error": "down for maintenance"}',
            "error": None,
            "reason": "HTTP 503",
        }
        assert letter.request["method"] == "POST" and letter.request["url"] == f"{receiver.url}/profiles"
        sent = {r.body.decode() for r in receiver.requests("/profiles")}
        assert letter.request["body"] in sent  # the body as it was sent, byte for byte
    assert sorted(p for x in letters.letters for p in x.request["profileIds"]) == sorted(str(i) for i in range(12))


def test_a_receiver_that_answers_too_late_is_tried_again(receiver: HttpReceiver) -> None:
    receiver.then(answer(200, delay=3))  # longer than the account's 2 s timeout
    result = deliver(destination(ONE_AT_A_TIME, url=receiver.url), rows(2), FLOW)
    assert (result.rows_delivered, result.retries) == (2, 1)
    # the late answer's body had arrived: delivery is at least once, so the receiver holds it twice
    assert len(receiver.requests("/profiles")) == 2


def test_a_slow_reader_times_out_and_ends_in_a_dead_letter(receiver: HttpReceiver) -> None:
    receiver.then(default=slow_read())
    letters = MemoryDeadLetters()
    began = time.monotonic()
    result = deliver(destination(ONE_AT_A_TIME, url=receiver.url), rows(3), FLOW, letters)
    assert time.monotonic() - began < 15  # three tries of 2 s, not one byte a second for the whole body
    assert result.rows_failed == 3 and receiver.requests("/profiles") == []  # no body was read whole
    [letter] = letters.letters
    assert letter.attempts == 3 and "Timeout" in (letter.answer or {}).get("error", "")


def test_a_connection_reset_mid_body_is_tried_again(receiver: HttpReceiver) -> None:
    receiver.then(reset())
    result = deliver(destination(ONE_AT_A_TIME, url=receiver.url), rows(5), FLOW)
    cut, whole = receiver.requests("/profiles", complete=False)
    assert not cut.complete and whole.complete and len(cut.body) == len(whole.body) // 2
    assert (result.rows_delivered, result.retries) == (5, 1)
    assert delivered_ids(receiver) == ["0", "1", "2", "3", "4"]


def test_a_final_refusal_is_not_tried_again(receiver: HttpReceiver) -> None:
    receiver.then(default=answer(400, body=b'{"error": "bad field"}'))
    letters = MemoryDeadLetters()
    result = deliver(destination(ONE_AT_A_TIME, url=receiver.url), rows(2), FLOW, letters)
    assert len(receiver.requests("/profiles")) == 1 and result.retries == 0
    assert result.failures == {"HTTP 400": 2} and letters.letters[0].answer["status"] == 400  # type: ignore[index]


def test_a_partial_batch_leaves_when_it_is_old_enough(receiver: HttpReceiver) -> None:
    import asyncio

    from accord.destinations.streaming.lanes import Lane

    async def scenario() -> float:
        lane = Lane(destination(ONE_AT_A_TIME, url=receiver.url), FLOW)
        lane.start()
        await lane.put(rows(3))
        began = time.monotonic()
        while not receiver.requests("/profiles"):
            await asyncio.sleep(0.02)
        waited = time.monotonic() - began
        await lane.close()
        return waited

    waited = asyncio.run(scenario())
    assert 0.15 <= waited < 2  # max batch age 0.2 s, then the three profiles left in one request
    assert len(receiver.requests("/profiles")[0].json()["profiles"]) == 3


def test_rows_from_a_slow_source_leave_at_the_max_batch_age_not_when_the_source_ends(receiver: HttpReceiver) -> None:
    import asyncio

    from accord.destinations.streaming.lanes import deliver_async

    began = time.monotonic()

    async def slowly() -> Any:
        for row in rows(20):  # a row every 0.1 s: two seconds in all
            yield row
            await asyncio.sleep(0.1)

    result = asyncio.run(deliver_async(destination(ONE_AT_A_TIME, url=receiver.url), slowly(), FLOW))
    first = receiver.requests("/profiles")[0]
    assert first.started - began < 1.0  # max batch age 0.2 s: not held until the source ends
    assert result.rows_delivered == 20 and len(receiver.requests("/profiles")) > 2


def test_an_open_circuit_stops_sending_and_files_the_rest_at_once(receiver: HttpReceiver) -> None:
    receiver.then(default=answer(503))
    breaker = document(limits={"requestsInFlight": 1, "failuresToOpen": 4, "openSeconds": 60})
    letters = MemoryDeadLetters()
    began = time.monotonic()
    result = deliver(destination(breaker, url=receiver.url), rows(50), FLOW, letters)
    assert time.monotonic() - began < 3  # five requests of three tries each would take longer
    assert len(receiver.requests("/profiles")) == 4  # three tries of the first request, one of the second
    assert result.rows_failed == 50 and len(letters.letters) == 5
    assert result.failures == {"HTTP 503": 10, "circuit open: 4 tries failed in a row, the last: HTTP 503": 40}
    assert [x.attempts for x in letters.letters] == [3, 1, 0, 0, 0]  # tries made; the breaker refused the rest
    assert letters.letters[4].answer == {
        "status": None,
        "body": "",
        "error": None,
        "reason": "circuit open: 4 tries failed in a row, the last: HTTP 503",
    }


def test_a_follower_holds_requests_while_the_circuit_is_open_and_sends_them_after(receiver: HttpReceiver) -> None:
    receiver.then(answer(503), answer(503), default=answer(200))
    breaker = document(limits={"requestsInFlight": 1, "failuresToOpen": 2, "openSeconds": 1},
                       retry={"attempts": 3, "initialWaitSeconds": 0.05})  # fmt: skip
    result = deliver(destination(breaker, url=receiver.url), rows(30), FLOW, wait_when_open=True)
    statuses = [r.status for r in receiver.requests("/profiles")]
    assert statuses[:2] == [503, 503] and set(statuses[2:]) == {200}
    opened = receiver.requests("/profiles")
    assert opened[2].started - opened[1].finished >= 0.9  # it waited for the breaker, then tried again
    assert (result.rows_delivered, result.rows_failed, result.dead_letters) == (30, 0, [])
