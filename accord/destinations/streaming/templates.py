"""Templates of declared destinations, run in Jinja2's immutable sandbox.

A template sees what it is given and nothing else: `profiles` (the rows of the request), `destination`
(the account's name), `flow`, and `config` (the account's settings). The sandbox refuses attributes
that lead to Python's internals (`__class__`, `__globals__`, ...), calls of unsafe methods, and any
change to the values it is given; an undefined name is an error, not an empty string. Filters added
to Jinja's own: `sha256` (hex digest of a text), `normalise_email` and `normalise_phone` (as the
advertising destination normalises them, `accord.destinations.streaming.identifiers`).

A body that uses `profiles` only whole, as `profiles | tojson` (the built-in `http` destination's does),
is given them as `WholeProfiles`: `tojson` then joins the profiles' JSON texts (written by the engine in
an activation run) instead of encoding a dict per profile. The JSON means the same either way; only
the spacing and the order of keys may differ. Any other use of `profiles` gets the list of dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, nodes, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.filters import do_tojson
from jinja2.nodes import EvalContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from accord.destinations.exceptions import TemplateProblem, TemplateRefusedError
from accord.destinations.outgoing import OutgoingProfile, OutgoingProfiles
from accord.destinations.streaming.identifiers import normalise_email, normalise_phone, sha256_hex

HTML_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"))
"""What Jinja's `tojson` escapes in its output (`jinja2.utils.htmlsafe_json_dumps`), and how."""


@cache
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters.update(
        sha256=lambda value: sha256_hex(str(value)), normalise_email=normalise_email, normalise_phone=normalise_phone,
        tojson=_tojson,
    )  # fmt: skip
    return env


class WholeProfiles:
    """A request's profiles for a template that writes them only whole (`profiles | tojson`)."""

    __slots__ = ("profiles",)

    def __init__(self, profiles: Sequence[OutgoingProfile]) -> None:
        self.profiles = profiles

    def json(self) -> str:
        """The profiles as a JSON list, made HTML-safe as Jinja's `tojson` makes its output."""
        text = "[" + ", ".join(OutgoingProfiles.of(self.profiles).json_texts()) + "]"
        for unsafe, escaped in HTML_ESCAPES:
            if unsafe in text:  # looking is far quicker than replacing, and these are seldom there
                text = text.replace(unsafe, escaped)
        return text


@pass_eval_context
def _tojson(context: EvalContext, value: Any, indent: int | None = None) -> Markup:
    if isinstance(value, WholeProfiles):
        if indent is None:
            return Markup(value.json())
        value = [profile.row for profile in value.profiles]
    return do_tojson(context, value, indent)


def writes_profiles_whole(source: str) -> bool:
    """Whether a template reads `profiles` only as `profiles | tojson` (and at least once)."""
    tree = environment().parse(source)
    uses = [name for name in tree.find_all(nodes.Name) if name.name == "profiles"]
    whole = [
        found for found in tree.find_all(nodes.Filter)
        if found.name == "tojson" and isinstance(found.node, nodes.Name) and found.node.name == "profiles"
        and found.node.ctx == "load" and not (found.args or found.kwargs or found.dyn_args or found.dyn_kwargs)
    ]  # fmt: skip
    return bool(uses) and len(uses) == len(whole)


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
