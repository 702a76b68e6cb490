"""Uploads with bad input through a real server: row errors in the answer, nothing alarming in the log."""

from __future__ import annotations

import json
import logging

import pytest

from tests.conftest import Api, setup_crm

MAPPING = json.dumps(
    {
        "mappings": [
            {"source": "first", "destination": "person.name.firstName"},
            {"expression": "lower(email)", "destination": "personalEmail.address"},
        ]
    }
)


def deep_text(levels: int) -> str:
    return '{"a":' * (levels - 1) + '{"v":1}' + "}" * (levels - 1)


@pytest.mark.parametrize("layout", ["lines", "array"])
def test_a_deeply_nested_upload_is_a_row_error_without_a_traceback(
    api: Api, caplog: pytest.LogCaptureFixture, layout: str
) -> None:
    setup_crm(api)
    records = [
        json.dumps({"first": "Ann", "email": "ann@example.com"}),
        '{"first": "Deep", "email": "d@example.com", "junk": ' + deep_text(5_000) + "}",
        json.dumps({"first": "Bob", "email": "bob@example.com"}),
    ]
    body = "\n".join(records) if layout == "lines" else "[" + ",\n".join(records) + "]"
    with caplog.at_level(logging.INFO):
        response = api.post(
            "/datasets/crm/batches",
            files={"file": ("people.json", body.encode())},
            data={"mapping": MAPPING, "errorThreshold": "50"},
        )
        assert response.status_code == 201, response.text[:2000]
        batch = response.json()
        assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (2, 1)
        items = api.get(f"/batches/{batch['id']}/errors").json()["items"]
    assert [(i["lineNumber"], i["_errors"][0]["code"]) for i in items] == [(2, "INGEST-1221-400")]
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]


def test_a_mapping_field_nested_too_deeply_is_a_400(api: Api) -> None:
    setup_crm(api)
    response = api.post(
        "/datasets/crm/batches",
        files={"file": ("a.csv", b"first\nAnn\n")},
        data={"mapping": "[" * 100_000 + "]" * 100_000},
    )
    assert response.status_code == 400 and "nested too deeply" in response.json()["message"]
