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


def test_the_same_upload_twice_warns_and_can_be_skipped(api: Api) -> None:
    setup_crm(api)
    upload = {"file": ("people.csv", b"first,email\nAnn,ann@example.com\n")}
    first = api.post("/datasets/crm/batches", files=upload, data={"mapping": MAPPING})
    assert first.status_code == 201 and first.json()["warnings"] == []
    again = api.post("/datasets/crm/batches", files=upload, data={"mapping": MAPPING})
    assert again.status_code == 201
    [warning] = again.json()["warnings"]
    assert warning["code"] == "INGEST-1007-200" and warning["batchId"] == first.json()["id"]
    assert again.json()["contentHash"] == first.json()["contentHash"]
    skipped = api.post("/datasets/crm/batches", files=upload, data={"mapping": MAPPING, "skipDuplicateFiles": "true"})
    assert skipped.status_code == 200 and skipped.json()["skipped"] is True
    assert skipped.json()["id"] == first.json()["id"]
    assert len(api.get("/batches", params={"dataset": "crm"}).json()) == 2
    document = api.get("/openapi.json").json()
    form = document["components"]["schemas"]["Body_post_batch_datasets__name__batches_post"]["properties"]
    assert "skipDuplicateFiles" in form
    assert "200" in document["paths"]["/datasets/{name}/batches"]["post"]["responses"]
