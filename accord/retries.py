"""One retry policy for every HTTP delivery Accord makes (alert webhooks, streaming destinations), on tenacity.

What is worth another try: a network error (refused, reset, timed out, cut mid-answer) and the answers
408, 429 and 5xx; any other answer is the receiver's final word. The wait grows exponentially from
`initial_wait` with random jitter (so that many senders refused together do not come back together),
capped at `max_wait`; when an answer says `Retry-After` (seconds or an HTTP date), that wait is taken
instead, up to `max_retry_after`. A caller raises `RetryableAnswer` for an answer worth another try and
gets it back, or the last network error, when the tries are used up (`reraise`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import tenacity
from tenacity.wait import wait_base, wait_exponential_jitter

if TYPE_CHECKING:
    import httpx

RETRYABLE_STATUSES = frozenset({408, 429})
"""Answers below 500 that may pass: a request timeout and too many requests (every 5xx also may)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is tried again."""

    attempts: int = 4
    """Tries in all, the first included."""
    initial_wait: float = 1.0
    """Seconds before the second try; each later wait doubles (plus jitter)."""
    max_wait: float = 30.0
    """The longest wait between two tries that the back-off reaches."""
    max_retry_after: float = 300.0
    """The longest `Retry-After` honoured; a longer one is shortened to this."""


class RetryableAnswer(Exception):
    """An answer worth another try (408, 429, 5xx); the response is kept for the record of the last try."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def worth_retrying(status: int) -> bool:
    """Whether an answer with this status may pass if the request is sent again."""
    return status in RETRYABLE_STATUSES or status >= 500


def transient(exc: BaseException) -> bool:
    """Whether a failure may pass: a retryable answer or a network error (not a malformed URL or request)."""
    import httpx

    return isinstance(exc, RetryableAnswer | httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """The wait an answer asks for in `Retry-After`, in seconds (0 for a date past), or None when it asks none."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # a malformed header is ignored: the back-off applies
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _WaitHonouringRetryAfter(wait_base):
    """Exponential back-off with jitter, unless the last answer said how long to wait."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.backoff = wait_exponential_jitter(
            multiplier=policy.initial_wait, max=policy.max_wait, jitter=policy.initial_wait
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(failure, RetryableAnswer):
            asked = retry_after(failure.response)
            if asked is not None:
                return min(asked, self.policy.max_retry_after)
        return float(self.backoff(retry_state))


def _settings(policy: RetryPolicy, on_retry: Callable[[tenacity.RetryCallState], None] | None) -> dict[str, object]:
    return {
        "stop": tenacity.stop_after_attempt(max(1, policy.attempts)),
        "wait": _WaitHonouringRetryAfter(policy),
        "retry": tenacity.retry_if_exception(transient),
        "reraise": True,
        "before_sleep": on_retry,
    }


def retrying(
    policy: RetryPolicy, on_retry: Callable[[tenacity.RetryCallState], None] | None = None
) -> tenacity.Retrying:
    """Tries of a blocking call: `for attempt in retrying(policy): with attempt: ...`."""
    return tenacity.Retrying(**_settings(policy, on_retry))  # type: ignore[arg-type]


def async_retrying(
    policy: RetryPolicy, on_retry: Callable[[tenacity.RetryCallState], None] | None = None
) -> tenacity.AsyncRetrying:
    """Tries of a coroutine: `async for attempt in async_retrying(policy): with attempt: ...`."""
    return tenacity.AsyncRetrying(**_settings(policy, on_retry))  # type: ignore[arg-type]
