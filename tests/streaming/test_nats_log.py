"""What only the NATS log does: keep to a stream that can hold it, and name its server without secrets."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import nats
import pytest
from nats.js.api import DiscardPolicy, StorageType, StreamConfig

from accord.streaming.exceptions import LogConfigurationError, LogUnavailableError
from accord.streaming.log import Entry
from accord.streaming.nats_log import NatsEventLog, consumer_key, message_key, shown_url
from tests.servers import NatsServer


def test_keys_tell_apart_what_differs() -> None:
    assert message_key("ab", "c") != message_key("a", "bc")
    assert len(message_key("a", "b")) == 32
    assert consumer_key("processor") == "name.processor"
    assert consumer_key("a b") != consumer_key("a_b") and consumer_key("a b").startswith("hex.")


def test_urls_are_shown_without_credentials() -> None:
    assert shown_url("nats://user:pass@host:4222") == "nats://host:4222"
    assert shown_url("tls://token@a:1, nats://b:2") == "tls://a:1,nats://b:2"


def made_stream(url: str, **config: Any) -> str:
    """A stream of Accord's subjects made by hand, as another tool would (`config`: its settings); its name."""
    stream = f"T{uuid.uuid4().hex}"

    async def make() -> None:
        connection = await nats.connect(url)
        try:
            await connection.jetstream().add_stream(
                StreamConfig(name=stream, subjects=[f"accord.{stream}.*"], **config)
            )
        finally:
            await connection.close()

    asyncio.run(make())
    return stream


@pytest.mark.integration
def test_a_stream_that_keeps_many_messages_per_subject_is_refused(nats_server: NatsServer) -> None:
    stream = made_stream(nats_server.url, storage=StorageType.MEMORY)
    with pytest.raises(LogConfigurationError) as refused:
        NatsEventLog(nats_server.url, stream)
    assert "second message per subject" in refused.value.message and "in memory" in refused.value.message


@pytest.mark.integration
def test_a_full_stream_is_said_to_be_full_not_taken_for_a_message_sent_before(nats_server: NatsServer) -> None:
    # JetStream answers any limit of a stream with the same code as "this subject holds a message already"
    stream = made_stream(nats_server.url, storage=StorageType.FILE, max_msgs=2, discard=DiscardPolicy.NEW,
                         discard_new_per_subject=True, max_msgs_per_subject=1, allow_direct=True)  # fmt: skip
    log = NatsEventLog(nats_server.url, stream)
    try:
        assert [a.seq for a in log.append([Entry("i", "a", b"1"), Entry("i", "b", b"2")]).result(10)] == [1, 2]
        assert log.append([Entry("i", "a", b"again")]).result(10)[0].duplicate  # the per-subject limit: sent before
        with pytest.raises(LogUnavailableError) as full:
            log.append([Entry("i", "c", b"3")]).result(10)
        assert "maximum messages exceeded" in full.value.message
        assert [s.message_id for s in log.read(0, 10)] == ["a", "b"]  # nothing lost, nothing half-written
    finally:
        log.close()
