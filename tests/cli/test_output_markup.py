"""Every line the CLI styles with rich markup shows users' text as it is: the consoles have markup off, a
styled line says `markup=True`, and each value placed in it goes through `plain` (escaped), so that
`xEvent[eventType = "x"]` or a name holding `[bold]` is printed verbatim. Read from the source of every
command module: a new styled line is checked without a case of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import accord.cli
from accord.cli.output import err, out, plain

MODULES = sorted(Path(accord.cli.__file__).parent.glob("*.py"))
CODE_CHOSEN = {"colour", "mark"}
"""Names holding a style or a styled word chosen by the code, never a user's text."""


def _safe(value: ast.FormattedValue) -> bool:
    """A value a user cannot have written markup into: escaped, a formatted number, a length, a fixed word."""
    inner = value.value
    if value.format_spec is not None or (isinstance(inner, ast.Name) and inner.id in CODE_CHOSEN):
        return True
    if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id in ("plain", "len"):
        return True
    return isinstance(inner, ast.IfExp) and all(isinstance(b, ast.Constant) for b in (inner.body, inner.orelse))


def _styled(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and "[/" in node.value


def test_the_consoles_print_text_as_it_is() -> None:
    assert not out._markup and not err._markup  # what is not marked up is never read as markup
    assert plain("xEvent[eventType = 'x'] [bold]x[/bold]") == r"xEvent\[eventType = 'x'] \[bold]x\[/bold]"


def test_every_styled_line_escapes_the_values_it_holds() -> None:
    unsafe, unmarked = [], []
    for module in MODULES:
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr) and any(_styled(part) for part in node.values):
                unsafe += [f"{module.name}:{node.lineno}: {ast.unparse(v)}" for v in node.values
                           if isinstance(v, ast.FormattedValue) and not _safe(v)]  # fmt: skip
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "print"):
                continue
            marked = any(k.arg == "markup" and getattr(k.value, "value", None) is True for k in node.keywords)
            if node.args and any(_styled(n) for n in ast.walk(node.args[0])) and not marked:
                unmarked.append(f"{module.name}:{node.lineno}")
    assert not unsafe, f"values in styled lines not passed through plain(): {unsafe}"
    assert not unmarked, f"styled lines printed without markup=True (shown with their tags): {unmarked}"
