"""Which event log a deployment uses, from its settings: the embedded SQLite log, or NATS JetStream."""

from __future__ import annotations

from accord.settings import Settings
from accord.streaming.log import EventLog, SqliteEventLog

EMBEDDED_LOG = "streaming/log.db"
"""Where the embedded log lives, under the home."""


def open_event_log(settings: Settings) -> EventLog:
    """The event log that `streaming_log_url` names: empty for the embedded log under the home,
    `nats://host:port` (or `tls://`, several separated by commas) for a NATS JetStream server.

    The caller closes it. A NATS server that cannot be reached raises `LogUnavailableError`."""
    url = settings.streaming_log_url.strip()
    if not url:
        return SqliteEventLog(settings.home / EMBEDDED_LOG)
    # the NATS client is imported only by deployments that use it
    from accord.streaming.nats_log import NatsEventLog

    return NatsEventLog(url, stream=settings.streaming_log_stream)
