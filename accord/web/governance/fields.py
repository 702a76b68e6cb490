"""What the governance forms share: the bound of each field they take, and a service's problems placed beside
the fields they name."""

from __future__ import annotations

import re

from accord.errors import AccordError, InvalidInputError

NAME = 128
"""The longest name a page's path or a form's name field may carry (the services' own bounds are smaller)."""
TEXT = 1024
"""The longest description."""


def too_long(**fields: tuple[str, int]) -> dict[str, str]:
    """A message for each field (`name=(value, most)`) longer than it may be: said beside it, nothing done."""
    return {name: f"at most {most:,} characters, not {len(value):,}" for name, (value, most) in fields.items()
            if len(value) > most}  # fmt: skip


def checked_name(name: str, what: str) -> None:
    """Refuse a name in a page's path that no object could have (the page says so, rather than a 404 of FastAPI)."""
    if len(name) > NAME:
        raise InvalidInputError(f"{what} names are at most {NAME} characters", code="ACCORD-0400-400")


def by_field(exc: AccordError) -> dict[str, str]:
    """The error's problems, by the field they name (`labels[2]` and `labels` are both `labels`), messages joined."""
    found: dict[str, list[str]] = {}
    for problem in exc.details.get("problems") or getattr(exc, "problems", None) or []:
        key = re.split(r"[.\[]", str(problem.get("path") or ""))[0]
        found.setdefault(key, []).append(str(problem.get("message", "")))
    return {key: "; ".join(messages) for key, messages in found.items()}
