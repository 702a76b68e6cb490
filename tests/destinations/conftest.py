"""Fixtures of the destinations tests: real HTTP receivers on 127.0.0.1, streaming destinations made
from declared documents (with short waits, so that tries and dead letters come quickly), profile rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from accord.destinations.spec import ProfileRow
from accord.destinations.streaming.declared import DeclaredDestination, declared_destination_class
from accord.destinations.streaming.documents import parse_document
from tests.http_receiver import HttpReceiver


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver()
    yield server
    server.stop()


@pytest.fixture
def receivers() -> Iterator[Callable[[], HttpReceiver]]:
    """Start as many receivers as a test asks for; all are stopped after it."""
    started: list[HttpReceiver] = []

    def start() -> HttpReceiver:
        started.append(HttpReceiver())
        return started[-1]

    yield start
    for server in started:
        server.stop()


def document(**changes: Any) -> dict[str, Any]:
    """A declared destination that posts profiles as JSON, with quick tries (3, from 50 ms)."""
    base: dict[str, Any] = {
        "id": "test-http",
        "name": "Test HTTP",
        "exportType": "profile",
        "url": "{{ config.url }}/profiles",
        "body": '{"flow": {{ flow.name | tojson }}, "profiles": {{ profiles | tojson }}}',
        "config": [{"name": "url", "format": "url"}],
        "retry": {"attempts": 3, "initialWaitSeconds": 0.05, "maxWaitSeconds": 0.2},
        "aggregation": {"maxProfilesPerRequest": 10, "maxBatchAgeSeconds": 0.2},
        "limits": {"requestsInFlight": 2, "failuresToOpen": 100},
    }
    return base | changes


def destination(doc: dict[str, Any] | None = None, **config: Any) -> DeclaredDestination:
    """An account's destination object of a declared document, configured with `config` (timeouts short)."""
    cls = declared_destination_class(parse_document(doc or document()))
    model = cls.spec.config.model_validate({"timeoutSeconds": 2, **config})
    return cls(model)


def rows(count: int, start: int = 0, segment: str = "s1", status: str = "realized") -> list[ProfileRow]:
    return [
        {
            "profileId": str(start + i),
            "attributes": {"firstName": f"Name{start + i}"},
            "identities": {"Email": [f"p{start + i}@example.com"]},
            "segments": {segment: {"name": "Segment one", "status": status}},  # type: ignore[typeddict-item]
        }
        for i in range(count)
    ]


def delivered_ids(server: HttpReceiver, path: str = "/profiles") -> list[str]:
    """Profile ids in the order the receiver got them whole, from the bodies of its complete requests."""
    return [p["profileId"] for r in server.requests(path) if r.status == 200 for p in r.json()["profiles"]]
