"""The test servers themselves: they say when they did not start, and do not race for ports."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI

from tests.databases import start_mariadb, start_postgres
from tests.servers import start_api


def test_the_api_server_says_when_it_did_not_start() -> None:
    @asynccontextmanager
    async def broken(_app: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("the catalog is gone")
        yield

    with pytest.raises(RuntimeError, match="the API server did not start"):
        start_api(FastAPI(lifespan=broken))


@pytest.mark.integration
@pytest.mark.parametrize("start", [start_postgres, start_mariadb], ids=["postgresql", "mariadb"])
def test_a_database_server_moves_off_a_port_another_process_took(start: Callable[..., Any]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = int(squatter.getsockname()[1])
        server = start(first_port=taken)
        try:
            assert server.port != taken
            server.create_database("moved")  # it answers on the port it reports
        finally:
            server.stop()
