"""OAuth2 client credentials against a real token endpoint: the token is fetched once and kept, fetched
again when it expires and when the destination answers 401; refused credentials fail without a retry storm."""

from __future__ import annotations

import asyncio
import time

from accord.destinations.spec import RequestContext
from accord.destinations.streaming.deadletters import MemoryDeadLetters
from accord.destinations.streaming.lanes import Lane, deliver
from tests.destinations.conftest import destination, document, rows
from tests.http_receiver import HttpReceiver

FLOW = RequestContext("acct", {"id": "f1", "name": "oauth flow"})
OAUTH = document(
    auth={"type": "oauth2-client-credentials", "tokenUrl": "{{ config.url }}/token",
          "clientId": "{{ config.clientId }}", "clientSecret": "{{ config.clientSecret }}"},
    config=[{"name": "url", "format": "url"}, {"name": "clientId"}, {"name": "clientSecret", "secret": True}],
    aggregation={"maxProfilesPerRequest": 5, "maxBatchAgeSeconds": 0.05},
    limits={"requestsInFlight": 2, "failuresToOpen": 100},
)  # fmt: skip


def test_token_fetched_cached_and_renewed_on_expiry_and_after_a_401(receiver: HttpReceiver) -> None:
    receiver.require_oauth("accord-client", "client-secret-value", expires_in=2)
    account = destination(OAUTH, url=receiver.url, clientId="accord-client", clientSecret="client-secret-value")

    async def scenario() -> None:
        lane = Lane(account, FLOW)
        lane.start()

        async def wave(start: int) -> None:
            before = len(receiver.requests("/profiles"))
            await lane.put(rows(20, start=start))
            while len([r for r in receiver.requests("/profiles")[before:] if r.status == 200]) < 4:
                await asyncio.sleep(0.02)

        await wave(0)
        assert receiver.tokens_issued == 1  # four requests, two at a time, one token
        await asyncio.sleep(2)  # the token expires (Accord renews it a little before)
        await wave(20)
        assert receiver.tokens_issued == 2
        receiver.revoke_tokens()  # the destination forgets it: the next request is answered 401
        await wave(40)
        assert receiver.tokens_issued == 3
        result = await lane.close()
        assert (result.rows_delivered, result.rows_failed, result.retries) == (60, 0, 0)

    asyncio.run(scenario())
    tokens = [r for r in receiver.requests("/token")]
    assert all(r.body.startswith(b"grant_type=client_credentials") for r in tokens) and len(tokens) == 3
    profiles = receiver.requests("/profiles")
    refused = [r for r in profiles if r.status == 401]
    assert 1 <= len(refused) <= 2  # the one or two requests under way when the token was revoked
    assert len({r.headers["authorization"] for r in profiles if r.status == 200}) == 3  # three tokens used


def test_refused_client_credentials_fail_at_once_and_say_so(receiver: HttpReceiver) -> None:
    receiver.require_oauth("accord-client", "the-right-secret")
    letters = MemoryDeadLetters()
    began = time.monotonic()
    account = destination(OAUTH, url=receiver.url, clientId="accord-client", clientSecret="a-wrong-secret")
    result = deliver(account, rows(3), FLOW, letters)
    assert time.monotonic() - began < 2 and result.rows_failed == 3
    assert receiver.requests("/profiles") == []  # nothing sent without a token
    [reason] = result.failures
    assert "token endpoint refused the client credentials (HTTP 401)" in reason
    assert all(x.attempts == 1 for x in letters.letters)
    assert "a-wrong-secret" not in repr(letters.letters) + repr(result)
