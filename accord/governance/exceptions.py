"""The governance context's errors."""

from __future__ import annotations

from typing import Any

from accord.errors import ConflictError, DocumentError, InvalidInputError, NotFoundError


class PolicyExpressionError(InvalidInputError):
    """A policy expression that cannot be read: every problem at once, each with its column."""

    code = "POLICY-0400-400"

    def __init__(self, text: str, problems: list[dict[str, Any]]) -> None:
        said = "; ".join(f"column {p['column']}: {p['message']}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"the policy expression {text[:100]!r} cannot be read: {said}{more}", expression=text[:1000],
                         problems=problems)  # fmt: skip
        self.problems = problems


class PrivacyRequestError(DocumentError):
    """A privacy request whose identities cannot be taken: every problem at once, each with its place."""

    code = "PRIVACY-0400-400"

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__("the privacy request", problems)


class TooManyIdentitiesError(InvalidInputError):
    """More identities in one privacy request than it may hold: the caller splits it."""

    code = "PRIVACY-0401-400"

    def __init__(self, count: int, most: int) -> None:
        super().__init__(f"a privacy request holds at most {most:,} identities; this one holds {count:,}: split it "
                         "into several requests", count=count, most=most)  # fmt: skip


class PrivacyJobNotFoundError(NotFoundError):
    """No privacy job of that id in the sandbox."""

    code = "PRIVACY-0404-404"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no privacy job {job_id!r} in this sandbox: `accord privacy jobs` lists them", job=job_id)


class NoBundleError(NotFoundError):
    """A job that has no bundle to give: a delete job, or an access job whose bundle a later delete removed."""

    code = "PRIVACY-0405-404"

    def __init__(self, job_id: str, why: str) -> None:
        super().__init__(f"privacy job {job_id} has no bundle: {why}", job=job_id)


class BundleNotReadyError(ConflictError):
    """An access job that has not finished (or failed): its bundle is not written."""

    code = "PRIVACY-0409-409"

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"privacy job {job_id} is {status}: its bundle is written when it completes", job=job_id,
                         status=status)  # fmt: skip


__all__ = [
    "BundleNotReadyError",
    "NoBundleError",
    "PolicyExpressionError",
    "PrivacyJobNotFoundError",
    "PrivacyRequestError",
    "TooManyIdentitiesError",
]
