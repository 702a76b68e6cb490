"""The Segment-spec API over a real server, driven by the real client libraries from PyPI (Segment's and
RudderStack's), unchanged, pointed at Accord: calls reach the log, the lake, the identity graph and
profiles; bad input gets Segment's 400 (or 401) with what is wrong and where, and never reaches the log."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from accord.streaming.segment_spec import SegmentMapping, call_problem, corrected_timestamp, map_call
from tests.streaming.conftest import Streaming

SEGMENT_GROUPS = ["identitymap", "segment-calls"]


@pytest.fixture
def segment(streaming: Streaming) -> Iterator[tuple[Streaming, str]]:
    api = streaming.api
    for path, body in (
        (
            "/schemas",
            {
                "name": "people",
                "class": "profile",
                "fieldGroups": ["demographic-details", "personal-contact-details", *SEGMENT_GROUPS],
            },
        ),
        ("/schemas", {"name": "clicks", "class": "experienceevent", "fieldGroups": SEGMENT_GROUPS}),
        ("/datasets", {"name": "people", "schema": "people", "profileEnabled": True}),
        ("/datasets", {"name": "clicks", "schema": "clicks", "profileEnabled": True}),
    ):
        made = api.post(path, json=body)
        assert made.status_code == 201, made.text
    made = api.post(
        "/streaming/inlets",
        json={"name": "site", "kind": "segment", "profileDataset": "people", "eventDataset": "clicks"},
    )
    assert made.status_code == 201, made.text
    assert made.json()["kind"] == "segment" and made.json()["batchCollectionUrl"] == "/v1/batch"
    shown = api.get("/streaming/inlets/site").json()
    assert shown.get("writeKey") is None and shown["profileDataset"] == "people" and shown["eventDataset"] == "clicks"
    yield streaming, made.json()["writeKey"]


def profile(streaming: Streaming, namespace: str, value: str) -> dict[str, Any]:
    found = streaming.api.get("/profiles", params={"namespace": namespace, "id": value, "eventsLimit": 100})
    assert found.status_code == 200, found.text
    return found.json()  # type: ignore[no-any-return]


def test_the_real_client_libraries_identify_track_and_alias(segment: tuple[Streaming, str]) -> None:
    streaming, key = segment
    base = str(streaming.api.base_url).rstrip("/")
    errors: list[Any] = []
    # Segment's library sends plain JSON, RudderStack's gzip: both encodings are taken
    seg = SegmentClient(key, host=base, on_error=lambda e, batch: errors.append(e), max_retries=1)
    seg.identify(
        "u-1", {"email": "Ann@Example.com", "firstName": "Ann", "lastName": "Lee", "plan": "pro"}, anonymous_id="anon-1"
    )
    seg.track(anonymous_id="anon-1", event="Product Viewed", properties={"sku": "X-1", "price": 9.5})
    seg.page("u-1", "Docs", "Install", {"path": "/docs"})
    seg.alias("anon-0", "u-1")
    seg.flush()
    rudder = RudderClient(key, host=base, on_error=lambda e, batch: errors.append(e), max_retries=1)
    rudder.identify("u-2", {"email": "bo@example.com", "firstName": "Bo"}, anonymous_id="anon-2")
    rudder.track("u-2", "Order Completed", {"total": 30}, anonymous_id="anon-2")
    rudder.screen("u-2", "Shop", "Cart")
    rudder.alias("anon-2b", "u-2")
    rudder.flush()
    seg.shutdown()
    rudder.shutdown()
    assert errors == []
    assert streaming.process() == 8
    ann = profile(streaming, "CRMID", "u-1")
    assert ann["attributes"]["person"]["name"] == {"firstName": "Ann", "lastName": "Lee"}
    assert ann["attributes"]["personalEmail"]["address"] == "Ann@Example.com"  # as sent; the identity is normalised
    viewed = next(e for e in ann["events"]["items"] if e["eventType"] == "commerce.productViews")
    assert viewed["_tenant"]["segment"]["properties"] == {"sku": "X-1", "price": "9.5"}  # every property, as text
    kinds = {(e["eventType"], e["_tenant"]["segment"].get("event")) for e in ann["events"]["items"]}
    assert kinds == {("commerce.productViews", "Product Viewed"), ("web.webpagedetails.pageViews", None)}
    # one graph for the anonymous id, the user id, the email and the aliased id
    for namespace, value in (
        ("SegmentAnonymousId", "anon-1"),
        ("Email", "ann@example.com"),
        ("SegmentAnonymousId", "anon-0"),
    ):
        same = profile(streaming, namespace, value)
        assert same["attributes"]["person"]["name"]["firstName"] == "Ann", (namespace, value)
        assert len(same["events"]["items"]) == 2
    bo = profile(streaming, "SegmentAnonymousId", "anon-2b")
    assert bo["attributes"]["person"]["name"]["firstName"] == "Bo"  # RudderStack's traits come in the context
    assert bo["attributes"]["personalEmail"]["address"] == "bo@example.com"
    assert {e["eventType"] for e in bo["events"]["items"]} == {"commerce.purchases", "segment.screen"}
    assert profile(streaming, "Email", "bo@example.com")["attributes"]["person"]["name"]["firstName"] == "Bo"


def post(streaming: Streaming, path: str, body: Any, key: str | None, **headers: str) -> httpx.Response:
    if key is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return streaming.anonymous.post(path, content=content, headers={"Content-Type": "application/json", **headers})


def test_segment_rules_refuse_bad_input_before_the_log(segment: tuple[Streaming, str]) -> None:
    streaming, key = segment
    ok = {"userId": "u-9", "event": "Signed Up", "messageId": "m-1"}
    taken = post(streaming, "/v1/track", ok, key)
    assert taken.status_code == 200 and taken.json() == {"success": True}
    assert post(streaming, "/v1/track", ok, key).json() == {"success": True}  # a duplicate: kept once
    big = "x" * 600_000
    cases: list[tuple[httpx.Response, int, str]] = [
        (post(streaming, "/v1/track", ok, "wrong-key"), 401, "write key"),
        (post(streaming, "/v1/track", ok, None), 401, "write key"),
        (post(streaming, "/v1/identify", {"traits": {"email": "a@b.co"}}, key), 400, "`userId` or `anonymousId`"),
        (post(streaming, "/v1/track", {"userId": "u"}, key), 400, "`event`"),
        (post(streaming, "/v1/group", {"userId": "u"}, key), 400, "`groupId`"),
        (post(streaming, "/v1/alias", {"userId": "u"}, key), 400, "`previousId`"),
        (post(streaming, "/v1/page", {"userId": "u", "properties": []}, key), 400, "`properties`"),
        (post(streaming, "/v1/track", {**ok, "timestamp": "yesterday"}, key), 400, "`timestamp`"),
        (post(streaming, "/v1/track", {**ok, "properties": {"pad": "x" * 40_000}}, key), 400, "32 KB"),
        (
            post(
                streaming,
                "/v1/batch",
                {
                    "batch": [
                        {**ok, "type": "track", "properties": {"p": big[:400_000]}},
                        {**ok, "type": "track", "properties": {"p": big[:200_000]}},
                    ]
                },
                key,
            ),
            400,
            "500 KB",
        ),
        (
            post(
                streaming,
                "/v1/batch",
                {
                    "batch": [
                        {**ok, "type": "track", "messageId": "m-2"},
                        {"type": "track", "event": "x"},
                        {"type": "fly", "userId": "u"},
                    ]
                },
                key,
            ),
            400,
            "batch[1]: `userId` or `anonymousId`",
        ),
        (post(streaming, "/v1/batch", {"calls": []}, key), 400, '{"batch": [...]}'),
        (post(streaming, "/v1/track", b"plain", key, **{"Content-Encoding": "gzip"}), 400, "gzip, but it is not"),
        (post(streaming, "/v1/track", b'{"userId": ', key), 400, "not JSON"),
    ]
    for answer, status, said in cases:
        assert answer.status_code == status, (said, answer.text)
        assert said in answer.json()["message"] and "Traceback" not in answer.text, (said, answer.text)
    assert cases[0][0].headers["WWW-Authenticate"] == "Basic"
    assert "batch[2]: `type`" in cases[10][0].json()["message"]  # every bad call is named
    bomb = gzip.compress(json.dumps({"batch": [{**ok, "type": "track", "properties": {"p": big}}]}).encode())
    zipped = post(streaming, "/v1/batch", bomb, key, **{"Content-Encoding": "gzip"})
    assert zipped.status_code == 400 and "500 KB" in zipped.json()["message"]
    # the batch with one bad call left nothing in the log: only the first track is there
    assert streaming.api.get("/streaming/stats").json()["logged"] == 1
    assert streaming.process() == 1
    assert len(profile(streaming, "CRMID", "u-9")["events"]["items"]) == 1


def test_the_write_key_may_come_in_the_body_and_batches_share_their_context(segment: tuple[Streaming, str]) -> None:
    streaming, key = segment
    body = {
        "writeKey": key,
        "context": {"ip": "10.0.0.1"},
        "batch": [{"type": "identify", "anonymousId": "a-7", "traits": {"firstName": "Cy"}}],
    }
    assert post(streaming, "/v1/import", body, None).status_code == 200
    assert streaming.process() == 1
    assert profile(streaming, "SegmentAnonymousId", "a-7")["attributes"]["person"]["name"]["firstName"] == "Cy"


def test_a_segment_inlet_needs_datasets_whose_schemas_hold_the_mapping(segment: tuple[Streaming, str]) -> None:
    streaming, _key = segment
    answer = streaming.api.post(
        "/streaming/inlets", json={"name": "bad", "kind": "segment", "profileDataset": "crm", "eventDataset": "people"}
    )
    assert answer.status_code == 400
    said = answer.json()["message"]
    assert "identityMap" in said and "_tenant.segment.traits" in said and "class experienceevent" in said
    mapped = {"properties": {"sku": "nowhere.sku"}, "identities": {"userId": "NoSuchNamespace"}}
    answer = streaming.api.post(
        "/streaming/inlets",
        json={
            "name": "bad",
            "kind": "segment",
            "mapping": mapped,
            "profileDataset": "people",
            "eventDataset": "clicks",
        },
    )
    assert answer.status_code == 400
    assert "nowhere.sku" in answer.json()["message"] and "NoSuchNamespace" in answer.json()["message"]
    assert (
        streaming.api.post(
            "/streaming/inlets", json={"name": "bad", "kind": "segment", "dataset": "people"}
        ).status_code
        == 400
    )


def test_clock_skew_is_corrected_as_segment_does() -> None:
    received = datetime(2026, 5, 1, 12, 0, 10, tzinfo=UTC)
    call = {"timestamp": "2026-05-01T11:00:00Z", "sentAt": "2026-05-01T11:00:05Z"}
    # the client's clock is 1 h 5 s behind: timestamp + (receivedAt - sentAt)
    assert corrected_timestamp(call, None, received) == datetime(2026, 5, 1, 12, 0, 5, tzinfo=UTC)
    batch_sent = datetime(2026, 5, 1, 11, 0, 10, tzinfo=UTC)
    late = corrected_timestamp({"timestamp": call["timestamp"]}, batch_sent, received)  # the batch's sentAt
    assert late == datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert corrected_timestamp({"timestamp": call["timestamp"]}, None, received) == datetime(2026, 5, 1, 11, tzinfo=UTC)
    assert corrected_timestamp({}, None, received) == received


def test_the_mapping_is_configurable() -> None:
    mapping = SegmentMapping.model_validate(
        {
            "properties": {"total": "commerce.order.priceTotal"},
            "tenantField": "_tenant.web",
            "trackEvents": {"Paid": "commerce.purchases"},
            "identities": {"userId": "CRMID"},
        }
    )
    call = {"type": "track", "userId": 7, "anonymousId": "a", "event": "Paid", "properties": {"total": 3, "n": None}}
    assert call_problem(call, "the call") is None
    mapped = map_call(call, mapping, datetime(2026, 1, 1, tzinfo=UTC))
    assert mapped.target == "event" and len(mapped.message_id) == 64  # no messageId: a hash of the call
    assert (
        mapped.entity["eventType"] == "commerce.purchases" and mapped.entity["timestamp"] == "2026-01-01T00:00:00.000Z"
    )
    assert mapped.entity["commerce"] == {"order": {"priceTotal": 3}}
    assert mapped.entity["identityMap"] == {
        "CRMID": [{"id": "7", "authenticatedState": "authenticated", "primary": True}]
    }
    assert mapped.entity["_tenant"]["web"]["properties"] == {"total": "3"}
