"""Errors of the streaming context (codes `STREAM-*`)."""

from __future__ import annotations

from accord.errors import AccordError, InvalidInputError, NotFoundError, TooLargeError, TransientError


class LogClosedError(TransientError):
    code = "STREAM-0503-503"

    def __init__(self) -> None:
        super().__init__("the event log is closing: send the message again in a moment")


class BusyError(TransientError):
    """The processor lags past its bound: inlets refuse new messages for a while (HTTP 429)."""

    code = "STREAM-0429-429"
    kind = "busy"

    def __init__(self, lag: int, retry_after: int) -> None:
        super().__init__(
            f"too many messages are waiting to be processed ({lag:,}): send again in {retry_after} s",
            lag=lag,
            retry_after=retry_after,
        )
        self.retry_after = retry_after


class UnknownInletError(NotFoundError):
    code = "STREAM-0404-404"

    def __init__(self, inlet: str) -> None:
        super().__init__(f"no streaming inlet {inlet!r}: `accord streaming inlets` lists them", inlet=inlet)


class MessageTooLargeError(TooLargeError):
    code = "STREAM-0413-413"

    def __init__(self, size: int, limit: int, where: str = "the message") -> None:
        super().__init__(f"{where} is {size:,} bytes, over the limit of {limit:,}", size=size, limit=limit)


class MessageError(InvalidInputError):
    """A message that cannot be accepted; the message says which field of which message."""

    code = "STREAM-0400-400"


__all__ = ["AccordError", "BusyError", "LogClosedError", "MessageError", "MessageTooLargeError", "UnknownInletError"]
