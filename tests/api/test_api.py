"""The REST API through a real uvicorn server: tokens, errors as JSON, uploads, hostile input."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.api import create_app
from accord.settings import Settings
from tests.conftest import Api, setup_crm

MAPPING = json.dumps(
    {
        "mappings": [
            {"source": "first", "destination": "person.name.firstName"},
            {"expression": "lower(email)", "destination": "personalEmail.address"},
        ]
    }
)


def served_routes(routes: list[Any]) -> Iterator[Any]:
    """Every route an application serves, inside included routers too (FastAPI keeps them as they were)."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from served_routes(route.original_router.routes)
        elif hasattr(route, "methods"):
            yield route


@pytest.mark.settings(
    auth_failures_per_minute=100_000
)  # this walk fails on purpose far more often than a minute allows
def test_only_health_and_the_api_description_answer_without_a_token(api: Api, settings: Settings) -> None:
    """Every route the application serves, OpenAPI-documented or not, walked from the app itself; the
    campaign engine's tracking links answer without one, and a made-up link gets 404."""
    public = {"/health": "ok", "/openapi.json": '"openapi"', "/docs": "swagger-ui"}
    for path, marker in public.items():
        response = httpx.get(api.base + path)
        assert response.status_code == 200 and marker in response.text, path
    routes = list(served_routes(create_app(settings).routes))
    assert len(routes) > 40
    walked = 0
    with httpx.Client(base_url=api.base, timeout=60) as client:
        for route in routes:
            if route.path in public:
                continue
            if route.path == "/auth/login":  # where a person signs in, with no token: tests/access/test_sessions.py
                continue
            if route.path.startswith("/ui"):  # the web workspace: no session, no page but the sign-in form
                for method in route.methods - {"HEAD"}:
                    answer = client.request(method, route.path)
                    if route.path == "/ui/login":
                        assert answer.status_code == 200 and 'name="password"' in answer.text, method
                    elif answer.status_code == 303:
                        assert answer.headers["location"] == "/ui/login", (method, route.path)
                    else:
                        assert answer.status_code == 401, (method, route.path, answer.status_code)
                    walked += 1
                continue
            if route.path.startswith("/campaign/t/"):  # e-mail links: their signature is their authentication
                for method in route.methods - {"HEAD"}:
                    response = client.request(method, re.sub(r"\{[^}]+\}", "1.AAAA", route.path))
                    assert (response.status_code, response.text) == (404, "not found"), (method, route.path)
                    walked += 1
                continue
            url = re.sub(r"\{[^}]+\}", "x", route.path).replace("/unions/x", "/unions/profile")
            for method in route.methods - {"HEAD"}:
                for headers in ({}, {"Authorization": "Bearer acc_not-a-real-token"}, {"Authorization": "Basic abc"}):
                    response = client.request(method, url, headers=headers)
                    assert response.status_code == 401, (method, route.path, headers)
                    body = response.json()
                    # the Segment-spec calls take a write key (basic auth), not a token, and say so
                    expected = "STREAM-0401-401" if route.path.startswith("/v1/") else "ACCORD-0401-401"
                    assert body["code"] == expected and body["message"], (method, route.path, body)
                walked += 1
    assert walked > 40
    for gone in ("/redoc", "/docs/oauth2-redirect"):  # one documented page, nothing beside it
        assert httpx.get(api.base + gone).status_code in (401, 404)


def test_openapi_is_complete(api: Api) -> None:
    spec = api.get("/openapi.json").json()
    expected = {
        "/sandboxes",
        "/schemas",
        "/schemas/{name}",
        "/schemas/{name}/jsonschema",
        "/unions/{class_name}",
        "/fieldgroups",
        "/fieldgroups/{name}",
        "/datasets",
        "/datasets/{name}",
        "/datasets/{name}/preview",
        "/datasets/{name}/stats",
        "/datasets/{name}/batches",
        "/batches",
        "/batches/{batch_id}",
        "/batches/{batch_id}/errors",
        "/health",
    }
    assert expected <= set(spec["paths"])
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            success = next(code for code in responses if code.startswith("2"))
            if success != "204":  # JSON, or JSON lines for an export (a schema of each line)
                content = responses[success]["content"]
                media = "application/x-ndjson" if "application/x-ndjson" in content else "application/json"
                assert "schema" in content[media], (method, path)
            if path != "/health":
                assert {"400", "401", "404"} <= set(responses), (method, path)
    assert "bearer" in json.dumps(spec["components"]["securitySchemes"]).lower()


def test_upload_ingest_status_errors_and_delete(api: Api, tmp_path: Path) -> None:
    setup_crm(api)
    body = "first,email\nAnn,ANN@example.com\nBob,not-an-email\n" + "".join(f"P{i},p{i}@x.io\n" for i in range(30))
    response = api.post(
        "/datasets/crm/batches",
        files={"file": ("crm.csv", body.encode())},
        data={"mapping": MAPPING, "errorThreshold": "10"},
    )
    assert response.status_code == 201, response.text
    batch = response.json()
    assert (batch["status"], batch["inputRecordCount"], batch["outputRecordCount"], batch["failedRecordCount"]) == (
        "success",
        32,
        31,
        1,
    )
    assert api.get(f"/batches/{batch['id']}").json()["status"] == "success"
    diagnostics = api.get(f"/batches/{batch['id']}/errors").json()["items"]
    assert diagnostics[0]["lineNumber"] == 3 and diagnostics[0]["_errors"][0]["code"] == "INGEST-1214-400"
    assert diagnostics[0]["record"] == {"first": "Bob", "email": "not-an-email"}
    preview = api.get("/datasets/crm/preview", params={"limit": 2}).json()["rows"]
    assert preview[0]["personalEmail"]["address"] == "ann@example.com"
    assert api.get("/datasets/crm").json()["rowCount"] == 31
    assert api.get("/datasets/crm/stats").json()["fields"]["person.name.firstName"]["count"] == 31
    deleted = api.delete(f"/batches/{batch['id']}")
    assert deleted.status_code == 200 and deleted.json()["status"] == "deleted"
    assert api.get(f"/batches/{batch['id']}").json()["status"] == "deleted"  # the record stays, marked
    assert api.get("/datasets/crm/preview").json()["rows"] == []
    assert api.get("/datasets/crm").json()["rowCount"] == 0


def test_deleting_a_schema(api: Api) -> None:
    setup_crm(api)
    spare = {"name": "spare", "class": "profile", "fieldGroups": ["demographic-details"]}
    assert api.post("/schemas", json=spare).status_code == 201
    used = api.delete("/schemas/crm")
    assert used.status_code == 409 and "datasets use it: crm" in used.json()["message"]
    assert api.get("/schemas/crm").status_code == 200  # refused: still there
    assert api.delete("/schemas/spare").status_code == 204
    assert api.get("/schemas/spare").status_code == 404
    assert [s["name"] for s in api.get("/schemas").json()] == ["crm"]
    assert api.delete("/schemas/spare").status_code == 404


def test_errors_are_json_with_code_message_details(api: Api) -> None:
    setup_crm(api)
    missing = api.get("/schemas/crn")
    assert missing.status_code == 404
    assert missing.json()["code"] == "SCHEMA-0404-404" and "did you mean crm" in missing.json()["message"]
    duplicate = api.post("/datasets", json={"name": "crm", "schema": "crm"})
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "DATASET-0409-409"
    invalid = api.post("/schemas", json={"name": "x", "class": "nope", "fieldGroups": ["zzz"]})
    assert invalid.status_code == 400
    assert [p["path"] for p in invalid.json()["details"]["problems"]] == ["class", "fieldGroups[0]"]
    wrong_type = api.post("/datasets", json={"name": 5, "schema": ["crm"]})
    assert wrong_type.status_code == 400 and wrong_type.json()["code"] == "ACCORD-0400-400"
    not_json = api.post("/schemas", content=b"{not json", headers={"content-type": "application/json"})
    assert not_json.status_code == 400
    unknown_route = api.get("/nothing-here")
    assert unknown_route.status_code == 404 and unknown_route.json()["code"] == "ACCORD-0404-404"
    sandbox = api.get("/schemas", headers={"x-sandbox-name": "nope"})
    assert sandbox.status_code == 404 and sandbox.json()["code"] == "SANDBOX-0404-404"


def test_hostile_uploads(api: Api, settings: Settings) -> None:
    setup_crm(api)
    bad_mapping = api.post(
        "/datasets/crm/batches", files={"file": ("a.csv", b"first\nAnn\n")}, data={"mapping": "{oops"}
    )
    assert bad_mapping.status_code == 400 and "not valid JSON" in bad_mapping.json()["message"]
    unknown_column = api.post(
        "/datasets/crm/batches",
        files={"file": ("a.csv", b"first\nAnn\n")},
        data={"mapping": json.dumps({"mappings": [{"source": "nope", "destination": "person.name.firstName"}]})},
    )
    assert (
        unknown_column.status_code == 400
        and unknown_column.json()["details"]["problems"][0]["path"] == "mappings[0].source"
    )
    traversal = api.post(
        "/datasets/crm/batches",
        files={"file": ("../../../etc/passwd", b"first,email\nAnn,a@b.io\n")},
        data={"mapping": MAPPING},
    )
    assert traversal.status_code == 201 and traversal.json()["source"] == "../../../etc/passwd"
    empty = api.post("/datasets/crm/batches", files={"file": ("e.csv", b"")}, data={"mapping": MAPPING})
    assert empty.status_code == 400 and "empty" in empty.json()["message"]
    threshold = api.post(
        "/datasets/crm/batches", files={"file": ("a.csv", b"first\nAnn\n")}, data={"errorThreshold": "150"}
    )
    assert threshold.status_code == 400
    binary = api.post(
        "/datasets/crm/batches", files={"file": ("x.csv", bytes(range(256)) * 100)}, data={"mapping": MAPPING}
    )
    assert binary.status_code == 400 and binary.json()["code"].startswith("INGEST-")
    uploads = settings.home / "lake" / "_uploads"
    assert uploads.is_dir() and not any(uploads.iterdir())  # where uploads land: each removed once ingested


@pytest.mark.settings(max_upload_bytes=1000, max_uncompressed_bytes=5000)
def test_upload_size_limit(api: Api) -> None:
    setup_crm(api)
    response = api.post("/datasets/crm/batches", files={"file": ("big.csv", b"first\n" + b"x\n" * 2000)})
    assert response.status_code == 413 and "larger than 1,000 bytes" in response.json()["message"]
    assert response.json()["code"] == "ACCORD-0413-413"
    import gzip

    bomb = gzip.compress(b"first\n" + b"x\n" * 50_000)  # small to upload, large once unpacked
    assert len(bomb) < 1000
    unpacked = api.post("/datasets/crm/batches", files={"file": ("b.csv.gz", bomb)})
    assert unpacked.status_code == 400 and "expands to more than 5,000 bytes" in unpacked.json()["message"]


def _answer_before_the_body(base: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Send only a request's head, declaring 50 MB of multipart body, and read the answer: the server must
    give it without waiting for a byte of the body."""
    host, port = base.removeprefix("http://").split(":")
    head = "".join(f"{name}: {value}\r\n" for name, value in {
        "Host": host, "Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(50 * 2**20),
        **headers}.items())  # fmt: skip
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(f"POST /datasets/crm/batches HTTP/1.1\r\n{head}\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


@pytest.mark.settings(max_upload_bytes=1000)
def test_uploads_are_refused_before_their_body_is_read(api: Api) -> None:
    """No token, a wrong one, or a declared size past the limit: the answer comes on the request's head
    (the body is never received, so nobody can fill the server's disk); a body sent without a length is
    cut off once past the limit."""
    setup_crm(api)
    for headers, status, code in (({}, 401, "ACCORD-0401-401"),
                                  ({"Authorization": "Bearer acc_wrong"}, 401, "ACCORD-0401-401"),
                                  ({"Authorization": f"Bearer {api.token}"}, 413, "ACCORD-0413-413")):  # fmt: skip
        answered, body = _answer_before_the_body(api.base, headers)
        assert (answered, body["code"]) == (status, code), body

    def endless() -> Iterator[bytes]:
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nfirst\n'
        for _ in range(10_000):
            yield b"Ann\n" * 1000

    chunked = api.post("/datasets/crm/batches", content=endless(),
                       headers={"Content-Type": "multipart/form-data; boundary=x"})  # fmt: skip
    assert chunked.status_code == 413 and chunked.json()["code"] == "ACCORD-0413-413"
    assert api.get("/batches").json() == []  # nothing was ingested


def test_oversized_and_deeply_nested_documents(api: Api) -> None:
    huge = api.post(
        "/schemas", content=b'{"name": "' + b"x" * (11 * 2**20) + b'"}', headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413 and huge.json()["code"] == "ACCORD-0413-413"
    nested: dict[str, Any] = {"type": "string"}
    for _ in range(200):
        nested = {"type": "object", "properties": {"a": nested}}
    deep = api.post("/fieldgroups", json={"name": "deep", "classes": ["profile"], "fields": {"_tenant": nested}})
    assert deep.status_code == 400 and "at most 16 are allowed" in deep.json()["message"]
    assert api.get("/health").status_code == 200  # the server is still answering
