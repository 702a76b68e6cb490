"""Mapping sets: the user's document that says which source column or expression fills which field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from accord.errors import problem_message
from accord.ingest.exceptions import InvalidMappingError


class MappingEntry(BaseModel):
    """One target field, filled from a source column/path or from a calculated expression."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    destination: str = Field(min_length=1, max_length=1024)
    source: str | None = Field(default=None, max_length=10_000)
    expression: str | None = Field(default=None, max_length=10_000)
    source_type: Literal["ATTRIBUTE", "EXPRESSION"] | None = Field(default=None, alias="sourceType")

    @model_validator(mode="after")
    def _one_input(self) -> MappingEntry:
        if self.source_type == "EXPRESSION" and self.source is not None and self.expression is None:
            self.expression, self.source = self.source, None
        if (self.source is None) == (self.expression is None):
            raise ValueError("give exactly one of `source` (a column) or `expression` (a calculated field)")
        return self


class MappingSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mappings: list[MappingEntry] = Field(min_length=1, max_length=5000)


def parse_mapping(document: Any, origin: str = "mapping") -> MappingSet:
    """Validate a mapping document whole; every problem is reported with its path."""
    if isinstance(document, list):
        document = {"mappings": document}
    try:
        return MappingSet.model_validate(document)
    except ValidationError as exc:
        problems = [
            {
                "path": ".".join(str(p) for p in e["loc"]).replace(".mappings.", "mappings."),
                "message": problem_message(e),
            }
            for e in exc.errors()
        ]
        for p in problems:  # mappings.3.source -> mappings[3].source
            parts = p["path"].split(".")
            if len(parts) > 1 and parts[0] == "mappings" and parts[1].isdigit():
                p["path"] = f"mappings[{parts[1]}]" + "".join(f".{x}" for x in parts[2:])
        raise InvalidMappingError(origin, problems) from None


def load_mapping(path: Path) -> MappingSet:
    """Read a YAML or JSON mapping file; syntax errors say where."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidMappingError(str(path), [{"path": "", "message": f"cannot read the file: {why}"}]) from None
    if len(text) > 5_000_000:
        raise InvalidMappingError(str(path), [{"path": "", "message": "mapping file is larger than 5 MB"}])
    try:
        document = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise InvalidMappingError(
            str(path), [{"path": "", "message": f"not valid JSON: {exc.msg}", "line": exc.lineno, "column": exc.colno}]
        ) from None
    except RecursionError:  # both parsers recurse once per level of nesting
        raise InvalidMappingError(str(path), [{"path": "", "message": "the document is nested too deeply"}]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = {"line": mark.line + 1, "column": mark.column + 1} if mark else {}
        raise InvalidMappingError(
            str(path), [{"path": "", "message": f"not valid YAML: {getattr(exc, 'problem', exc)}", **where}]
        ) from None
    return parse_mapping(document, str(path))
