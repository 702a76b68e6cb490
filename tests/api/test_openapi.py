"""The OpenAPI document says what the API answers: bad input is 400 with an ErrorBody on every operation
(`accord.api.errors` answers so), never FastAPI's 422 shape."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


def test_every_operation_declares_400_error_body_and_no_422(api: Api) -> None:
    document = api.get("/openapi.json").json()
    operations = [(method, path, operation) for path, methods in document["paths"].items()
                  for method, operation in methods.items()]  # fmt: skip
    assert len(operations) > 100  # the whole API, not a part of it
    for method, path, operation in operations:
        responses = operation["responses"]
        assert "422" not in responses, (method, path)
        assert responses["400"]["content"]["application/json"]["schema"] == ERROR_BODY, (method, path)
    assert not {"HTTPValidationError", "ValidationError"} & set(document["components"]["schemas"])
    answer = api.get("/datasets/nope/preview", params={"limit": "many"})  # as declared: 400, an ErrorBody
    assert answer.status_code == 400 and set(answer.json()) == {"code", "message", "details"}, answer.text


def test_the_schedule_body_is_documented_and_refused_with_the_clis_code(api: Api, cli: Any) -> None:
    document = api.get("/openapi.json").json()
    body = document["paths"]["/segment/schedule"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"everyHours", "at", "rebuildProfiles"} <= set(body["properties"])
    for bad, args in [
        ({"everyHours": 0}, ("--every-hours", "0")),
        ({"everyHours": 6, "at": "25:00"}, ("--at", "25:00")),
    ]:
        by_api = api.put("/segment/schedule", json=bad)
        by_cli = cli("segment", "schedule", "set", *args, "--json")
        assert by_api.status_code == 400 and by_cli.code == 2, (by_api.text, by_cli.stdout)
        assert by_api.json()["code"] == by_cli.json()["error"]["code"] == "SEGMENT-0431-400"
        assert by_api.json()["details"]["problems"] == by_cli.json()["error"]["details"]["problems"]
