"""What a form posted, read whole: forms whose fields a schema or a wizard decides (a destination's settings, an
activation's mapping rows) cannot name them as route parameters, and a page must answer a bad value with a page
(FastAPI's own checks of `Form(...)` parameters answer JSON)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from accord.web.forms import MAX_TEXT

LONGEST_KEY = 200
"""A field name longer than this is cut (no form of the workspace has one)."""


@dataclass(frozen=True)
class Posted:
    """A form's fields, each with its values (a list of checkboxes has several); files are left out."""

    values: dict[str, list[str]]

    def one(self, key: str) -> str:
        """The field's first value, or "" when it was not sent."""
        return (self.values.get(key) or [""])[0]

    def many(self, key: str) -> list[str]:
        return self.values.get(key, [])

    def firsts(self) -> dict[str, str]:
        return {key: values[0] for key, values in self.values.items() if values}

    def oversized(self) -> list[str]:
        """The fields longer than a form field may be (`forms.MAX_TEXT`)."""
        return sorted({k for k, vs in self.values.items() if any(len(v) > MAX_TEXT for v in vs)})


async def posted_form(request: Request) -> Posted:
    """The request's form (its size was bounded by the gate before it was read)."""
    form = await request.form()
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(key[:LONGEST_KEY], []).append(value)
    return Posted(values)
