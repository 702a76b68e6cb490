"""The one error family of Accord.

Every error a user can see is an `AccordError` with a stable `code`, a human `message` that says
what is wrong and what to do, and `details` (a JSON-able dict: paths, names, positions). Adapters
(API, CLI) map the kinds below to HTTP statuses and exit codes in one place each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_SECRET_KEYS = ("password", "secret", "token", "key", "credential")


def _scrub(details: Mapping[str, Any]) -> dict[str, Any]:
    """Hide values whose key names a secret, at any depth, so that a detail never leaks one."""
    return {k: "***" if any(s in k.lower() for s in _SECRET_KEYS) and isinstance(v, str) else _scrubbed(v)
            for k, v in details.items()}  # fmt: skip


def _scrubbed(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _scrub(value)
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    return value


class AccordError(Exception):
    """Base of every error Accord raises on purpose."""

    code = "ACCORD-0000-500"
    kind = "internal"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = _scrub(details)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class TransientError(AccordError):
    """Mixin kind: trying again later may succeed."""

    kind = "transient"


class InvalidInputError(AccordError):
    """The caller's input is wrong; the message says where."""

    code = "ACCORD-0400-400"
    kind = "invalid"


class NotFoundError(AccordError):
    """A named object does not exist; `details` lists what does, where useful."""

    code = "ACCORD-0404-404"
    kind = "not_found"


class ConflictError(AccordError):
    """The request contradicts what is stored (a duplicate name, a breaking change)."""

    code = "ACCORD-0409-409"
    kind = "conflict"


class AuthenticationError(AccordError):
    """No valid API token was given."""

    code = "ACCORD-0401-401"
    kind = "unauthenticated"


class PermissionDeniedError(AccordError):
    """The caller is known but may not do this."""

    code = "ACCORD-0403-403"
    kind = "forbidden"


class EngineMemoryError(AccordError):
    """The engine could not keep a query's data within its memory limit, even by spilling."""

    code = "ACCORD-0507-500"
    kind = "internal"

    def __init__(self) -> None:
        super().__init__(
            "the engine ran out of memory within its limit: raise ACCORD_DUCKDB_MEMORY_LIMIT (setting "
            "`duckdb_memory_limit`), or lower ACCORD_DUCKDB_THREADS (each thread needs memory of its own)"
        )


def known_failure(exc: BaseException) -> AccordError | None:
    """An error of a library that has a meaning for users (the engine out of memory), as Accord's own."""
    if isinstance(exc, AccordError):
        return exc
    if type(exc).__name__ == "OutOfMemoryException" and "duckdb" in type(exc).__module__:
        return EngineMemoryError()
    return None


class TooLargeError(AccordError):
    """A body or file is larger than a configured limit."""

    code = "ACCORD-0413-413"
    kind = "too_large"


class DocumentError(InvalidInputError):
    """A user document (schema, mapping, ...) with every problem found in it, each with its path."""

    def __init__(self, what: str, problems: list[dict[str, Any]], *, code: str | None = None) -> None:
        lines = "; ".join(f"{p.get('path') or '(root)'}{_position(p)}: {p['message']}" for p in problems)
        super().__init__(f"{what} is invalid: {lines}", code=code, problems=problems)
        self.problems = problems


def _position(problem: Mapping[str, Any]) -> str:
    """' (line 2, column 7)' for a problem placed in a text, else ''."""
    return f" (line {problem['line']}, column {problem['column']})" if "line" in problem and "column" in problem else ""


def did_you_mean(name: str, candidates: list[str]) -> str:
    """'; did you mean a, b?' for the candidates closest to a misspelt name, or ''."""
    close = nearest(name, candidates)
    return f"; did you mean {', '.join(close)}?" if close else ""


def nearest(name: str, candidates: list[str], limit: int = 3) -> list[str]:
    """The candidates closest to a misspelt name, for 'did you mean' hints."""
    import difflib

    return difflib.get_close_matches(name, candidates, n=limit, cutoff=0.5)


def problem_message(error: Mapping[str, Any]) -> str:
    """A validation error's message, without the kind of error pydantic puts before what a check said."""
    message = str(error["msg"])
    for lead in ("Value error, ", "Assertion failed, "):
        if message.startswith(lead):
            return message[len(lead) :]
    return message


def validation_problems(errors: Iterable[Mapping[str, Any]], prefix: str = "") -> list[dict[str, Any]]:
    """Pydantic's validation errors as Accord's problems: each with its path (`audiences[0].schedule.time`, list
    positions in brackets, as the problems Accord finds itself say them) and its message."""
    return [{"path": prefix + _path(e["loc"]), "message": problem_message(e)} for e in errors]


def _path(location: Iterable[Any]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
