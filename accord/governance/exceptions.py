"""The governance context's errors."""

from __future__ import annotations

from typing import Any

from accord.errors import InvalidInputError


class PolicyExpressionError(InvalidInputError):
    """A policy expression that cannot be read: every problem at once, each with its column."""

    code = "POLICY-0400-400"

    def __init__(self, text: str, problems: list[dict[str, Any]]) -> None:
        said = "; ".join(f"column {p['column']}: {p['message']}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"the policy expression {text[:100]!r} cannot be read: {said}{more}", expression=text[:1000],
                         problems=problems)  # fmt: skip
        self.problems = problems


__all__ = ["PolicyExpressionError"]
