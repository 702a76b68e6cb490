"""The event logs under test: every test of the conformance suite runs on each (`event_log_factory`), but
for what only one log does: those tests name their log (`parametrize("event_log_factory", [...], indirect=True)`)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.api import create_app
from accord.settings import Settings
from accord.streaming.log import EventLog, SqliteEventLog
from accord.workspace import initialise
from tests.servers import NatsServer, start_api

DUPLICATE_WINDOW = 1.0
"""JetStream's duplicate window in these tests: short, so that a test can send an id again after it."""


@dataclass
class EventLogFactory:
    """Opens one log of a kind, the same one at each call (a reopen sees what was written before)."""

    kind: str
    opener: Callable[[str | None], EventLog]
    opened: list[EventLog] = field(default_factory=list)

    def open(self, url: str | None = None) -> EventLog:
        """The log; for NATS, on the server at `url` when given (a test's own), else the session's."""
        log = self.opener(url)
        self.opened.append(log)
        return log


@pytest.fixture(params=["sqlite", pytest.param("nats", marks=pytest.mark.integration)])
def event_log_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLogFactory]:
    kind = request.param
    if kind == "sqlite":
        factory = EventLogFactory(kind, lambda _: SqliteEventLog(tmp_path / "log.db"))
        yield factory
        for log in factory.opened:
            log.close()
        return

    from accord.streaming.nats_log import NatsEventLog

    server: NatsServer = request.getfixturevalue("nats_server")
    stream = f"T{uuid.uuid4().hex}"  # tests share the session's server, each with a stream of its own
    factory = EventLogFactory(
        kind, lambda url: NatsEventLog(url or server.url, stream, timeout=2, duplicate_window=DUPLICATE_WINDOW)
    )
    yield factory
    for log in factory.opened:
        log.close()
    asyncio.run(_remove_stream(server.url, stream))


async def _remove_stream(url: str, stream: str) -> None:
    """Delete a test's stream and bucket, so that the session's server does not grow with the suite."""
    import nats
    import nats.js.errors

    connection = await nats.connect(url)
    try:
        jetstream = connection.jetstream()
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await jetstream.delete_stream(stream)
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await jetstream.delete_key_value(f"{stream}_POSITIONS")
    finally:
        await connection.close()


# -- a real server with a profile dataset `crm` (and `other`), for the inlets' tests --------------------------


@dataclass
class Streaming:
    api: httpx.Client
    anonymous: httpx.Client
    app: Any

    def process(self) -> int:
        """Run the processor over what waits (the server's own, as `accord serve` runs it in a thread)."""
        done = 0
        while taken := self.app.state.streaming.processor.process_waiting():
            done += taken
        return done


@pytest.fixture
def streaming(settings: Settings) -> Iterator[Streaming]:
    token = initialise(settings).token
    app = create_app(settings)
    server = start_api(app)
    api = httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    anonymous = httpx.Client(base_url=server.base, timeout=60)
    for path, body in (
        ("/schemas", {"name": "crm", "class": "profile", "fieldGroups": ["demographic-details",
                      "personal-contact-details"], "identities": [
                      {"path": "personalEmail.address", "namespace": "Email", "primary": True}]}),
        ("/datasets", {"name": "crm", "schema": "crm", "profileEnabled": True}),
        ("/datasets", {"name": "other", "schema": "crm"}),
    ):  # fmt: skip
        assert api.post(path, json=body).status_code == 201, api.post(path, json=body).text
    yield Streaming(api, anonymous, app)
    api.close()
    anonymous.close()
    server.stop()


def message(email: str, first: str = "Ann", **header: Any) -> dict[str, Any]:
    entity = {"personalEmail": {"address": email}, "person": {"name": {"firstName": first}}}
    return {"header": {"schemaRef": {"id": "crm"}, "imsOrgId": "ignored", **header},
            "body": {"xdmMeta": {"schemaRef": {"id": "crm"}}, "xdmEntity": entity}}  # fmt: skip


def inlet(streaming: Streaming, name: str = "web", **options: Any) -> str:
    answer = streaming.api.post("/streaming/inlets", json={"name": name, "dataset": "crm", **options})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])
