"""A delivery's templates: Jinja2 in a sandbox, compiled once, checked whole before a message is made.

A delivery has three parts, `subject`, `html` and `text`. The HTML part is autoescaped (a first name
holding `<script>` arrives as text), the subject and text parts are not (they are not HTML). Templates
read the recipient through `recipient.<column>` (the `recipient` target mapping's columns) and
`recipient.custom.<name>` (any other column an audience carried), and may place `{{ unsubscribe_url }}`.

The check walks each part's syntax tree, so that every problem of the three parts is reported at once,
with its part and line: a syntax error, a field that no recipient can have, an attribute the sandbox would
refuse at render time (`__class__` and the like). A field a template only tests (`{% if recipient.phone %}`)
or gives a default (`recipient.phone | default("")`) is optional; every other field it reads is required,
and a recipient without it gets no message (MissingFieldError) rather than one with a blank.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import (
    UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    UNSAFE_COROUTINE_ATTRIBUTES,
    UNSAFE_FUNCTION_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    UNSAFE_METHOD_ATTRIBUTES,
    SandboxedEnvironment,
)

from accord.campaign.engine import RECIPIENT_COLUMNS
from accord.campaign.exceptions import TemplateCheckError

PARTS = ("subject", "html", "text")
GLOBALS = frozenset({"recipient", "unsubscribe_url"})
"""The names a template may read; anything else it reads (and does not set itself) is an unknown field."""
_UNSAFE = (
    UNSAFE_FUNCTION_ATTRIBUTES
    | UNSAFE_METHOD_ATTRIBUTES
    | UNSAFE_GENERATOR_ATTRIBUTES
    | UNSAFE_COROUTINE_ATTRIBUTES
    | UNSAFE_ASYNC_GENERATOR_ATTRIBUTES
    | {"mro", "format", "format_map"}  # str.format reaches attributes by name, past the sandbox's getattr
)
_READABLE = "templates read `recipient.<field>`, `recipient.custom.<name>` and `unsubscribe_url`"
_OPTIONAL_FILTERS = frozenset({"default", "d"})


class AbsentValue(StrictUndefined):
    """A field the recipient has no value of: false in a test, replaced by `default`, an error anywhere
    else (the check makes such a use a required field, refused before rendering)."""

    def __bool__(self) -> bool:  # type: ignore[override]
        return False


_HTML = SandboxedEnvironment(undefined=AbsentValue, autoescape=True, keep_trailing_newline=True)
_PLAIN = SandboxedEnvironment(undefined=AbsentValue, autoescape=False, keep_trailing_newline=True)


@dataclass(frozen=True)
class Problem:
    part: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.part}, line {self.line}: {self.message}"


@dataclass(frozen=True)
class FieldUse:
    """A recipient field a part reads: `firstName`, or `custom.tier`; optional when only tested."""

    name: str
    part: str
    line: int
    optional: bool


@dataclass
class CompiledTemplates:
    """A delivery's three parts, compiled once; render them for as many recipients as there are."""

    subject: Any
    html: Any
    text: Any
    fields: list[FieldUse] = field(default_factory=list)
    places_unsubscribe: frozenset[str] = frozenset()
    """The parts that place `{{ unsubscribe_url }}` themselves; the others get a footer."""

    @property
    def required(self) -> tuple[str, ...]:
        """The fields a recipient must have a value of, each once, in the order the templates read them."""
        return tuple(dict.fromkeys(f.name for f in self.fields if not f.optional))

    @property
    def used(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.name for f in self.fields))


def compile_templates(subject: str, html: str, text: str, custom_fields: Iterable[str] | None = None
                      ) -> CompiledTemplates:  # fmt: skip
    """Compile the three parts, or raise one TemplateCheckError listing every problem of all of them.

    `custom_fields` are the custom fields some recipient of the target has; None skips that check (a
    field no recipient has then fails each recipient at render time instead)."""
    problems: list[Problem] = []
    compiled: dict[str, Any] = {}
    uses: list[FieldUse] = []
    placing: set[str] = set()
    known = None if custom_fields is None else set(custom_fields)
    for part, source in zip(PARTS, (subject, html, text), strict=True):
        environment = _HTML if part == "html" else _PLAIN
        try:
            tree = environment.parse(source)
        except TemplateSyntaxError as exc:
            problems.append(Problem(part, exc.lineno or 1, f"syntax error: {exc.message}"))
            continue
        part_uses, part_problems = _inspect(part, tree, known)
        uses.extend(part_uses)
        problems.extend(part_problems)
        if not part_problems:
            compiled[part] = environment.from_string(tree)
            if "unsubscribe_url" in meta.find_undeclared_variables(tree):
                placing.add(part)
    if problems:
        raise TemplateCheckError([str(p) for p in problems])
    return CompiledTemplates(compiled["subject"], compiled["html"], compiled["text"], uses, frozenset(placing))


def _inspect(part: str, tree: nodes.Template, known: set[str] | None) -> tuple[list[FieldUse], list[Problem]]:
    uses: list[FieldUse] = []
    problems: list[Problem] = []
    undeclared = meta.find_undeclared_variables(tree) - GLOBALS - set(_PLAIN.globals)
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = _attribute(node)
        if name is not None and _unsafe(name):
            problems.append(Problem(part, node.lineno, f"`{name}` is not allowed in a template (sandbox)"))
    for statement in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        problems.append(Problem(part, statement.lineno, "a delivery's template is whole: it cannot extend, include "
                                "or import another"))  # fmt: skip
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name in undeclared:
            problems.append(Problem(part, node.lineno, f"unknown field `{node.name}`; {_READABLE}"))
    for path, line, optional in _recipient_paths(tree):
        if any(_unsafe(name) for name in path):
            continue  # reported above
        problem = _field_problem(path, known)
        if problem:
            problems.append(Problem(part, line, problem))
        else:
            uses.append(FieldUse(".".join(path), part, line, optional))
    return uses, sorted(problems, key=lambda p: p.line)


def _unsafe(name: str) -> bool:
    return name.startswith("_") or name in _UNSAFE


def _attribute(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr):
        return str(node.attr)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None


def _recipient_paths(tree: nodes.Node) -> Iterator[tuple[tuple[str, ...], int, bool]]:
    """`recipient.firstName` as ("firstName",), `recipient.custom.tier` as ("custom", "tier")."""
    yield from _walk_paths(tree, False, frozenset())


def _walk_paths(node: nodes.Node, optional: bool, guarded: frozenset[tuple[str, ...]]
                ) -> Iterator[tuple[tuple[str, ...], int, bool]]:  # fmt: skip
    """Each field path, optional when it is tested, defaulted, or read only where a test of it passed."""
    path = _path(node)
    if path is not None:
        yield path, node.lineno, optional or path in guarded
        return
    if isinstance(node, nodes.If | nodes.CondExpr):
        tested = [found for found in _walk_paths(node.test, True, guarded)]
        yield from tested
        inside = guarded | {found[0] for found in tested}
        body, others = ("body", ("elif_", "else_")) if isinstance(node, nodes.If) else ("expr1", ("expr2",))
        yield from _walk_children(getattr(node, body), optional, inside)
        for name in others:
            yield from _walk_children(getattr(node, name), optional, guarded)
        return
    for child_field, child in node.iter_fields():
        child_optional = optional or _is_default(node, child_field)
        yield from _walk_children(child, child_optional, guarded)


def _walk_children(child: Any, optional: bool, guarded: frozenset[tuple[str, ...]]
                   ) -> Iterator[tuple[tuple[str, ...], int, bool]]:  # fmt: skip
    for sub in child if isinstance(child, list) else [child]:
        if isinstance(sub, nodes.Node):
            yield from _walk_paths(sub, optional, guarded)


def _is_default(node: nodes.Node, child_field: str) -> bool:
    return isinstance(node, nodes.Filter) and node.name in _OPTIONAL_FILTERS and child_field == "node"


def _path(node: nodes.Node) -> tuple[str, ...] | None:
    """The outermost attribute chain on `recipient` that `node` is, or None."""
    names: list[str] = []
    current = node
    while isinstance(current, nodes.Getattr | nodes.Getitem):
        name = _attribute(current)
        if name is None:
            return None
        names.append(name)
        current = current.node
    if not (isinstance(current, nodes.Name) and current.name == "recipient" and names):
        return None
    names.reverse()
    return tuple(names[:2]) if names[0] == "custom" else tuple(names[:1])


def _field_problem(path: tuple[str, ...], known: set[str] | None) -> str | None:
    if path[0] == "custom":
        if len(path) < 2:
            return "`recipient.custom` alone is not a field: write `recipient.custom.<name>`"
        if known is not None and path[1] not in known:
            return f"unknown field `recipient.custom.{path[1]}`: no recipient of the target has it"
        return None
    if path[0] in RECIPIENT_COLUMNS:
        return None
    hint = f" (a custom field reads `recipient.custom.{path[0]}`)" if known and path[0] in known else ""
    return f"unknown field `recipient.{path[0]}`; recipient fields: {', '.join(RECIPIENT_COLUMNS)}{hint}"


def field_value(recipient: dict[str, Any], name: str) -> Any:
    """The value of a field (`firstName`, `custom.tier`) of a recipient document, None when it has none."""
    if name.startswith("custom."):
        return (recipient.get("custom") or {}).get(name[7:])
    return recipient.get(name)


def lacks(recipient: dict[str, Any], name: str) -> bool:
    value = field_value(recipient, name)
    return value is None or (isinstance(value, str) and not value.strip())
