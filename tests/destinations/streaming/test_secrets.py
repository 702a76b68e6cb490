"""Secrets never leave through the side doors: no Authorization header, token, password or API key in
dead letters, in any log line (DEBUG included, the HTTP libraries' too), or in errors and results."""

from __future__ import annotations

import json
import logging

import pytest

from accord.destinations.connectors.http import HttpApiDestination
from accord.destinations.spec import RequestContext
from accord.destinations.streaming.deadletters import MemoryDeadLetters
from accord.destinations.streaming.lanes import deliver
from tests.destinations.conftest import destination, document, rows
from tests.http_receiver import HttpReceiver, answer, reset

FLOW = RequestContext("acct", {"id": "f1", "name": "secret flow"})
PASSWORD, CLIENT_SECRET, API_KEY = "pa55-w0rd-basic", "client-s3cret-value", "api-key-0123456789"


def everything_said(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)


def test_no_secret_in_dead_letters_logs_or_results(receiver: HttpReceiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.require_oauth("client-1", CLIENT_SECRET, expires_in=60)
    echo = f'{{"error": "bad key {API_KEY}"}}'.encode()  # a receiver that echoes what it was sent
    receiver.then(reset(), answer(500), default=answer(503, body=echo))
    oauth = document(
        auth={"type": "oauth2-client-credentials", "tokenUrl": "{{ config.url }}/token",
              "clientId": "client-1", "clientSecret": "{{ config.clientSecret }}"},
        headers={"X-Api-Key": "{{ config.apiKey }}"},
        config=[{"name": "url"}, {"name": "clientSecret", "secret": True}, {"name": "apiKey", "secret": True}],
        limits={"requestsInFlight": 1, "failuresToOpen": 4},
    )  # fmt: skip
    letters = MemoryDeadLetters()
    account = destination(oauth, url=receiver.url, clientSecret=CLIENT_SECRET, apiKey=API_KEY)
    result = deliver(account, rows(25), FLOW, letters)
    assert result.rows_failed == 25 and letters.letters  # it failed in every way on purpose
    assert any("circuit open" in reason for reason in result.failures)
    tokens = list(receiver.tokens)
    assert tokens  # a token was issued and used
    stored = json.dumps([letter.__dict__ for letter in letters.letters]) + repr(result) + json.dumps(result.to_dict())
    said = everything_said(caplog)
    for secret in (CLIENT_SECRET, API_KEY, *tokens, "Bearer", "authorization"):
        assert secret.lower() not in stored.lower(), secret
    for secret in (CLIENT_SECRET, API_KEY, *tokens):
        assert secret not in said, secret
    assert "***" in stored  # the echoed key was blotted out of the answer kept


def test_basic_credentials_stay_out_of_letters_and_logs(
    receiver: HttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.then(default=answer(401, body=b'{"error": "who are you"}'))
    config = HttpApiDestination.spec.config.model_validate({"url": receiver.url, "authentication": "basic",
                                                            "username": "robot", "password": PASSWORD})  # fmt: skip
    letters = MemoryDeadLetters()
    result = deliver(HttpApiDestination(config), rows(3), FLOW, letters)
    assert result.failures == {"HTTP 401": 3}
    import base64

    encoded = base64.b64encode(f"robot:{PASSWORD}".encode()).decode()
    kept = json.dumps([letter.__dict__ for letter in letters.letters]) + everything_said(caplog) + repr(result)
    assert PASSWORD not in kept and encoded not in kept
