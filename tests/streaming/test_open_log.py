"""Choosing the event log from the settings: the embedded one by default, NATS by URL."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from accord.settings import Settings
from accord.streaming import NatsEventLog, SqliteEventLog, open_event_log
from accord.streaming.exceptions import LogUnavailableError
from tests.servers import NatsServer


def test_the_embedded_log_is_the_default_under_the_home(settings: Settings) -> None:
    log = open_event_log(settings)
    try:
        assert isinstance(log, SqliteEventLog) and log.path == settings.home / "streaming" / "log.db"
    finally:
        log.close()


@pytest.mark.integration
def test_a_nats_url_opens_the_log_on_jetstream(
    settings: Settings, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_STREAMING_LOG_URL", nats_server.url)
    chosen = Settings(home=settings.home)
    log = open_event_log(chosen)
    try:
        assert isinstance(log, NatsEventLog) and log.stream == "ACCORD_EVENTS" and log.url == nats_server.url
        assert not (settings.home / "streaming").exists()
    finally:
        log.close()


def test_a_server_that_does_not_answer_is_a_clear_error_without_the_password(
    settings: Settings, closed_port: int
) -> None:
    url = f"nats://accord:s3cret@127.0.0.1:{closed_port}"
    with pytest.raises(LogUnavailableError) as failed:
        open_event_log(settings.model_copy(update={"streaming_log_url": url}))
    assert f"nats://127.0.0.1:{closed_port}" in failed.value.message and failed.value.__cause__ is not None
    assert "s3cret" not in str(failed.value.to_dict()) and failed.value.kind == "transient"


@pytest.mark.parametrize("url", ["http://127.0.0.1:4222", "127.0.0.1:4222", "nats://a:4222, redis://b"])
def test_only_nats_urls_are_taken(url: str) -> None:
    with pytest.raises(ValidationError, match="streaming_log_url"):
        Settings(streaming_log_url=url)
