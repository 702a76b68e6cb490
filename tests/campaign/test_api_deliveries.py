"""The campaign routes of deliveries, workflows, imports and subscriptions on a real server: what they send
reaches a real SMTP server, and bad input is answered `{code, message, details}` with nothing kept."""

from __future__ import annotations

from typing import Any

import pytest

from accord.settings import Settings
from tests.conftest import Api
from tests.smtp_server import SmtpSink

AUDIENCE = "externalId,email,firstName,segmentMembership.status\nC1,ann@example.com,Ann,realized\n" \
           "C2,bob@example.com,Bob,realized\n"  # fmt: skip
LETTER = {"name": "spring", "sender": "Shop <news@shop.example>", "subject": "{{ recipient.firstName }}, spring",
          "text": "Hello {{ recipient.firstName }}", "target": {"audience": "sp1"}}  # fmt: skip


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    return settings.model_copy(update={"campaign_smtp_port": smtp_sink.port})


@pytest.fixture
def imported(api: Api, settings: Settings) -> Api:
    """Ann and Bob imported over the API from an audience file in the landing folder (the list of `sp1`)."""
    (settings.campaign_landing_folder / "spring_segmentsp1_20261130080000.csv").write_text(AUDIENCE)
    run = api.post("/campaign/import").json()
    assert run["status"] == "success", run
    loads = api.get("/campaign/loads", params={"run": run["id"]}).json()
    assert [(x["loaded"], x["inserted"], x["list"]) for x in loads] == [(2, 2, "spring_segmentsp1")]
    return api


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["message"] and isinstance(body["details"], dict), body
    return body


def test_a_delivery_is_made_proofed_sent_and_logged_over_the_api(imported: Api, smtp_sink: SmtpSink) -> None:
    api = imported
    assert api.post("/campaign/deliveries", json=LETTER).status_code == 201
    assert api.post("/campaign/deliveries/spring/check").json()["recipients"] == 2
    api.post("/campaign/addresses", json={"email": "proof@example.com"})
    proof = api.post("/campaign/deliveries/spring/proof").json()
    assert proof["sent"] == 1 and [m["to"] for m in proof["messages"]] == ["proof@example.com"]
    chosen = api.post("/campaign/deliveries/spring/proof", json={"addresses": ["boss@example.com"]}).json()
    assert [m["to"] for m in chosen["messages"]] == ["boss@example.com"]
    sent = api.post("/campaign/deliveries/spring/send").json()
    assert (sent["targeted"], sent["sentNow"], sent["sent"]) == (2, 2, 2)
    held = sorted((r.recipients[0], str(r.message()["Subject"])) for r in smtp_sink.received())
    assert held == [
        ("ann@example.com", "Ann, spring"), ("bob@example.com", "Bob, spring"),
        ("boss@example.com", "[PROOF] Ann, spring"), ("proof@example.com", "[PROOF] Ann, spring"),
    ]  # fmt: skip
    page = api.get("/campaign/deliveries/spring/log", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 2 and [r["externalId"] for r in page["rows"]] == ["C2"] and page["counts"]["sent"] == 2
    assert api.get("/campaign/deliveries/spring").json()["state"] == "sent"
    found = api.get("/campaign/recipients", params={"search": "bob@"}).json()
    assert found["total"] == 1 and [r["externalId"] for r in found["recipients"]] == ["C2"]


def test_bad_input_is_answered_with_its_problems_and_nothing_is_kept(imported: Api, smtp_sink: SmtpSink) -> None:
    api = imported
    bad = error(api.post("/campaign/deliveries", json={**LETTER, "sender": "nobody", "target": {"shelf": "x"}}),
                400, "CAMPAIGN-0400-400")  # fmt: skip
    assert [p.split(":")[0] for p in bad["details"]["problems"]] == ["sender", "target"]
    template = error(api.post("/campaign/deliveries", json={**LETTER, "text": "Hello {{ recipient.firstName"}),
                     400, "CAMPAIGN-0423-400")  # fmt: skip
    assert "text, line 1" in template["message"]
    assert api.get("/campaign/deliveries").json() == []
    missing = error(api.post("/campaign/deliveries/sprung/send"), 404, "CAMPAIGN-0404-404")
    assert "sprung" in missing["message"]
    assert api.get("/campaign/deliveries/spring/log", params={"status": "lost"}).status_code == 400
    assert smtp_sink.count() == 0

    flow = api.post("/campaign/workflows", json={"name": "odd", "activities": [{"name": "a", "type": "teleport"}]})
    assert flow.status_code == 400 and any(p["path"].startswith("activities[0]") for p in
                                           flow.json()["details"]["problems"])  # fmt: skip
    assert [w["name"] for w in api.get("/campaign/workflows").json()] == ["audience-import", "log-export"]
    renamed = api.put("/campaign/workflows/audience-import", json={"name": "other", "activities": [
        {"name": "q", "type": "query", "options": {"filter": {"field": "email", "op": "notNull"}}}]})  # fmt: skip
    assert renamed.status_code == 400 and "keeps its name" in renamed.json()["message"]
    error(api.post("/campaign/workflows/nothing/runs"), 404, "CAMPAIGN-0404-404")
    run_id = api.get("/campaign/workflows/audience-import/runs").json()[0]["id"]
    done = api.post(f"/campaign/workflows/runs/{run_id}/resume")
    assert done.status_code == 400 and "only a failed or waiting run is resumed" in done.json()["message"]


def test_a_subscription_over_the_api_mails_its_confirmation(imported: Api, smtp_sink: SmtpSink) -> None:
    api = imported
    refused = api.post("/campaign/lists/spring_segmentsp1/subscribe", json={"email": "eve@example.com"})
    assert refused.status_code == 400 and "not a subscription list" in refused.json()["message"]
    api.post("/campaign/lists", json={"name": "letters", "label": "Letters", "doubleOptIn": True})
    made = api.post("/campaign/lists/letters/subscribe", json={"email": "ann@example.com"}).json()
    assert made["status"] == "pending" and made["confirmation"]["status"] == "sent"
    [mail] = smtp_sink.received()
    assert mail.recipients == ["ann@example.com"] and "/campaign/t/s/" in mail.data.decode()
    assert api.get("/campaign/lists/letters/members").json() == []
