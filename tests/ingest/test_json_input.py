"""JSON input record by record: a malformed line, a value that is not an object, a record nested too
deep each fail alone, with their line or position, under the same threshold as delimited text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord import lake
from accord.ingest import UnreadableFileError
from accord.ingest.json_input import MAX_DEPTH, json_depths
from accord.workspace import Workspace
from tests.ingest.conftest import errors, ingest, write


def event(number: int, **more: Any) -> dict[str, Any]:
    return {"_id": f"e{number}", "timestamp": "2026-01-02T03:04:05Z", **more}


def nested(levels: int) -> dict[str, Any]:
    """An object `levels` deep: {"a": {"a": ... {"v": 1}}}."""
    value: dict[str, Any] = {"v": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def deep_text(levels: int) -> str:
    """The text of an object `levels` deep, built without Python's recursive encoder."""
    return '{"a":' * (levels - 1) + '{"v":1}' + "}" * (levels - 1)


def summary(ws: Workspace, batch: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    return [(e["lineNumber"], e["rowNumber"], e["_errors"][0]["code"]) for e in errors(ws, batch)]


def test_json_lines_bad_lines_are_row_errors_with_their_lines(crm: Workspace, tmp_path: Path) -> None:
    lines = [json.dumps(event(i)) for i in range(1, 41)]
    lines[4] = '{"_id": "e5", "timestamp": '  # malformed: cut short
    lines[9] = "[1, 2, 3]"  # JSON, but not an object
    lines[14] = json.dumps(event(15, junk=nested(200)))  # nested far too deep
    lines[19] = '"just a string"'
    lines.insert(30, "")  # a blank line is no record, but it is a line
    lines.insert(31, "   ")
    path = write(tmp_path / "events.json", "\n".join(lines) + "\n")
    batch = ingest(crm, path, dataset="events", mapping=None, threshold=15)
    assert (batch["status"], batch["inputRecordCount"], batch["outputRecordCount"]) == ("success", 40, 36)
    assert summary(crm, batch) == [
        (5, None, "INGEST-1401-400"),
        (10, None, "INGEST-1401-400"),
        (15, None, "INGEST-1221-400"),
        (20, None, "INGEST-1401-400"),
    ]
    found = {e["lineNumber"]: e for e in errors(crm, batch)}
    assert found[5]["_corrupt_record"] == '{"_id": "e5", "timestamp": '
    assert found[5]["_errors"][0]["message"] == "the line is not valid JSON"
    assert found[10]["_errors"][0]["message"] == "the line is a JSON array, not an object"
    assert (
        found[15]["_errors"][0]["message"]
        == "the record nests 201 levels of objects and arrays, more than the 64 allowed"
    )
    assert found[15]["_corrupt_record"].startswith('{"_id": "e15"')
    stored = sorted(r["_id"] for r in lake.preview(crm, "prod", "events", 100))
    assert len(stored) == 36 and "e15" not in stored and "e40" in stored


def test_json_lines_failing_rows_keep_exact_numbers(crm: Workspace, tmp_path: Path) -> None:
    """Rows that parse but fail validation are found by their line, past blank lines and bad lines."""
    lines = [json.dumps(event(i)) for i in range(1, 31)]
    lines[7] = json.dumps(event(8, timestamp="not a time"))
    lines[3] = "{oops"
    lines.insert(12, "")
    lines[25] = json.dumps(event(25, timestamp="not a time"))  # the same error twice, both found
    path = write(tmp_path / "events.json", "\r\n".join(lines) + "\r\n")
    batch = ingest(crm, path, dataset="events", mapping=None, threshold=20)
    assert summary(crm, batch) == [
        (4, None, "INGEST-1401-400"),
        (8, 8, "INGEST-1212-400"),
        (26, 25, "INGEST-1212-400"),
    ]


def test_json_lines_past_the_threshold_fail_as_delimited_text_does(crm: Workspace, tmp_path: Path) -> None:
    lines = [json.dumps(event(i)) for i in range(1, 11)] + ["{broken"] * 2
    batch = ingest(crm, write(tmp_path / "e.json", "\n".join(lines)), dataset="events", mapping=None, threshold=10)
    assert batch["status"] == "failed" and batch["errors"][0]["code"] == "INGEST-1001-400"
    assert "2 of 12 rows (16.67%) failed" in batch["errors"][0]["message"]
    assert [e["lineNumber"] for e in errors(crm, batch)] == [11, 12]
    assert lake.preview(crm, "prod", "events", 10) == []


@pytest.mark.parametrize(("levels", "fails"), [(MAX_DEPTH, False), (MAX_DEPTH + 1, True), (100_000, True)])
def test_the_depth_limit_is_exact_and_any_depth_is_safe(
    crm: Workspace, tmp_path: Path, levels: int, fails: bool
) -> None:
    """A record may nest 64 levels of objects and arrays (its own braces count as one); one more is a row
    error, and a record 100,000 levels deep is a row error too, never a crash."""
    junk = deep_text(levels - 1)  # inside the record's own object
    line = '{"_id": "deep", "timestamp": "2026-01-02T03:04:05Z", "junk": ' + junk + "}"
    path = write(tmp_path / "e.json", json.dumps(event(1)) + "\n" + line + "\n")
    batch = ingest(crm, path, dataset="events", mapping=_ids_only(), threshold=60)
    assert batch["status"] == "success"
    assert batch["failedRecordCount"] == int(fails)
    if fails:
        [error] = errors(crm, batch)
        assert error["lineNumber"] == 2 and error["_errors"][0]["code"] == "INGEST-1221-400"
        assert f"nests {levels} levels" in error["_errors"][0]["message"]


def _ids_only() -> Any:
    from accord.ingest import parse_mapping

    return parse_mapping(
        {"mappings": [{"source": "_id", "destination": "_id"}, {"source": "timestamp", "destination": "timestamp"}]}
    )


def test_json_arrays_and_documents_fail_record_by_record(crm: Workspace, tmp_path: Path) -> None:
    records: list[Any] = [event(i) for i in range(1, 21)]
    records[3] = event(4, junk=nested(120))
    records[6] = ["not", "an", "object"]
    records[11] = event(12, timestamp="not a time")
    array = write(tmp_path / "events-array.json", "[" + ",\n".join(json.dumps(r, indent=2) for r in records) + "]")
    documents = write(tmp_path / "events-docs.json", "\n".join(json.dumps(r, indent=2) for r in records))
    for path in (array, documents):
        batch = ingest(crm, path, dataset="events", mapping=_ids_only(), threshold=20)
        assert (batch["status"], batch["outputRecordCount"]) == ("success", 17), path.name
        assert summary(crm, batch) == [
            (4, None, "INGEST-1221-400"),
            (7, None, "INGEST-1401-400"),
            (12, 12, "INGEST-1212-400"),
        ], path.name


def test_a_broken_json_array_is_a_file_error_that_says_where(crm: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "broken.json", '[{"_id": "e1", "timestamp": "2026-01-02T03:04:05Z"}, {"_id": ]')
    with pytest.raises(UnreadableFileError, match="is not valid JSON"):
        ingest(crm, path, dataset="events", mapping=None)


@pytest.mark.parametrize(("levels", "message"), [(70, "column 'junk' nests"), (200, "its schema nests")])
def test_a_parquet_schema_nested_past_the_limit_is_refused_clearly(
    crm: Workspace, tmp_path: Path, levels: int, message: str
) -> None:
    """Every record of a Parquet file shares its schema: a schema nested too deep refuses the file."""
    value: pa.Array = pa.array([1, 2])
    for _ in range(levels):
        value = pa.StructArray.from_arrays([value], names=["a"])
    pq.write_table(pa.table({"_id": ["e1", "e2"], "junk": value}), tmp_path / "deep.parquet")
    with pytest.raises(UnreadableFileError, match=f"{message} structs and lists more than 64 levels deep"):
        ingest(crm, tmp_path / "deep.parquet", dataset="events", mapping=None)


def test_a_record_whose_values_change_kind_loses_nothing(crm: Workspace, tmp_path: Path) -> None:
    """The records' shape comes from all of them: an object in one record and text in another is a row
    error for the one that does not fit the schema, not a file error and not a silent null."""
    lines = [json.dumps(event(i, web={"webPageDetails": {"URL": f"https://x.io/{i}"}})) for i in range(1, 30)]
    lines.append(json.dumps(event(30, web="https://x.io/flat")))
    lines.append(json.dumps(event(31, late_key="x")))
    batch = ingest(crm, write(tmp_path / "e.json", "\n".join(lines)), dataset="events", threshold=10,
                   mapping=_ids_and_url())  # fmt: skip
    assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (30, 1)
    [error] = errors(crm, batch)
    assert error["lineNumber"] == 30 and error["record"]["web"] == "https://x.io/flat"


def _ids_and_url() -> Any:
    from accord.ingest import parse_mapping

    return parse_mapping(
        {
            "mappings": [
                {"source": "_id", "destination": "_id"},
                {"source": "timestamp", "destination": "timestamp"},
                {"source": "web", "destination": "web"},
            ]
        }
    )


# -- the depth of JSON text, measured over its bytes, against a plain reference ------------------------


def reference_depth(text: str) -> int:
    depth = deepest = 0
    inside = escaped = False
    for char in text:
        if inside:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                inside = False
        elif char == '"':
            inside = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


tricky_text = st.text(alphabet='ab{}[]"\\/\n é', max_size=12)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(tricky_text, children, max_size=4),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(values, min_size=1, max_size=8))
def test_json_depth_agrees_with_a_plain_reading(documents: list[Any]) -> None:
    texts = [json.dumps(d, ensure_ascii=False) for d in documents]
    assert json_depths(pa.array(texts)).to_pylist() == [reference_depth(t) for t in texts]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"_id": "deep", "junk": ' + "[" * 300 + "]" * 300 + "}", "the first record nests 301 levels"),
        ("[1, 2]", "the first record is a JSON number, not an object"),
    ],
)
def test_a_file_with_no_readable_record_says_why_its_first_is_not(
    crm: Workspace, tmp_path: Path, text: str, why: str
) -> None:
    with pytest.raises(UnreadableFileError) as caught:
        ingest(crm, write(tmp_path / "one.json", text), dataset="events", mapping=_ids_only())
    assert why in caught.value.message, caught.value.message


def test_a_record_without_a_map_field_has_none_not_an_empty_map(workspace: Workspace, tmp_path: Path) -> None:
    from accord import schema

    with workspace.catalog.session() as session:
        schema.create_schema(session, "prod", {"name": "calls", "class": "profile", "fieldGroups": [
            "personal-contact-details", "segment-calls"]})  # fmt: skip
        lake.create_dataset(session, "prod", "calls", "calls")
    rows = [{"personalEmail": {"address": "a@x.io"}, "_tenant": {"segment": {"traits": {"plan": "pro"}}}},
            {"personalEmail": {"address": "b@x.io"}, "_tenant": {"segment": {"traits": {"tier": "gold"}}}},
            {"personalEmail": {"address": "c@x.io"}}]  # fmt: skip
    batch = ingest(workspace, write(tmp_path / "calls.json", "\n".join(map(json.dumps, rows))), dataset="calls",
                   mapping=None)  # fmt: skip
    assert batch["status"] == "success"
    stored = lake.preview(workspace, "prod", "calls", 10)
    traits = [row.get("_tenant", {}).get("segment", {}).get("traits") for row in stored]
    assert traits == [{"plan": "pro"}, {"tier": "gold"}, None]  # an empty map would win a merge over a real one
