"""The shared retry policy: which answers are worth another try, and how long `Retry-After` asks to wait."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from accord.retries import RetryableAnswer, RetryPolicy, retry_after, retrying, worth_retrying

NOW = datetime(2030, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "again"),
    [
        (408, True),
        (429, True),
        (500, True),
        (503, True),
        (599, True),
        (400, False),
        (401, False),
        (404, False),
        (409, False),
        (302, False),
    ],
)
def test_answers_worth_another_try(status: int, again: bool) -> None:
    assert worth_retrying(status) is again


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("Wed, 01 May 2030 12:00:30 GMT", 30.0),
        ("Wed, 01 May 2030 11:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(header: str, seconds: float | None) -> None:
    response = httpx.Response(429, headers={"Retry-After": header} if header else {})
    assert retry_after(response, NOW) == seconds


def test_a_long_retry_after_is_shortened_and_tries_stop_at_the_policy() -> None:
    policy = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.02, max_retry_after=0.05)
    waits: list[float] = []
    tries = 0
    with pytest.raises(RetryableAnswer):
        for attempt in retrying(policy, on_retry=lambda state: waits.append(state.upcoming_sleep)):
            with attempt:
                tries += 1
                raise RetryableAnswer(httpx.Response(503, headers={"Retry-After": "3600"}))
    assert tries == 3 and waits == [0.05, 0.05]
