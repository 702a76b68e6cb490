"""Campaign tests: a home whose landing folder is allowed, as it is by default (the instance's landing and logs
folders sit there, where the CDP's destination and source reach them), and the SMTP servers, one per mode for the
whole session, emptied before each test that uses it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from accord.settings import Settings
from tests.smtp_server import SmtpSink, start_smtp

SmtpServers = Callable[..., SmtpSink]


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"allowed_roots": [tmp_path, settings.landing]})


@pytest.fixture(scope="session")
def smtp_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServers]:
    """`smtp_servers(mode="greylist", tls=True, ...)`: a running server of that kind, its store emptied. Servers
    remember across tests only what greylisting has seen: tests that greylist use addresses of their own."""
    started: dict[tuple[Any, ...], SmtpSink] = {}

    def server(mode: str = "normal", *, drop_every: int = 0, tls: bool = False,
               auth: tuple[str, str] | None = None) -> SmtpSink:  # fmt: skip
        key = (mode, drop_every, tls, auth)
        if key not in started:
            folder: Path = tmp_path_factory.mktemp(f"smtp-{mode}")
            started[key] = start_smtp(folder, mode=mode, drop_every=drop_every, tls=tls, auth=auth)
        sink = started[key]
        sink.clear()
        return sink

    yield server
    for sink in started.values():
        sink.stop()


@pytest.fixture
def smtp_sink(smtp_servers: SmtpServers) -> SmtpSink:
    """A plain SMTP server that accepts everything, emptied for this test."""
    return smtp_servers()
