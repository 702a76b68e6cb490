"""Forms drawn from a connector's or a destination's JSON Schema (the spec's config model), and the typed
document read back from what the browser posts.

A field marked `secret` is a password input, never filled in again: the page shows that a value is kept, not
the value. What the browser sends is text; it is turned back into the schema's types here, and every field
that cannot be is reported at once, by its name, before any service sees it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accord.errors import DocumentError

MAX_TEXT = 10_000
"""The longest value a form field may hold (a private key fits; the gate bounds the whole form as well)."""


@dataclass(frozen=True)
class FormField:
    """One input of a schema's form."""

    name: str
    label: str
    kind: str
    """text, password, secret-text (a secret of several lines, never shown again either), number, checkbox,
    select or json (an object or a list, written as JSON)"""
    required: bool
    description: str
    default: Any
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None


SECRET_KINDS = ("password", "secret-text")
"""The inputs of secrets: never filled in again, never shown back."""


def _label(name: str) -> str:
    """'accountName' -> 'Account name', 'sasToken' -> 'SAS token' (a spec's title is pydantic's, 'Accountname')."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).split()
    shown = [w if w.isupper() else w.lower() for w in words]
    shown = ["SAS" if w == "sas" else "URL" if w == "url" else "SSH" if w == "ssh" else w for w in shown]
    text = " ".join(shown)
    return text[:1].upper() + text[1:]


def _plain(prop: dict[str, Any]) -> dict[str, Any]:
    """The property without its `anyOf [..., null]` (an optional field)."""
    for option in prop.get("anyOf", []):
        if option.get("type") != "null":
            return {**prop, **option}
    return prop


def form_fields(schema: dict[str, Any]) -> list[FormField]:
    """The inputs of a config schema, in its order; required ones first."""
    required = set(schema.get("required", []))
    found = []
    for name, raw in schema.get("properties", {}).items():
        prop = _plain(raw)
        kind = "secret-text" if raw.get("secret") and raw.get("multiline") else \
            "password" if raw.get("secret") else \
            "checkbox" if prop.get("type") == "boolean" else \
            "select" if "enum" in prop else \
            "number" if prop.get("type") in ("integer", "number") else \
            "json" if prop.get("type") in ("object", "array") or "$ref" in prop else "text"  # fmt: skip
        found.append(FormField(
            name=name, label=_label(name), kind=kind, required=name in required,
            description=str(prop.get("description", "")), default=raw.get("default"),
            choices=tuple(str(c) for c in prop.get("enum", ())), minimum=prop.get("minimum"),
            maximum=prop.get("maximum"), max_length=prop.get("maxLength"),
        ))  # fmt: skip
    return sorted(found, key=lambda f: not f.required)


def form_document(schema: dict[str, Any], posted: dict[str, str]) -> dict[str, Any]:
    """The config a form posted, typed as its schema says. Empty optional fields are left out (the default
    applies); every field that cannot be read is reported together (`DocumentError`, by field name)."""
    document: dict[str, Any] = {}
    problems: list[dict[str, Any]] = []
    for field in form_fields(schema):
        text = posted.get(field.name, "")
        if field.kind == "checkbox":
            document[field.name] = text in ("on", "true", "1")
            continue
        if len(text) > MAX_TEXT:
            problems.append({"path": field.name, "message": f"longer than {MAX_TEXT:,} characters"})
            continue
        secret = field.kind in SECRET_KINDS
        if text == "" or (not secret and text.strip() == ""):
            if field.required:
                problems.append({"path": field.name, "message": f"{field.label} is required"})
            continue
        if field.kind == "number":
            try:
                document[field.name] = int(text) if re.fullmatch(r"\s*-?\d+\s*", text) else float(text)
            except ValueError:
                problems.append({"path": field.name, "message": f"{field.label} must be a number, not {text[:40]!r}"})
        elif field.kind == "json":
            try:
                document[field.name] = json.loads(text)
            except ValueError as exc:
                problems.append({"path": field.name, "message": f"{field.label} must be JSON: {exc}"})
        else:
            document[field.name] = text if secret else text.strip()
    if problems:
        raise DocumentError("the form", problems)
    return document


def first_part(path: str) -> str:
    """`a.b.c` -> `a`, `x/y` -> `y`: the input a problem's path names on most forms."""
    return path.split(".")[0].split("/")[-1]


def problems_by_field(exc: Exception, key: Callable[[str], str] = first_part) -> dict[str, str]:
    """An error's problems by the input each names (`key` turns a problem's path into an input's name), to show
    beside each input; an error without problems but with a `path` in its details (a folder not allowed) too."""
    details = getattr(exc, "details", {}) or {}
    problems = getattr(exc, "problems", None) or details.get("problems") or []
    if not problems and isinstance(details.get("path"), str):
        problems = [{"path": details["path"], "message": getattr(exc, "message", str(exc))}]
    found: dict[str, str] = {}
    for problem in problems:
        found.setdefault(key(str(problem.get("path") or "")), str(problem.get("message", "")))
    return found
