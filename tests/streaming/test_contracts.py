"""Schema contracts over a real server: for each contract, the same messages (one that fits, one with a field
the schema has nowhere, one with a new custom field under `_tenant`, one with a value of the wrong kind) end
as the contract says, and what is left out is in the batch's diagnostics with its path and why."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from accord.streaming.service import INLET_SECONDS
from tests.streaming.conftest import Streaming, inlet, message


def messages() -> list[dict[str, Any]]:
    fits = message("fits@x.io", msgId="fits")
    stray = message("stray@x.io", msgId="stray")
    stray["body"]["xdmEntity"]["loyaltyTier"] = "gold"  # no such field, and not a custom one
    custom = message("custom@x.io", msgId="custom")
    custom["body"]["xdmEntity"]["_tenant"] = {"tier": 3, "club": {"since": "2024-05-01", "vip": True}}
    wrong = message("wrong@x.io", msgId="wrong")
    wrong["body"]["xdmEntity"]["person"]["name"] = ["not", "an", "object"]  # an object field given a list
    return [fits, stray, custom, wrong]


def run(streaming: Streaming, contract: str, sync: bool = False) -> tuple[list[int], dict[str, Any], list[Any]]:
    """The four messages through an inlet of `crm` under `contract`: their statuses, the batch, its errors."""
    made = streaming.api.patch("/datasets/crm", json={"schemaContract": contract})
    assert made.status_code == 200 and made.json()["schemaContract"] == contract, made.text
    inlet_id = inlet(streaming, name=f"in-{contract}")
    sent = streaming.api.post(f"/collection/batch/{inlet_id}", params={"syncValidation": str(sync).lower()},
                              json={"messages": messages()})  # fmt: skip
    assert sent.status_code == 207, sent.text
    statuses = [answer["status"] for answer in sent.json()["responses"]]
    streaming.process()
    (batch,) = streaming.api.get("/batches", params={"dataset": "crm"}).json()
    errors = streaming.api.get(f"/batches/{batch['id']}/errors").json()["items"]
    return statuses, batch, errors


def lake_rows(streaming: Streaming) -> dict[str, dict[str, Any]]:
    rows = streaming.api.get("/datasets/crm/preview").json()["rows"]
    return {row["personalEmail"]["address"].split("@")[0]: row for row in rows}


def paths(errors: list[Any]) -> dict[str, set[str]]:
    """Each left-out record's errors as {path: codes}, keyed by the record's e-mail's first part."""
    out: dict[str, set[str]] = {}
    for item in errors:
        record = item["record"] if isinstance(item["record"], dict) else json.loads(item["record"])
        who = record["personalEmail"]["address"].split("@")[0]
        for error in item["_errors"]:
            out.setdefault(who, set()).add(f"{error['path']} {error['code']}")
    return out


def test_discard_row_keeps_what_does_not_fit_out_of_the_lake(streaming: Streaming) -> None:
    statuses, batch, errors = run(streaming, "discard_row")
    assert statuses == [200, 200, 200, 200]  # taken: validated as they are processed
    assert (batch["status"], batch["outputRecordCount"], batch["failedRecordCount"]) == ("success", 1, 3)
    assert set(lake_rows(streaming)) == {"fits"}
    assert paths(errors) == {"stray": {"loyaltyTier STREAM-0422-400"}, "custom": {"_tenant STREAM-0422-400"},
                             "wrong": {"person.name STREAM-0422-400"}}  # fmt: skip
    assert all("discard_row" in e["message"] for item in errors for e in item["_errors"])
    assert streaming.api.get("/streaming/stats").json()["invalid"] == 3


def test_discard_value_keeps_the_rows_without_the_values_that_do_not_fit(streaming: Streaming) -> None:
    statuses, batch, errors = run(streaming, "discard_value")
    assert statuses == [200, 200, 200, 200]
    assert (batch["status"], batch["outputRecordCount"], batch["failedRecordCount"]) == ("success", 4, 0)
    rows = lake_rows(streaming)
    assert set(rows) == {"fits", "stray", "custom", "wrong"}
    assert (rows["wrong"].get("person") or {}).get("name") is None and "loyaltyTier" not in rows["stray"]
    assert rows["stray"]["personalEmail"]["address"] == "stray@x.io"
    assert paths(errors) == {"stray": {"loyaltyTier STREAM-0423-200"}, "custom": {"_tenant STREAM-0423-200"},
                             "wrong": {"person.name STREAM-0423-200"}}  # fmt: skip
    assert any("without values" in note for note in batch["options"]["notes"]), batch
    assert streaming.api.get("/streaming/stats").json()["discardedValues"] == 3


def test_freeze_refuses_at_the_door_what_does_not_fit(streaming: Streaming) -> None:
    statuses, batch, errors = run(streaming, "freeze")
    assert statuses == [200, 400, 400, 400]  # the sender is told, message by message
    sent = streaming.api.post(f"/collection/{inlet(streaming, 'one')}", json=messages()[1])
    assert sent.status_code == 400 and "loyaltyTier" in sent.json()["message"], sent.text
    assert sent.json()["details"]["errors"][0]["code"] == "STREAM-0422-400"
    assert (batch["status"], batch["outputRecordCount"], batch["failedRecordCount"]) == ("success", 1, 0)
    assert errors == []
    schema = streaming.api.get("/schemas/crm").json()
    assert "_tenant" not in schema["fields"]  # a frozen schema never changes
    # a record without identity (a profile dataset) that fits otherwise is taken, then left out, as under any
    # contract; with a field the schema lacks too, it is refused at the door, both said, the identity first
    nameless = {"header": {"msgId": "nameless"}, "body": {"xdmEntity": {"person": {"name": {"firstName": "N"}}}}}
    assert streaming.api.post(f"/collection/{inlet(streaming, 'two')}", json=nameless).status_code == 200
    nameless["body"]["xdmEntity"]["loyaltyTier"] = "gold"
    refused = streaming.api.post(f"/collection/{inlet(streaming, 'three')}", json=nameless)
    codes = [(e["code"], e["path"]) for e in refused.json()["details"]["errors"]]
    assert codes == [("STREAM-0424-400", "personalEmail.address"), ("STREAM-0422-400", "loyaltyTier")], codes
    streaming.process()
    newest = max(streaming.api.get("/batches", params={"dataset": "crm"}).json(), key=lambda b: b["created"])
    (item,) = streaming.api.get(f"/batches/{newest['id']}/errors").json()["items"]
    assert [e["code"] for e in item["_errors"]] == ["STREAM-0424-400"]


def test_evolve_adds_new_custom_fields_and_discards_what_cannot_be_added(streaming: Streaming) -> None:
    statuses, batch, errors = run(streaming, "evolve")
    assert statuses == [200, 200, 200, 200]
    assert (batch["status"], batch["outputRecordCount"], batch["failedRecordCount"]) == ("success", 2, 2)
    schema = streaming.api.get("/schemas/crm").json()
    assert "crm-evolved" in schema["fieldGroups"]
    tenant = schema["fields"]["_tenant"]["properties"]
    assert tenant["tier"]["type"] == "integer"
    assert tenant["club"]["properties"] == {"since": {"type": "string"}, "vip": {"type": "boolean"}}
    rows = lake_rows(streaming)
    assert set(rows) == {"fits", "custom"} and rows["custom"]["_tenant"]["tier"] == 3
    # outside `_tenant`, and a value of the wrong kind: no compatible change can take them
    assert paths(errors) == {"stray": {"loyaltyTier STREAM-0422-400"}, "wrong": {"person.name STREAM-0422-400"}}
    assert streaming.api.get("/streaming/stats").json()["evolvedFields"] == 2
    # the next message with the field fits as it is; one with a field of another kind is left out
    again = message("again@x.io", msgId="again")
    again["body"]["xdmEntity"]["_tenant"] = {"tier": 4, "club": {"vip": False}}
    clash = message("clash@x.io", msgId="clash")
    clash["body"]["xdmEntity"]["_tenant"] = {"club": 5}  # a number where an object is
    inlet_id = inlet(streaming, "later")
    assert streaming.api.post(f"/collection/batch/{inlet_id}", json={"messages": [again, clash]}).status_code == 207
    streaming.process()
    newest = max(streaming.api.get("/batches", params={"dataset": "crm"}).json(), key=lambda b: b["created"])
    later = streaming.api.get(f"/batches/{newest['id']}/errors").json()["items"]
    assert paths(later) == {"clash": {"_tenant.club STREAM-0422-400"}}
    assert lake_rows(streaming)["again"]["_tenant"]["tier"] == 4


@pytest.mark.parametrize(("contract", "expected"), [("discard_row", [200, 400, 400, 400]),
                                                    ("discard_value", [200, 200, 200, 200]),
                                                    ("freeze", [200, 400, 400, 400]),
                                                    ("evolve", [200, 400, 200, 400])])  # fmt: skip
def test_synchronous_validation_refuses_what_the_contract_would_leave_out(
    streaming: Streaming, contract: str, expected: list[int]
) -> None:
    statuses, _batch, _errors = run(streaming, contract, sync=True)
    assert statuses == expected


def test_a_contract_is_set_by_the_api_and_the_cli_and_a_wrong_one_is_refused_clearly(
    streaming: Streaming, cli: Any
) -> None:
    wrong = streaming.api.patch("/datasets/crm", json={"schemaContract": "loose"})
    assert wrong.status_code in (400, 422) and "schemaContract" in wrong.text, wrong.text
    made = streaming.api.post("/datasets", json={"name": "frozen", "schema": "crm", "schemaContract": "freeze"})
    assert made.status_code == 201 and made.json()["schemaContract"] == "freeze", made.text
    assert streaming.api.get("/datasets/crm").json()["schemaContract"] == "discard_row"  # the default
    done = cli("dataset", "contract", "crm", "evolve", "--json")
    assert done.code == 0 and done.json()["schemaContract"] == "evolve", done.stderr
    bad = cli("dataset", "contract", "crm", "loose")
    assert bad.code != 0 and "evolve, freeze, discard_row, discard_value" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr
    made = cli("dataset", "create", "strict", "--schema", "crm", "--schema-contract", "freeze", "--json")
    assert made.code == 0 and made.json()["schemaContract"] == "freeze", made.stderr
    assert streaming.api.get("/datasets/crm").json()["schemaContract"] == "evolve"


def test_evolve_says_why_it_left_a_record_out_and_one_refused_field_holds_up_no_other(streaming: Streaming) -> None:
    # another profile schema already has `_tenant.code` as text: the union refuses it as a number
    group = {"name": "codes", "classes": ["profile"],
             "fields": {"_tenant": {"type": "object", "properties": {"code": {"type": "string"}}}}}  # fmt: skip
    assert streaming.api.post("/fieldgroups", json=group).status_code == 201
    schema = {"name": "coded", "class": "profile", "fieldGroups": ["personal-contact-details", "codes"],
              "identities": [{"path": "personalEmail.address", "namespace": "Email", "primary": True}]}  # fmt: skip
    assert streaming.api.post("/schemas", json=schema).status_code == 201
    assert streaming.api.post("/datasets", json={"name": "coded", "schema": "coded", "profileEnabled": True}).is_success
    clash, fine, dotted, typed, empty = (message(f"{n}@x.io", msgId=n) for n in ("clash", "fine", "dot", "typed", "e"))
    clash["body"]["xdmEntity"]["_tenant"] = {"code": 7}
    fine["body"]["xdmEntity"]["_tenant"] = {"note": "kept"}
    dotted["body"]["xdmEntity"]["_tenant"] = {"a.b": 1}
    typed["body"]["xdmEntity"]["person"]["name"]["firstName"] = {"not": "text"}
    empty["body"]["xdmEntity"]["_tenant"] = {"nothing": None}
    assert streaming.api.patch("/datasets/crm", json={"schemaContract": "evolve"}).status_code == 200
    inlet_id = inlet(streaming)
    assert streaming.api.post(f"/collection/batch/{inlet_id}",
                              json={"messages": [clash, fine, dotted, typed, empty]}).status_code == 207  # fmt: skip
    streaming.process()
    (batch,) = streaming.api.get("/batches", params={"dataset": "crm"}).json()
    assert (batch["outputRecordCount"], batch["failedRecordCount"]) == (1, 4)
    assert "fine" in lake_rows(streaming)
    why = {json.loads(item["record"])["personalEmail"]["address"].split("@")[0] if isinstance(item["record"], str)
           else item["record"]["personalEmail"]["address"].split("@")[0]: item["_errors"][0]["message"]
           for item in streaming.api.get(f"/batches/{batch['id']}/errors").json()["items"]}  # fmt: skip
    assert "the schema could not take it" in why["clash"] and "code" in why["clash"]
    assert "letters, digits and `_`" in why["dot"]
    assert "a field's type is never changed" in why["typed"]
    assert "says nothing of the field's type" in why["e"]


def test_what_synchronous_validation_takes_is_what_lands(streaming: Streaming) -> None:
    one, two = message("one@x.io", msgId="one"), message("two@x.io", msgId="two")
    one["body"]["xdmEntity"]["_tenant"] = {"level": 1}
    two["body"]["xdmEntity"]["_tenant"] = {"level": "one"}  # the two disagree on the field's type
    assert streaming.api.patch("/datasets/crm", json={"schemaContract": "evolve"}).status_code == 200
    inlet_id = inlet(streaming)
    sent = streaming.api.post(f"/collection/batch/{inlet_id}", params={"syncValidation": "true"},
                              json={"messages": [one, two]})  # fmt: skip
    answers = sent.json()["responses"]
    assert [a["status"] for a in answers] == [400, 400] and "disagree" in answers[0]["message"]
    # under discard_value, a record of which nothing would be left is refused; one that keeps something is taken
    assert streaming.api.patch("/datasets/crm", json={"schemaContract": "discard_value"}).status_code == 200
    time.sleep(INLET_SECONDS)  # a server reads a dataset's contract at most every 2 s (documented)
    nothing = {"header": {"msgId": "nothing"}, "body": {"xdmEntity": {"unknown": {"x": 1}}}}
    dotted = message("dotted@x.io", msgId="dotted")
    dotted["body"]["xdmEntity"]["_tenant"] = {"a.b": 1}
    sent = streaming.api.post(f"/collection/batch/{inlet_id}", params={"syncValidation": "true"},
                              json={"messages": [nothing, dotted]})  # fmt: skip
    assert [a["status"] for a in sent.json()["responses"]] == [400, 200], sent.text
    assert "nothing of the record fits" in sent.json()["responses"][0]["message"]
    streaming.process()
    assert "dotted" in lake_rows(streaming)  # without its dotted name
    # taken without synchronous validation, a record of which nothing is left is left out whole, and said so
    assert streaming.api.post(f"/collection/{inlet_id}", json={**nothing, "header": {"msgId": "n2"}}).is_success
    streaming.process()
    newest = max(streaming.api.get("/batches", params={"dataset": "crm"}).json(), key=lambda b: b["created"])
    assert (newest["status"], newest["failedRecordCount"]) == ("success", 1), newest
    (item,) = streaming.api.get(f"/batches/{newest['id']}/errors").json()["items"]
    # it carries no identity either (a profile dataset): both are said
    said = {(e["code"], e["path"]) for e in item["_errors"]}
    assert said == {("STREAM-0424-400", "personalEmail.address"), ("STREAM-0422-400", "unknown")}, item
