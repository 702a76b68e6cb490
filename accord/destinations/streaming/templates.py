"""Templates of declared destinations, run in Jinja2's immutable sandbox.

A template sees what it is given and nothing else: `profiles` (the rows of the request), `destination`
(the account's name), `flow`, and `config` (the account's settings). The sandbox refuses attributes
that lead to Python's internals (`__class__`, `__globals__`, ...), calls of unsafe methods, and any
change to the values it is given; an undefined name is an error, not an empty string. Filters added
to Jinja's own: `sha256` (hex digest of a text), `normalise_email` and `normalise_phone` (as the
advertising destination normalises them, `accord.destinations.streaming.identifiers`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from accord.destinations.exceptions import TemplateProblem, TemplateRefusedError
from accord.destinations.streaming.identifiers import normalise_email, normalise_phone, sha256_hex


@cache
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters.update(
        sha256=lambda value: sha256_hex(str(value)), normalise_email=normalise_email, normalise_phone=normalise_phone
    )
    return env


def compile_template(source: str, where: str) -> Template:
    """The template, compiled; a syntax error says where (the document's path and the template's line)."""
    try:
        return environment().from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(where, f"line {exc.lineno}: {exc.message}") from None


def syntax_problem(source: str) -> str | None:
    """What is wrong with a template's syntax, or None."""
    try:
        environment().parse(source)
    except TemplateSyntaxError as exc:
        return f"template syntax, line {exc.lineno}: {exc.message}"
    return None


def render(template: Template, where: str, context: dict[str, Any]) -> str:
    """Render in the sandbox; what the sandbox refuses and what fails are Accord's errors, saying where."""
    try:
        return template.render(context)
    except SecurityError as exc:
        raise TemplateRefusedError(where, str(exc)) from None
    except UndefinedError as exc:
        raise TemplateProblem(where, str(exc)) from None
    except TypeError as exc:
        if "Undefined" in str(exc):  # an undefined value reached a filter (`tojson`) instead of the output
            raise TemplateProblem(where, "it reads a value that is not defined (a field missing from the "
                                  "profiles, destination, flow or config it is given)") from None  # fmt: skip
        raise TemplateProblem(where, f"TypeError: {exc}") from None
    except (ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateProblem(where, f"{type(exc).__name__}: {exc}") from None
