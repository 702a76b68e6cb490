"""Streaming inlets over a real server: messages in the reference product's format are taken once each,
kept in the event log before the answer, processed into the lake, the identity graph and profiles; bad
input gets a clear answer and loses nothing already taken."""

from __future__ import annotations

import gzip
import json
import sqlite3
import time
from typing import Any

import httpx
import pytest

from accord.settings import Settings
from accord.streaming.service import LAG_SECONDS
from tests.streaming.conftest import Streaming, inlet, message


def test_messages_are_taken_once_and_reach_the_lake_and_profiles(streaming: Streaming, settings: Settings) -> None:
    inlet_id = inlet(streaming)
    assert len(inlet_id) == 64
    one = streaming.api.post(f"/collection/{inlet_id}", json=message("ann@example.com"))
    assert one.status_code == 200, one.text
    assert one.json()["inletId"] == inlet_id and one.json()["xactionId"] and "duplicate" not in one.json()
    again = streaming.api.post(f"/collection/{inlet_id}", json=message("ann@example.com"))
    assert again.json()["duplicate"] is True and again.json()["xactionId"] == one.json()["xactionId"]
    batch = streaming.api.post(f"/collection/batch/{inlet_id}", json={"messages": [
        message("bo@example.com", "Bo"), {"header": {}, "body": {}}, message("cy@example.com", "Cy", msgId="c-1"),
        message("cy@example.com", "Cy", msgId="c-1"), "not a message"]})  # fmt: skip
    assert batch.status_code == 207, batch.text
    answers = batch.json()["responses"]
    assert [a["status"] for a in answers] == [200, 400, 200, 200, 400]
    assert "body.xdmEntity" in answers[1]["message"] and "messages[1]" in answers[1]["message"]
    assert answers[3]["duplicate"] is True and "messages[4]" in answers[4]["message"]
    assert streaming.process() == 3  # ann, bo, cy: each once
    batches = streaming.api.get("/batches", params={"dataset": "crm"}).json()
    assert sum(b["outputRecordCount"] for b in batches) == 3
    found = streaming.api.get("/profiles", params={"namespace": "Email", "id": "bo@example.com"})
    assert found.status_code == 200, found.text
    assert found.json()["attributes"]["person"]["name"]["firstName"] == "Bo"
    stats = streaming.api.get("/streaming/stats").json()
    assert stats["processed"] == 3 and stats["lagMessages"] == 0 and stats["accepted"] == 5
    # the log redelivers (a processor killed before it moved its position on): nothing is ingested twice
    with sqlite3.connect(settings.home / "streaming" / "log.db") as db:
        db.execute("UPDATE consumers SET position = 0")
    assert streaming.process() == 3  # read again...
    batches = streaming.api.get("/batches", params={"dataset": "crm"}).json()
    assert sum(b["outputRecordCount"] for b in batches) == 3  # ...kept once
    assert streaming.app.state.streaming.processor.stats.deduplicated == 3


def test_who_may_post_to_an_inlet(streaming: Streaming) -> None:
    private, public = inlet(streaming, "private"), inlet(streaming, "open", public=True)
    assert streaming.anonymous.post(f"/collection/{private}", json=message("a@x.io")).status_code == 401
    assert streaming.anonymous.post(f"/collection/{'0' * 64}", json=message("a@x.io")).status_code == 401
    unknown = streaming.api.post(f"/collection/{'0' * 64}", json=message("a@x.io"))
    assert unknown.status_code == 404 and unknown.json()["code"] == "STREAM-0404-404"
    assert streaming.anonymous.post(f"/collection/{public}", json=message("a@x.io")).status_code == 200
    elsewhere = streaming.anonymous.post(f"/collection/{public}", json=message("b@x.io", datasetId="other"))
    assert elsewhere.status_code == 403 and "public inlet" in elsewhere.json()["message"]
    routed = streaming.api.post(f"/collection/{private}", json=message("c@x.io", datasetId="other"))
    assert routed.status_code == 200  # a token's caller may name another dataset of the sandbox
    assert streaming.api.post(f"/collection/{private}", json=message("d@x.io", datasetId="nosuch")).status_code == 400
    assert streaming.process() == 2
    landed = {name: sum(b["outputRecordCount"] for b in streaming.api.get("/batches", params={"dataset": name}).json())
              for name in ("crm", "other")}  # fmt: skip
    assert landed == {"crm": 1, "other": 1}


def test_a_batch_naming_a_dataset_not_yet_known_is_checked_against_its_contract(streaming: Streaming) -> None:
    # small requests are checked on the event loop once what they need is known; a dataset the server has not
    # read yet (here `other`, a freeze contract) sends them to a worker thread, which reads it
    assert streaming.api.patch("/datasets/other", json={"schemaContract": "freeze"}).status_code == 200
    url = f"/collection/{inlet(streaming)}"
    assert streaming.api.post(url, json=message("warm@x.io")).status_code == 200  # inlet, token, `crm` now known
    stray = message("stray@x.io", datasetId="other")
    stray["body"]["xdmEntity"]["loyaltyTier"] = "gold"
    for attempt in range(2):  # then again, with `other` known
        sent = streaming.api.post(url.replace("/collection/", "/collection/batch/"), json={"messages": [
            message(f"a{attempt}@x.io"), message(f"b{attempt}@x.io", datasetId="other"), stray]})  # fmt: skip
        answers = sent.json()["responses"]
        assert [a["status"] for a in answers] == [200, 200, 400], sent.text
        assert "loyaltyTier" in answers[2]["message"] and "freeze" in answers[2]["message"]
    assert streaming.process() == 5
    landed = {name: sum(b["outputRecordCount"] for b in streaming.api.get("/batches", params={"dataset": name}).json())
              for name in ("crm", "other")}  # fmt: skip
    assert landed == {"crm": 3, "other": 2}


def test_the_collection_urls_are_described_whole_in_the_openapi_document(streaming: Streaming) -> None:
    # they read their token, header and query parameter themselves (faster): the document must still say them
    paths = streaming.api.get("/openapi.json").json()["paths"]
    for path in ("/collection/{inlet_id}", "/collection/batch/{inlet_id}"):
        operation = paths[path]["post"]
        assert {p["name"] for p in operation["parameters"]} == {"inlet_id", "syncValidation", "x-sandbox-name"}
        assert {"HTTPBearer": []} in operation["security"] and {} in operation["security"]  # a public inlet: none
        assert "application/json" in operation["requestBody"]["content"]
        assert {"400", "401", "408", "413", "415", "429", "503"} <= set(operation["responses"])
        assert "details.errors" in operation["responses"]["400"]["description"]


def test_bad_input_gets_a_clear_answer_and_loses_nothing(streaming: Streaming) -> None:
    inlet_id = inlet(streaming)
    url = f"/collection/{inlet_id}"
    assert streaming.api.post(url, json=message("kept@x.io")).status_code == 200
    cases = [
        (
            streaming.api.post(url, content=b'{"header": ', headers={"Content-Type": "application/json"}),
            400,
            "not JSON",
        ),
        (streaming.api.post(url, content=b"\xff\xfe", headers={"Content-Type": "application/json"}), 400, "UTF-8"),
        (streaming.api.post(url, content=b"plain", headers={"Content-Encoding": "gzip"}), 400, "gzip, but it is not"),
        (streaming.api.post(url, content=b"x", headers={"Content-Encoding": "br"}), 400, "Content-Encoding"),
        (streaming.api.post(url, json=[1, 2]), 400, "JSON object"),
        (
            streaming.api.post(url, content=b"a=1", headers={"Content-Type": "application/x-www-form-urlencoded"}),
            415,
            "Content-Type",
        ),
        (streaming.anonymous.post(url, content=b"a=1", headers={"Content-Type": "text/html"}), 401, "token"),
        (streaming.anonymous.post(url, content=b"plain", headers={"Content-Encoding": "gzip"}), 401, "token"),
        (streaming.api.post(url, json={"header": [], "body": {"xdmEntity": {}}}), 400, "`header`"),
        (streaming.api.post(url, json=message("a@x.io", msgId=True)), 400, "msgId"),
        (streaming.api.post(url, params={"syncValidation": "maybe"}, json=message("a@x.io")), 400, "syncValidation"),
        (streaming.api.post(url, json={**message("a@x.io"), "pad": "x" * 1_100_000}), 413, "limit"),
        (streaming.api.post(f"/collection/batch/{inlet_id}", json={"messages": {}}), 400, "messages"),
        (streaming.api.post(f"/collection/batch/{inlet_id}", json={"messages": [{}] * 5_001}), 400, "at most"),
    ]
    for answer, status, said in cases:
        assert answer.status_code == status, (said, answer.text)
        assert said in answer.json()["message"] and "Traceback" not in answer.text
    huge = message("huge@x.io")
    huge["body"]["xdmEntity"]["person"]["name"]["lastName"] = "x" * 1_100_000
    mixed = streaming.api.post(f"/collection/batch/{inlet_id}", json={"messages": [huge, message("small@x.io")]})
    assert [a["status"] for a in mixed.json()["responses"]] == [413, 200]  # the large one alone is refused
    assert "messages[0]" in mixed.json()["responses"][0]["message"]
    zipped = streaming.api.post(url, content=gzip.compress(json.dumps(message("zip@x.io")).encode()),
                                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})  # fmt: skip
    assert zipped.status_code == 200, zipped.text
    bomb = gzip.compress(b" " * 20_000_000)  # small on the wire, past the limit once unzipped
    unzipped = streaming.api.post(url, content=bomb, headers={"Content-Encoding": "gzip"})
    assert unzipped.status_code == 413 and "unzipped, is more than 1,000,000 bytes" in unzipped.json()["message"]
    wrong_type = {"header": {}, "body": {"xdmEntity": {"personalEmail": {"address": "t@x.io"},
                                                       "person": {"birthYear": "not a year"}}}}  # fmt: skip
    assert streaming.api.post(url, json=wrong_type).status_code == 200  # validated as it is processed
    assert streaming.process() == 4
    batches = streaming.api.get("/batches", params={"dataset": "crm"}).json()
    assert sum(b["outputRecordCount"] for b in batches) == 3 and sum(b["failedRecordCount"] for b in batches) == 1


@pytest.mark.settings(streaming_lag_bound=2)
def test_inlets_answer_429_while_the_processor_lags(streaming: Streaming) -> None:
    inlet_id = inlet(streaming)
    for n in range(3):
        assert streaming.api.post(f"/collection/{inlet_id}", json=message(f"p{n}@x.io")).status_code == 200
    # the lag is read at most every LAG_SECONDS, ahead of the requests: one of the next ones is refused
    answers = until(lambda: streaming.api.post(f"/collection/{inlet_id}", json=message("late@x.io")), 429)
    busy = answers[-1]
    assert int(busy.headers["Retry-After"]) >= 1 and busy.json()["code"] == "STREAM-0429-429"
    assert len(answers) <= 3  # within a read or two of the lag
    streaming.process()
    until(lambda: streaming.api.post(f"/collection/{inlet_id}", json=message("later@x.io")), 200)


def until(send: Any, status: int, seconds: float = 5.0) -> list[httpx.Response]:
    """The answers to `send()`, called every LAG_SECONDS until one has `status` (within `seconds`)."""
    answers = [send()]
    deadline = time.monotonic() + seconds
    while answers[-1].status_code != status:
        assert time.monotonic() < deadline, [a.status_code for a in answers]
        time.sleep(LAG_SECONDS)
        answers.append(send())
    return answers


def test_synchronous_validation_answers_with_the_batch_pipelines_row_errors(streaming: Streaming) -> None:
    inlet_id = inlet(streaming)
    sync = {"syncValidation": "true"}
    wrong = {"header": {}, "body": {"xdmEntity": {"personalEmail": {"address": "t@x.io"},
                                                  "person": {"birthYear": "not a year"}}}}  # fmt: skip
    refused = streaming.api.post(f"/collection/{inlet_id}", params=sync, json=wrong)
    assert refused.status_code == 400, refused.text
    (error,) = refused.json()["details"]["errors"]
    assert error["code"] == "INGEST-1212-400" and error["path"] == "person.birthYear"  # as a file's row would say
    assert "does not fit" in refused.json()["message"]
    assert streaming.api.post(f"/collection/{inlet_id}", params=sync, json=message("ok@x.io")).status_code == 200
    batch = streaming.api.post(f"/collection/batch/{inlet_id}", params=sync, json={"messages": [
        message("b1@x.io"), wrong, message("b2@x.io")]})  # fmt: skip
    assert [a["status"] for a in batch.json()["responses"]] == [200, 400, 200]
    assert batch.json()["responses"][1]["errors"][0]["code"] == "INGEST-1212-400"
    assert streaming.process() == 3  # what was refused never reached the log
    batches = streaming.api.get("/batches", params={"dataset": "crm"}).json()
    assert sum(b["outputRecordCount"] for b in batches) == 3 and sum(b["failedRecordCount"] for b in batches) == 0


def test_a_message_without_identity_or_timestamp_is_told_or_left_out_and_holds_up_no_other(
    streaming: Streaming,
) -> None:
    for path, body in (("/schemas", {"name": "web", "class": "experienceevent", "fieldGroups": ["identitymap"]}),
                       ("/datasets", {"name": "web", "schema": "web", "profileEnabled": True}),
                       ("/datasets", {"name": "log", "schema": "web"})):  # fmt: skip
        assert streaming.api.post(path, json=body).status_code == 201
    ids = {"ECID": [{"id": "1" * 38, "primary": True}]}
    whole = {"_id": "e1", "eventType": "web.webpagedetails.pageViews", "timestamp": "2026-11-30T10:00:00Z",
             "identityMap": ids}  # fmt: skip
    cases = {  # what is wrong -> the entity, the code, the path
        "no identity": ({k: v for k, v in whole.items() if k != "identityMap"}, "STREAM-0424-400", "identityMap"),
        "no namespace": (whole | {"identityMap": {}}, "STREAM-0424-400", "identityMap"),
        "an empty id": (whole | {"identityMap": {"ECID": [{"id": ""}]}}, "INGEST-1218-400", "identityMap"),
        "no timestamp": ({k: v for k, v in whole.items() if k != "timestamp"}, "INGEST-1555-400", "timestamp"),
        "null _id": (whole | {"_id": None}, "INGEST-1555-400", "_id"),
    }
    for name in ("web", "log"):
        made = streaming.api.post("/streaming/inlets", json={"name": name, "dataset": name})
        url = f"/collection/{made.json()['id']}"
        for what, (entity, code, path) in cases.items():
            wanted = code if name == "web" or code != "STREAM-0424-400" else None  # identity: profile datasets only
            sent = streaming.api.post(url, params={"syncValidation": "true"},
                                      json={"header": {"msgId": what}, "body": {"xdmEntity": entity}})  # fmt: skip
            assert sent.status_code == (400 if wanted else 200), (name, what, sent.text)
            if wanted:  # each message says what is wrong and where, alone
                errors = sent.json()["details"]["errors"]
                assert [(e["code"], e["path"]) for e in errors] == [(code, path)], (name, what)
                assert path in sent.json()["message"] and "Traceback" not in sent.text
        # incomplete and with a field the schema lacks: both said, in the order the processor says them
        both = {k: v for k, v in whole.items() if k != "timestamp"} | {"extra": 1}
        sent = streaming.api.post(
            url, params={"syncValidation": "true"}, json={"header": {}, "body": {"xdmEntity": both}}
        )
        codes = [(e["code"], e["path"]) for e in sent.json()["details"]["errors"]]
        assert codes == [("INGEST-1555-400", "timestamp"), ("STREAM-0422-400", "extra")], sent.text
        # validated as they are processed: taken, then left out into the batch's diagnostics, the rest lands
        batch = streaming.api.post(f"/collection/batch/{made.json()['id']}", json={"messages": [
            {"header": {"msgId": f"batch {what}"}, "body": {"xdmEntity": entity}}
            for what, (entity, _c, _p) in cases.items()] + [{"header": {}, "body": {"xdmEntity": whole}}]})  # fmt: skip
        assert [a["status"] for a in batch.json()["responses"]] == [200] * 6
    assert streaming.process() == 12 + 2  # the two whole events sent with synchronous validation, and the batches
    found = {}
    for name in ("web", "log"):
        for batch in streaming.api.get("/batches", params={"dataset": name}).json():
            for item in streaming.api.get(f"/batches/{batch['id']}/errors").json()["items"]:
                assert isinstance(item["record"], dict) and item["_corrupt_record"] is None, item  # as sent
                for error in item["_errors"]:
                    found.setdefault(name, []).append((error["code"], error["path"]))
    assert sorted(found["web"]) == sorted((code, path) for _e, code, path in cases.values())
    assert sorted(found["log"]) == [
        ("INGEST-1218-400", "identityMap"),
        ("INGEST-1555-400", "_id"),
        ("INGEST-1555-400", "timestamp"),
    ]
    landed = {name: sum(b["outputRecordCount"] for b in streaming.api.get("/batches", params={"dataset": name}).json())
              for name in ("web", "log")}  # fmt: skip
    # the whole event lands in both; in `log` (no profile) events without identity are kept: two taken by the
    # synchronous check, two in the batch
    assert landed == {"web": 1, "log": 1 + 2 + 2}


def test_a_message_with_a_field_the_schema_lacks_holds_up_no_other(streaming: Streaming) -> None:
    inlet_id = inlet(streaming)
    stray = message("stray@x.io")
    stray["body"]["xdmEntity"]["loyaltyTier"] = "gold"  # no such field in the schema
    listed = message("listed@x.io")
    listed["body"]["xdmEntity"]["person"]["name"] = ["not", "an", "object"]
    sent = streaming.api.post(f"/collection/batch/{inlet_id}", json={"messages": [
        message("a@x.io"), stray, listed, message("b@x.io")]})  # fmt: skip
    assert [a["status"] for a in sent.json()["responses"]] == [200] * 4  # validated as they are processed
    assert streaming.process() == 4
    assert streaming.api.get("/streaming/stats").json()["lagMessages"] == 0  # nothing left stuck in the log
    # the default schema contract, discard_row: the two are left out of the lake, in the batch's diagnostics
    (batch,) = streaming.api.get("/batches", params={"dataset": "crm"}).json()
    assert (batch["status"], batch["outputRecordCount"], batch["failedRecordCount"]) == ("success", 2, 2)
    errors = streaming.api.get(f"/batches/{batch['id']}/errors").json()["items"]
    assert sorted(e["path"] for item in errors for e in item["_errors"]) == ["loyaltyTier", "person.name"]
    assert streaming.api.get("/streaming/stats").json()["invalid"] == 2


def test_a_graph_update_that_failed_is_done_when_the_micro_batch_is_read_again(
    streaming: Streaming, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accord import identity

    inlet_id = inlet(streaming)
    assert streaming.api.post(f"/collection/{inlet_id}", json=message("late@x.io", "Lou")).status_code == 200
    real = identity.add_records
    calls = []

    def failing_once(*args: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise OSError("disk full, for a moment")
        return real(*args)

    monkeypatch.setattr(identity, "add_records", failing_once)
    processor = streaming.app.state.streaming.processor
    with pytest.raises(OSError):
        processor.process_waiting()  # the batch committed, then the graph update failed: the position stays
    assert streaming.api.get("/streaming/stats").json()["lagMessages"] == 1
    assert processor.process_waiting() == 1  # read again: the message is in the lake already...
    assert len(calls) == 2  # ...and its graph update is done this time
    found = streaming.api.get("/profiles", params={"namespace": "Email", "id": "late@x.io"}).json()
    assert found["graphId"] is not None and found["attributes"]["person"]["name"]["firstName"] == "Lou"
    batches = streaming.api.get("/batches", params={"dataset": "crm"}).json()
    assert sum(b["outputRecordCount"] for b in batches) == 1


def test_synchronous_validation_refuses_a_field_the_schema_lacks_alone(streaming: Streaming) -> None:
    inlet_id = inlet(streaming)
    stray = message("stray@x.io")
    stray["body"]["xdmEntity"]["loyaltyTier"] = "gold"
    batch = streaming.api.post(f"/collection/batch/{inlet_id}", params={"syncValidation": "true"},
                               json={"messages": [message("a@x.io"), stray, message("b@x.io")]})  # fmt: skip
    assert batch.status_code == 207, batch.text
    answers = batch.json()["responses"]
    assert [a["status"] for a in answers] == [200, 400, 200]
    assert answers[1]["errors"] == [{"code": "STREAM-0422-400", "path": "loyaltyTier",
                                     "message": "has no field of that name in schema 'crm'"}]  # fmt: skip
    assert "--mapping" not in answers[1]["message"]  # no advice about files a stream does not have
    stats = streaming.api.get("/streaming/stats").json()
    assert stats["accepted"] == 2 and stats["refused"] == 1
    too_big = streaming.api.post(f"/collection/{inlet_id}", json={**message("c@x.io"), "pad": "x" * 1_100_000})
    assert too_big.status_code == 413 and streaming.api.get("/streaming/stats").json()["refused"] == 2


def test_processing_by_hand_is_refused_while_a_processor_runs(streaming: Streaming, cli: Any) -> None:
    import threading

    from accord.jobs import hold

    ws = streaming.app.state.workspace
    held, done = threading.Event(), threading.Event()

    def processor_elsewhere() -> None:  # another thread, as another process would (a thread's own lock is its own)
        with hold(ws.catalog, "streaming-processor", "the streaming processor", wait_seconds=0, stale_seconds=60):
            held.set()
            done.wait(30)

    holder = threading.Thread(target=processor_elsewhere)
    holder.start()
    try:
        assert held.wait(10)
        refused = cli("streaming", "process", "--json")
    finally:
        done.set()
        holder.join(10)
    assert refused.code != 0
    said = json.loads(refused.stdout)["error"]
    assert said["code"] == "STREAM-0409-409" and "nothing to run by hand" in said["message"]
    assert "try again" not in said["message"]


def test_streamed_records_and_events_realize_streaming_audiences(streaming: Streaming) -> None:
    from datetime import UTC, datetime, timedelta

    for path, body in (("/schemas", {"name": "web", "class": "experienceevent",
                                     "fieldGroups": ["identitymap", "web-details"]}),
                       ("/datasets", {"name": "web", "schema": "web", "profileEnabled": True})):  # fmt: skip
        assert streaming.api.post(path, json=body).status_code == 201
    for name, pql in (("annes", 'person.name.firstName = "Ann"'),
                      ("viewers", 'xEvent[eventType = "web.webpagedetails.pageViews" and timestamp occurs <= 24 hours '
                                  "before now].exists()")):  # fmt: skip
        made = streaming.api.post(
            "/segment/definitions",
            json={"name": name, "expression": {"value": pql}, "evaluationInfo": {"streaming": {"enabled": True}}},
        )
        assert made.status_code == 201, made.text
    crm, web = inlet(streaming), streaming.api.post("/streaming/inlets", json={"name": "site", "dataset": "web"})
    assert streaming.api.post(f"/collection/{crm}", json=message("ann@x.io")).status_code == 200
    now = datetime.now(UTC)

    def view(n: int, when: datetime) -> dict[str, Any]:
        ids = {"ECID": [{"id": f"{n:038d}", "primary": True}], "Email": [{"id": "ann@x.io"}]}
        return {"header": {"msgId": f"v{n}"}, "body": {"xdmEntity": {
            "_id": f"v{n}", "eventType": "web.webpagedetails.pageViews", "timestamp": when.isoformat(),
            "identityMap": ids, "web": {"webPageDetails": {"name": "home"}}}}}  # fmt: skip

    sent = streaming.api.post(f"/collection/batch/{web.json()['id']}", json={"messages": [
        view(1, now - timedelta(minutes=5)), view(2, now - timedelta(days=5))]})  # fmt: skip
    assert [a["status"] for a in sent.json()["responses"]] == [200, 200]
    streaming.process()
    events = streaming.api.get("/segment/events").json()["items"]
    person = streaming.api.get("/profiles", params={"namespace": "ECID", "id": f"{1:038d}"}).json()
    assert {name for name, m in person["segmentMembership"].items() if m["status"] == "realized"} == {
        "annes", "viewers"}  # fmt: skip
    ids = {streaming.api.get(f"/segment/definitions/{name}").json()["id"]: name for name in ("annes", "viewers")}
    mine = sorted((ids[e["segmentId"]], e["status"]) for e in events if e["graphId"] == person["graphId"])
    assert mine == [("annes", "realized"), ("viewers", "realized")]
    # the record came first, to a graph of its e-mail alone; the events joined it to their cookies' graph, so
    # that graph's memberships ended as it did
    last: dict[tuple[str, str], str] = {}
    for e in events:
        last[(e["graphId"], e["segmentId"])] = e["status"]
    assert {status for (graph, _s), status in last.items() if graph != person["graphId"]} <= {"exited"}
    assert streaming.api.get("/streaming/stats").json()["membershipChanges"] == len(events)


@pytest.mark.settings(streaming_body_seconds=1.5)
def test_a_client_sending_a_byte_a_second_is_told_and_holds_up_no_other(streaming: Streaming) -> None:
    import socket
    import time
    from urllib.parse import urlsplit

    inlet_id = inlet(streaming)
    where = urlsplit(str(streaming.api.base_url))
    token = streaming.api.headers["Authorization"]
    with socket.create_connection((where.hostname, where.port), timeout=30) as slow:
        slow.sendall(f"POST /collection/{inlet_id} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n".encode())  # fmt: skip
        started = time.monotonic()
        answer = b""
        for byte in b'{"header": {}':
            slow.sendall(bytes([byte]))
            # meanwhile another client is answered at once
            assert streaming.api.post(f"/collection/{inlet_id}", json=message(f"{byte}@x.io")).status_code == 200
            slow.settimeout(1.0)
            try:
                answer = slow.recv(65536)
            except TimeoutError:
                continue
            break
        head, _, body = answer.partition(b"\r\n\r\n")
        length = int(
            next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
        while len(body) < length:  # the headers and the body may come apart
            slow.settimeout(5.0)
            more = slow.recv(65536)
            if not more:
                break
            body += more
        answer = head + b"\r\n\r\n" + body
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"STREAM-0408-408" in answer and b"within 1.5 s" in answer
    assert time.monotonic() - started < 10


def test_many_clients_of_one_inlet_wait_their_turn_and_are_all_taken(streaming: Streaming) -> None:
    import threading

    inlet_id = inlet(streaming)
    statuses: list[int] = []

    def client(n: int) -> None:
        with httpx.Client(base_url=streaming.api.base_url, headers=streaming.api.headers, timeout=60) as http:
            for k in range(15):
                statuses.append(http.post(f"/collection/{inlet_id}", json=message(f"c{n}-{k}@x.io")).status_code)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]  # three times the default turns
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 180
    assert streaming.api.get("/streaming/stats").json()["accepted"] == 180


@pytest.mark.settings(streaming_inlet_concurrency=1, streaming_inlet_queue=1)
def test_a_flood_from_one_inlet_is_told_to_wait_and_starves_no_other(streaming: Streaming) -> None:
    import threading

    flooded, other = inlet(streaming, "flooded"), inlet(streaming, "other")
    statuses: list[int] = []
    answers: list[httpx.Response] = []

    def flood(n: int) -> None:
        with httpx.Client(base_url=streaming.api.base_url, headers=streaming.api.headers, timeout=60) as http:
            for round_ in range(3):
                messages = [message(f"f{n}-{round_}-{k}@x.io") for k in range(2_000)]
                answer = http.post(f"/collection/batch/{flooded}", json={"messages": messages})
                statuses.append(answer.status_code)
                answers.append(answer)

    threads = [threading.Thread(target=flood, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    alone = [streaming.api.post(f"/collection/{other}", json=message(f"o{n}@x.io")).status_code for n in range(5)]
    for thread in threads:
        thread.join()
    assert alone == [200] * 5
    assert set(statuses) == {207, 429}, statuses
    told = next(a for a in answers if a.status_code == 429)
    assert told.json()["code"] == "STREAM-0430-429" and told.headers["Retry-After"] == "1"


def test_single_messages_taken_on_the_event_loop_still_see_a_revoked_token_and_a_deleted_inlet(
    streaming: Streaming,
) -> None:
    from accord.access import create_token, revoke_token
    from accord.streaming.service import INLET_SECONDS, TOKEN_SECONDS

    inlet_id = inlet(streaming)
    record, token = create_token(streaming.app.state.workspace.catalog, "feeder")
    url = f"/collection/{inlet_id}"
    with httpx.Client(base_url=streaming.api.base_url, headers={"Authorization": f"Bearer {token}"}) as feeder:
        for n in range(3):  # the first reads the catalog; the others may be checked on the server's event loop
            assert feeder.post(url, json=message(f"p{n}@x.io")).status_code == 200
        revoke_token(streaming.app.state.workspace.catalog, record.id)
        time.sleep(TOKEN_SECONDS)  # a token is checked again at least this often (documented)
        refused = feeder.post(url, json=message("late@x.io"))
        assert refused.status_code == 401 and refused.json()["code"]
    assert streaming.api.post(url, json=message("p3@x.io")).status_code == 200
    assert streaming.api.delete(f"/streaming/inlets/{inlet_id}").status_code in (200, 204)
    time.sleep(INLET_SECONDS)
    gone = streaming.api.post(url, json=message("p4@x.io"))
    assert gone.status_code == 404 and gone.json()["code"]
    assert streaming.process() == 4  # the four taken, none of those refused


@pytest.mark.integration
def test_requests_waiting_on_a_log_that_does_not_answer_are_told_at_once_not_one_after_another(
    streaming: Streaming, settings: Settings
) -> None:
    # the processor's lag is read by one thread at a time; when that read fails, those that waited for it are
    # told the same, rather than each trying again in turn (a timeout each)
    from concurrent.futures import ThreadPoolExecutor

    from accord.streaming.exceptions import LogUnavailableError
    from accord.streaming.nats_log import NatsEventLog
    from accord.streaming.service import StreamingService
    from accord.workspace import Workspace
    from tests.servers import start_nats

    inlet_id = inlet(streaming)
    token = str(streaming.api.headers["Authorization"]).split(" ", 1)[1]
    server = start_nats()
    try:
        service = StreamingService(Workspace.open(settings), NatsEventLog(server.url, "SLOW", timeout=1.0))
        raw = json.dumps(message("a@x.io")).encode()
        assert service.collect(inlet_id, token, None, raw, batch=False)["status"] == 200
        server.stop()
        time.sleep(LAG_SECONDS)

        def send(n: int) -> tuple[float, str]:
            started = time.monotonic()
            try:
                service.collect(inlet_id, token, None, json.dumps(message(f"{n}@x.io")).encode(), batch=False)
            except LogUnavailableError as exc:
                return time.monotonic() - started, exc.code
            return time.monotonic() - started, "taken"

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(send, range(6)))
        assert {code for _s, code in answers} == {"STREAM-0504-503"}
        assert max(seconds for seconds, _c in answers) < 3 * 1.0, answers  # not 6 timeouts one after another
        service.stop()
    finally:
        server.remove()
