"""Helpers shared by the CLI's resource commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from accord.cli.output import out
from accord.errors import InvalidInputError


def print_lines(line: Callable[[dict[str, Any]], str]) -> Callable[[list[dict[str, Any]]], None]:
    def show(items: list[dict[str, Any]]) -> None:
        for item in items:
            out.print(line(item), highlight=False)

    return show


def read_document(path: Path) -> Any:
    """A YAML or JSON document from a file, with a clear error when it is not one."""
    import yaml  # here, not at the top: commands that read no document start faster

    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}", code="ACCORD-0002-400") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                                code="ACCORD-0002-400") from None  # fmt: skip
    except yaml.YAMLError as exc:  # said as the user's file, not as PyYAML's "<unicode string>"
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        what = getattr(exc, "problem", None) or "not valid YAML"
        raise InvalidInputError(f"{path} is not valid YAML: {what}{where}", code="ACCORD-0002-400") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}", code="ACCORD-0002-400") from None


def parse_identity(text: str) -> dict[str, Any]:
    """PATH=NAMESPACE[:primary]"""
    if "=" not in text:
        raise InvalidInputError(
            f"--identity {text!r}: write PATH=NAMESPACE or PATH=NAMESPACE:primary", code="SCHEMA-0401-400"
        )
    path, namespace = text.split("=", 1)
    primary = namespace.endswith(":primary")
    return {"path": path.strip(), "namespace": namespace.removesuffix(":primary").strip(), "primary": primary}
