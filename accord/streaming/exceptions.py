"""Errors of the streaming context (codes `STREAM-*`)."""

from __future__ import annotations

from accord.errors import AccordError, ConflictError, InvalidInputError, NotFoundError, TooLargeError, TransientError


class LogClosedError(TransientError):
    code = "STREAM-0503-503"

    def __init__(self) -> None:
        super().__init__("the event log is closing: send the message again in a moment")


class LogUnavailableError(TransientError):
    """The event log's server (NATS) cannot be reached or did not answer in time: nothing was kept by this
    call, or not known to be; sending the same messages again is safe (the log is idempotent by message id)."""

    code = "STREAM-0504-503"

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"the event log at {url} is unavailable ({reason}): check that the NATS server runs there, "
            "then send the messages again (with the same ids, so that none is kept twice)",
            url=url,
            reason=reason,
        )


class LogConfigurationError(ConflictError):
    """The log's stream exists on the server with settings that cannot keep Accord's promises."""

    code = "STREAM-0409-409"


class BusyError(TransientError):
    """The processor lags past its bound: inlets refuse new messages for a while (HTTP 429)."""

    code = "STREAM-0429-429"
    kind = "busy"

    def __init__(self, lag: int, retry_after: int) -> None:
        super().__init__(
            f"too many messages are waiting to be processed ({lag:,}): send again in {retry_after} s",
            lag=lag,
            retryAfter=retry_after,
        )
        self.retry_after = retry_after


class InletBusyError(TransientError):
    """One inlet (one write key) has as many requests in progress, and waiting, as it may (HTTP 429); the
    other inlets' requests go on."""

    code = "STREAM-0430-429"
    kind = "busy"

    def __init__(self, inlet: str, most: int, queue: int) -> None:
        super().__init__(f"inlet {inlet[:16]} has {most} requests in progress and {queue} waiting already, as "
                         "many as one inlet may: send again in 1 s (or send messages in batches)", inlet=inlet[:16],
                         retryAfter=1)  # fmt: skip


class WrongContentTypeError(InvalidInputError):
    code = "STREAM-0415-415"
    kind = "unsupported_media"

    def __init__(self, given: str) -> None:
        super().__init__(f"Content-Type {given[:60]!r} is not taken: send JSON as `Content-Type: application/json`",
                         contentType=given[:60])  # fmt: skip


class SlowBodyError(InvalidInputError):
    code = "STREAM-0408-408"
    kind = "too_slow"

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the request's body did not arrive within {seconds:g} s: send it whole, at once",
                         seconds=seconds)  # fmt: skip


class UnknownInletError(NotFoundError):
    code = "STREAM-0404-404"

    def __init__(self, inlet: str) -> None:
        super().__init__(f"no streaming inlet {inlet!r}: `accord streaming inlets` lists them", inlet=inlet)


class MessageTooLargeError(TooLargeError):
    code = "STREAM-0413-413"

    def __init__(self, size: int, limit: int, where: str = "the message", *, at_least: bool = False) -> None:
        said = f"more than {limit:,} bytes" if at_least else f"{size:,} bytes"  # an unzipped body is not read whole
        super().__init__(f"{where} is {said}, over the limit of {limit:,}", size=size, limit=limit)


class MessageError(InvalidInputError):
    """A message that cannot be accepted; the message says which field of which message."""

    code = "STREAM-0400-400"


__all__ = [
    "AccordError",
    "BusyError",
    "InletBusyError",
    "LogClosedError",
    "LogConfigurationError",
    "LogUnavailableError",
    "MessageError",
    "MessageTooLargeError",
    "SlowBodyError",
    "UnknownInletError",
    "WrongContentTypeError",
]
