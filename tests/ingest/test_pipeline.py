"""Batch ingestion end to end: formats, compressions, partial ingestion, and bad input of every kind."""

from __future__ import annotations

import bz2
import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accord import lake
from accord.ingest import InvalidMappingError, UnreadableFileError, parse_mapping
from accord.workspace import Workspace
from tests.ingest.conftest import HEADER, ROWS, assert_refused, errors, ingest, names, write


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|", "^"])
def test_any_single_character_delimiter(crm: Workspace, tmp_path: Path, delimiter: str) -> None:
    text = "\n".join(line.replace(",", delimiter) for line in [HEADER, *ROWS]) + "\n"
    given = {"delimiter": delimiter} if delimiter == "^" else {}  # the usual ones are detected
    batch = ingest(crm, write(tmp_path / "crm.csv", text), **given)
    assert (batch["status"], batch["outputRecordCount"]) == ("success", 3)
    assert names(crm) == ["Ann", "Bob", "Cy"]


def test_quoting_and_quoted_newlines(crm: Workspace, tmp_path: Path) -> None:
    text = (
        f'{HEADER}\n1,"Ann, Jr","Lee\nSmith",ann@example.com,gold\n'
        '2,"Bob ""B""",Ng,bob@example.com,silver\n3,Cy,Ko,BAD,gold\n'
    )
    batch = ingest(crm, write(tmp_path / "crm.csv", text), threshold=50)
    assert batch["outputRecordCount"] == 2 and batch["failedRecordCount"] == 1
    rows = {r["person"]["name"]["firstName"]: r for r in lake.preview(crm, "prod", "crm")}
    assert rows["Ann, Jr"]["person"]["name"]["lastName"] == "Lee\nSmith"
    assert 'Bob "B"' in rows
    [error] = errors(crm, batch)
    assert error["lineNumber"] == 5 and error["rowNumber"] == 3  # the quoted newline counts as a line


def test_json_lines_and_arrays_map_nested_objects(crm: Workspace, tmp_path: Path) -> None:
    events = [
        {
            "_id": "e1",
            "timestamp": "2026-01-02T03:04:05Z",
            "eventType": "commerce.purchases",
            "identityMap": {"Email": [{"id": "a@b.com", "primary": True}]},
            "commerce": {"order": {"priceTotal": 12.5, "currencyCode": "EUR"}},
            "productListItems": [{"SKU": "s1", "quantity": 2}],
        },
        {
            "_id": "e2",
            "timestamp": "2026-01-03T00:00:00+02:00",
            "web": {"webPageDetails": {"URL": "https://x.io/a"}},
            "identityMap": {"ECID": [{"id": "1" * 38, "authenticatedState": "ambiguous"}]},
        },
    ]
    import json

    lines = write(tmp_path / "events.json", "\n".join(json.dumps(e) for e in events))
    array = write(tmp_path / "events-array.json", json.dumps(events, indent=2))
    for path in (lines, array):
        batch = ingest(crm, path, dataset="events", mapping=None)
        assert (batch["status"], batch["outputRecordCount"]) == ("success", 2), batch
    rows = lake.preview(crm, "prod", "events")
    first = next(r for r in rows if r["_id"] == "e1")
    assert first["commerce"]["order"]["priceTotal"] == 12.5
    assert first["identityMap"] == {"Email": [{"id": "a@b.com", "primary": True, "authenticatedState": None}]}
    assert first["productListItems"][0]["quantity"] == 2
    second = next(r for r in rows if r["_id"] == "e2")
    assert second["timestamp"] == "2026-01-02T22:00:00+00:00"  # stored in UTC
    assert list(second["identityMap"]) == ["ECID"]


def test_parquet_input(crm: Workspace, tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": ["7", "8"],
            "first": ["Gus", "Hal"],
            "last": ["A", "B"],
            "email": ["g@x.io", "h@x.io"],
            "tier": ["gold", None],
        }
    )
    pq.write_table(table, tmp_path / "crm.parquet")
    batch = ingest(crm, tmp_path / "crm.parquet")
    assert (batch["status"], batch["format"], batch["outputRecordCount"]) == ("success", "parquet", 2)


def _archives(tmp_path: Path, text: bytes) -> dict[str, Path]:
    made = {}
    made["gzip"] = tmp_path / "a.txt"
    made["gzip"].write_bytes(gzip.compress(text))
    made["bzip2"] = tmp_path / "b.dat"
    made["bzip2"].write_bytes(bz2.compress(text))
    made["zip"] = tmp_path / "c.csv"
    with zipfile.ZipFile(made["zip"], "w") as archive:
        archive.writestr("export/crm.csv", text)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("crm.csv")
        info.size = len(text)
        archive.addfile(info, io.BytesIO(text))
    made["tar.gz"] = tmp_path / "d.bin"
    made["tar.gz"].write_bytes(buffer.getvalue())
    return made


def test_compressions_are_detected_by_content_not_suffix(crm: Workspace, tmp_path: Path) -> None:
    text = ("\n".join([HEADER, *ROWS]) + "\n").encode()
    for kind, path in _archives(tmp_path, text).items():
        batch = ingest(crm, path)
        assert (batch["status"], batch["outputRecordCount"]) == ("success", 3), kind
    assert len(names(crm)) == 12


def test_partial_ingestion_keeps_good_rows_and_reports_bad_ones(crm: Workspace, tmp_path: Path) -> None:
    good = [f"{i},N{i},L{i},n{i}@example.com,gold" for i in range(1, 101)]
    bad = [
        "101,Ragged,Row",  # corrupt: too few columns
        "abc,Pat,Tern,p@example.com,gold",  # pattern
        "123456789,Too,Long,t@example.com,gold",  # maxLength
        ",No,Id,x@example.com,gold",  # required
        "104,Enum,Bad,e@example.com,bronze",  # enum
    ]
    path = write(tmp_path / "crm.csv", "\n".join([HEADER, *good[:50], *bad, *good[50:]]) + "\n")
    batch = ingest(crm, path, threshold=5)
    assert batch["status"] == "success"
    assert (batch["inputRecordCount"], batch["outputRecordCount"], batch["failedRecordCount"]) == (105, 100, 5)
    found = {e["lineNumber"]: e["_errors"][0] for e in errors(crm, batch)}
    assert {line: e["code"] for line, e in found.items()} == {
        52: "INGEST-1401-400",
        53: "INGEST-1214-400",
        54: "INGEST-1216-400",
        55: "INGEST-1555-400",
        56: "INGEST-1215-400",
    }
    assert "bronze" in found[56]["message"] and found[56]["path"] == "_tenant.tier"
    records = {e["lineNumber"]: (e["record"] or e["_corrupt_record"]) for e in errors(crm, batch)}
    assert records[52] == "101,Ragged,Row" and records[53]["id"] == "abc"


def test_over_the_threshold_nothing_of_the_batch_is_visible(crm: Workspace, tmp_path: Path) -> None:
    first = ingest(crm, write(tmp_path / "ok.csv", "\n".join([HEADER, *ROWS]) + "\n"))
    text = "\n".join([HEADER, ROWS[0].replace("1,", "x1,"), "9,Zed,Q,z@example.com,gold"]) + "\n"
    batch = ingest(crm, write(tmp_path / "bad.csv", text), threshold=10)
    assert batch["status"] == "failed" and batch["outputRecordCount"] == 0
    assert batch["errors"][0]["code"] == "INGEST-1001-400" and "50.00%" in batch["errors"][0]["message"]
    assert names(crm) == ["Ann", "Bob", "Cy"]  # what was stored before is untouched
    assert len(errors(crm, batch)) == 1  # diagnostics still tell why
    assert first["status"] == "success"
    assert not any((crm.lake.root / "_staging").iterdir())


def test_deleting_a_batch_removes_its_rows(crm: Workspace, tmp_path: Path) -> None:
    one = ingest(crm, write(tmp_path / "a.csv", "\n".join([HEADER, ROWS[0]]) + "\n"))
    ingest(crm, write(tmp_path / "b.csv", "\n".join([HEADER, ROWS[1]]) + "\n"))
    assert names(crm) == ["Ann", "Bob"]
    deleted = lake.delete_batch(crm, "prod", one["id"])
    assert deleted["status"] == "deleted"
    assert names(crm) == ["Bob"]
    assert lake.statistics(crm, "prod", "crm")["rowCount"] == 1


# -- bad input: each gives a clear message, and nothing is lost -------------------------------------


def test_wrong_delimiter(crm: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "crm.csv", "\n".join([HEADER, *ROWS]) + "\n")
    assert_refused(crm, UnreadableFileError, "is the delimiter right? this file seems to use ','", path, delimiter=";")


def test_utf8_with_bom(crm: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join([HEADER, *ROWS]) + "\n").encode())
    assert ingest(crm, path)["outputRecordCount"] == 3


def test_latin1_is_detected_and_read(crm: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "latin.csv", f"{HEADER}\n1,Renée,Müller,r@example.com,gold\n", "latin-1")
    batch = ingest(crm, path)
    assert batch["outputRecordCount"] == 1 and "latin-1" in batch["options"]["notes"][0]
    assert names(crm) == ["Renée"]


def test_ragged_rows_are_corrupt_rows_with_line_numbers(crm: Workspace, tmp_path: Path) -> None:
    rows = [f"{i},N{i},L{i},n{i}@example.com,gold" for i in range(1, 40)]
    rows[9] += ",extra"
    rows[19] = "20,short"
    batch = ingest(crm, write(tmp_path / "crm.csv", "\n".join([HEADER, *rows]) + "\n"), threshold=10)
    assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (37, 2)
    assert [(e["lineNumber"], e["_errors"][0]["code"]) for e in errors(crm, batch)] == [
        (11, "INGEST-1401-400"),
        (21, "INGEST-1401-400"),
    ]


def test_truncated_gzip(crm: Workspace, tmp_path: Path) -> None:
    data = gzip.compress(("\n".join([HEADER, *ROWS * 2000]) + "\n").encode())
    path = tmp_path / "crm.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    assert_refused(crm, UnreadableFileError, "gzip data is truncated or corrupt", path)


def test_empty_file(crm: Workspace, tmp_path: Path) -> None:
    assert_refused(crm, UnreadableFileError, "the file is empty", write(tmp_path / "e.csv", ""))


def test_header_only(crm: Workspace, tmp_path: Path) -> None:
    batch = ingest(crm, write(tmp_path / "h.csv", HEADER + "\n"))
    assert batch["status"] == "failed" and batch["errors"][0]["code"] == "INGEST-1002-400"


def test_duplicate_column_names(crm: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "dup.csv", "id,first,email,email\n1,a,b,c\n")
    assert_refused(crm, UnreadableFileError, "duplicate column name 'email' (columns 3 and 4)", path)


def test_json_that_is_not_json(crm: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "x.json", '{"_id": "e1", "timestamp": ')
    with pytest.raises(UnreadableFileError, match="is not valid JSON"):
        ingest(crm, path, dataset="events", mapping=None)


def test_parquet_with_a_different_schema(crm: Workspace, tmp_path: Path) -> None:
    pq.write_table(pa.table({"sku": ["a"], "price": [1.0]}), tmp_path / "other.parquet")
    assert_refused(crm, InvalidMappingError, "unknown column 'id'", tmp_path / "other.parquet")
    with pytest.raises(InvalidMappingError, match="column 'sku'"):  # and without a mapping
        ingest(crm, tmp_path / "other.parquet", mapping=None)


def test_a_line_longer_than_the_limit_is_a_corrupt_row(crm: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    with path.open("w") as handle:
        handle.write(HEADER + "\n" + "\n".join(ROWS) + "\n")
        handle.write("4,Long," + "x" * 5_000_000 + ",l@example.com,gold\n")
    batch = ingest(crm, path, threshold=30)
    assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (3, 1)
    [error] = errors(crm, batch)
    assert error["lineNumber"] == 5 and error["_errors"][0]["code"] == "INGEST-1220-400"  # over 100 KB


def bytes_read() -> int:
    """Bytes this process has read through system calls so far (Linux counts them per process)."""
    counters = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(counters["rchar"])


def test_a_one_gigabyte_single_line(crm: Workspace, tmp_path: Path) -> None:
    """A 1 GB file without a line break: refused from its first megabytes, without reading it all."""
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.write(b"x" * 4 * 2**20)
        handle.truncate(2**30)  # the rest is sparse: 1 GB on paper, little on disk
    assert path.stat().st_size == 2**30
    before = bytes_read()
    assert_refused(crm, UnreadableFileError, "the first line is longer than", path)
    assert bytes_read() - before < 64 * 2**20  # its first megabytes, not the gigabyte
    path.unlink()


def test_json_and_parquet_row_errors_carry_record_numbers(crm: Workspace, tmp_path: Path) -> None:
    import json

    events = [{"_id": f"e{i}", "timestamp": "2026-01-02T03:04:05Z"} for i in range(30)]
    events[7]["timestamp"] = "not a time"
    events[21]["web"] = {"webPageDetails": {"URL": "no scheme"}}
    path = write(tmp_path / "events.json", "\n".join(json.dumps(e) for e in events))
    batch = ingest(crm, path, dataset="events", mapping=None, threshold=10)
    assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (28, 2)
    found = [(e["rowNumber"], e["lineNumber"], e["_errors"][0]["code"], e["record"]["_id"]) for e in errors(crm, batch)]
    assert found == [(8, 8, "INGEST-1212-400", "e7"), (22, 22, "INGEST-1214-400", "e21")]
    table = pa.table(
        {
            "id": [str(i) for i in range(1, 41)],
            "first": ["A"] * 40,
            "last": ["B"] * 40,
            "email": ["a@b.io"] * 39 + ["broken"],
            "tier": ["gold"] * 40,
        }
    )
    pq.write_table(table, tmp_path / "crm.parquet")
    batch = ingest(crm, tmp_path / "crm.parquet", threshold=5)
    [error] = errors(crm, batch)
    assert error["rowNumber"] == 40 and error["record"]["email"] == "broken"


def test_a_failing_row_is_located_even_when_a_good_row_looks_like_it(crm: Workspace, tmp_path: Path) -> None:
    """Rows are found by content; a good row equal to a failing one on most columns must not be taken for it."""
    rows = [f"{i},N{i},L{i},n{i}@example.com,gold" for i in range(1, 40)]
    rows[4] = "1000,Ann,Lee,ann@example.com,gold"
    rows[30] = "x1000,Ann,Lee,ann@example.com,gold"  # fails the id pattern; equal to row 5 elsewhere
    batch = ingest(crm, write(tmp_path / "crm.csv", "\n".join([HEADER, *rows]) + "\n"), threshold=10)
    [error] = errors(crm, batch)
    assert (error["lineNumber"], error["rowNumber"], error["record"]["id"]) == (32, 31, "x1000")


def test_integers_are_never_rounded_or_guessed(crm: Workspace, tmp_path: Path) -> None:
    mapping = parse_mapping(
        {
            "mappings": [
                {"source": "id", "destination": "_tenant.crmId"},
                {"source": "points", "destination": "_tenant.points"},
            ]
        }
    )
    text = "id,points\n1,7\n2, +8 \n3,1.5\n4,0x10\n5,1_000\n6,\n"
    batch = ingest(crm, write(tmp_path / "p.csv", text), mapping=mapping, threshold=60)
    assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (3, 3)
    assert sorted(e["record"]["points"] for e in errors(crm, batch)) == ["0x10", "1.5", "1_000"]


def test_size_guardrails_reject_large_events_and_records(crm: Workspace, tmp_path: Path) -> None:
    import json

    big_page = {"webPageDetails": {"name": "x" * 11_000}}
    events = [{"_id": "small", "timestamp": "2026-01-01T00:00:00Z"},
              {"_id": "big", "timestamp": "2026-01-01T00:00:00Z", "web": big_page}]  # fmt: skip
    path = write(tmp_path / "e.json", "\n".join(json.dumps(e) for e in events))
    batch = ingest(crm, path, dataset="events", mapping=None, threshold=60)
    assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (1, 1)
    [error] = errors(crm, batch)
    assert error["_errors"][0]["code"] == "INGEST-1220-400" and "larger than 10 KB" in error["_errors"][0]["message"]
    rows = [f"{i},N{i},L{i},n{i}@example.com,gold" for i in range(1, 10)] + ["10,Big," + "y" * 103_000 + ",b@x.io,gold"]
    batch = ingest(crm, write(tmp_path / "big.csv", "\n".join([HEADER, *rows]) + "\n"), threshold=20)
    assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (9, 1)
    assert errors(crm, batch)[0]["_errors"][0]["code"] == "INGEST-1220-400"


def test_the_first_line_limit_is_the_one_the_docs_give(crm: Workspace, tmp_path: Path) -> None:
    """A header longer than a profile record may be is refused with the limit docs/ingestion.md states."""
    columns = ",".join(f"column_{i:06d}" for i in range(8_000))  # about 110 KB: over the 100 KB record limit
    path = write(tmp_path / "wide.csv", columns + "\n" + ",".join(["x"] * 8_000) + "\n")
    message = "the first line is longer than 102,400 bytes, the longest line this dataset accepts"
    assert_refused(crm, UnreadableFileError, message, path)
    documented = (Path(__file__).resolve().parents[2] / "docs" / "ingestion.md").read_text()
    assert f'"{message}"' in documented
    events = tmp_path / "events.csv"
    events.write_text(",".join(f"c{i:05d}" for i in range(2_000)) + "\n")  # 12 KB: over an event's 10 KB
    with pytest.raises(UnreadableFileError, match="longer than 10,240 bytes, the longest line this dataset"):
        ingest(crm, events, dataset="events", mapping=None)
