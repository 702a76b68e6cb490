"""Every example in the documentation runs here: the function table of docs/mapping.md, and every mapping
set shown in README.md and docs/*.md. The documentation cannot drift from the code."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
import yaml

from accord import lake, schema
from accord.ingest import FUNCTIONS, IngestRequest, MappingSet, ingest_file, parse_mapping
from accord.ingest.mapping.ast import Binary, Call, Column, Unary
from accord.ingest.mapping.compiler import compile_expression
from accord.ingest.mapping.parser import parse_expression
from accord.lake import jsonable
from accord.workspace import Workspace

DOC = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"
ROW = re.compile(r"^\| `(?P<expr>.+?)` \| `(?P<input>.+?)` \| `(?P<result>.+?)` \|$")


def examples() -> list[tuple[str, dict[str, Any], Any]]:
    found = []
    for line in DOC.read_text().splitlines():
        match = ROW.match(line.replace("\\|", "\x00"))
        if match:
            expr = match["expr"].replace("\x00", "|")
            found.append((expr, json.loads(match["input"]), json.loads(match["result"])))
    return found


def evaluate(expression: str, row: dict[str, Any]) -> Any:
    columns = {k: pa.array([v], pa.string()) for k, v in row.items()} or {"_": pa.array([None], pa.string())}
    table = ibis.memtable(pa.table(columns))
    compiled = compile_expression(expression, table)
    con = ibis.duckdb.connect()
    try:
        value = con.to_pyarrow(table.select(v=compiled.value))["v"][0].as_py()
    finally:
        con.disconnect()
    return jsonable(value)


@pytest.mark.parametrize(("expression", "row", "expected"), examples(), ids=[e[0][:60] for e in examples()])
def test_documented_example(expression: str, row: dict[str, Any], expected: Any) -> None:
    assert evaluate(expression, row) == expected


def test_every_function_has_a_documented_example() -> None:
    documented = " ".join(e[0] for e in examples())
    missing = [name for name in FUNCTIONS if f"{name}(" not in documented]
    assert missing == []


# -- every mapping set shown in the documentation parses, compiles and runs ---------------------------

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
FORM_FIELD = re.compile(r"mapping=(\{.*?\})'")


def mapping_examples() -> list[tuple[str, Any]]:
    """(where, document) for each mapping set in README.md and docs/*.md: YAML blocks and JSON form fields."""
    found: list[tuple[str, Any]] = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number, match in enumerate(FENCE.finditer(page.read_text()), start=1):
            language, body = match.groups()
            where = f"{page.relative_to(ROOT)} block {number}"
            if language == "yaml" and "mappings:" in body:
                found.append((where, yaml.safe_load(body)))
            found.extend((where, json.loads(text)) for text in FORM_FIELD.findall(body))
    return found


def referenced_columns(mapping: MappingSet) -> list[str]:
    columns: list[str] = []
    for entry in mapping.mappings:
        if entry.source is not None:
            braced = re.fullmatch(r"\$\{(.+)\}", entry.source)
            columns.append(braced[1] if braced else entry.source)
            continue
        stack = [parse_expression(str(entry.expression))]
        while stack:
            node = stack.pop()
            if isinstance(node, Column):
                columns.append(node.path)
            elif isinstance(node, Call):
                stack.extend(node.args)
            elif isinstance(node, Binary):
                stack.extend([node.left, node.right])
            elif isinstance(node, Unary):
                stack.append(node.operand)
    return list(dict.fromkeys(columns))


def test_the_documentation_shows_mapping_sets() -> None:
    places = {where.split(" block")[0] for where, _ in mapping_examples()}
    assert {"README.md", "docs/mapping.md", "docs/api.md"} <= places


@pytest.mark.parametrize(("where", "document"), mapping_examples(), ids=[w for w, _ in mapping_examples()])
def test_documented_mapping_sets_run_on_a_file(workspace: Workspace, tmp_path: Path, where: str, document: Any) -> None:
    mapping = parse_mapping(document, where)
    with workspace.catalog.session() as session:
        schema.create_schema(
            session,
            "prod",
            {"name": "docs", "class": "profile", "fieldGroups": ["demographic-details", "personal-contact-details"]},
        )
        lake.create_dataset(session, "prod", "docs", "docs")
    columns = referenced_columns(mapping)
    path = tmp_path / "tiny.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerow([SAMPLE_VALUES.get(c, "Ann") for c in columns])
    # each entry gets a destination of its own, as the docs' sets fill one field twice to show two ways
    for entry in mapping.mappings:
        single = MappingSet(mappings=[entry])
        batch = ingest_file(workspace, "prod", IngestRequest("docs", path, single, error_threshold=0))
        assert (batch["status"], batch["outputRecordCount"]) == ("success", 1), (where, entry, batch["errors"])


SAMPLE_VALUES = {"email": "Ann@Example.com", "birth_date": "31/01/1980"}
