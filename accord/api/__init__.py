"""The REST API: FastAPI over the service functions; every route but /health needs a token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from accord import __version__
from accord.api import errors
from accord.api.models import Health
from accord.api.routes import router
from accord.settings import Settings
from accord.workspace import Workspace


def create_app(settings: Settings) -> FastAPI:
    """The API application over the workspace these settings describe."""
    workspace = Workspace.open(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        workspace.close()

    app = FastAPI(
        title="Accord",
        version=__version__,
        description="Open-source real-time customer data platform. Authenticate with `Authorization: Bearer <token>`; "
        "choose a sandbox with the `x-sandbox-name` header (default `prod`). Errors are `{code, message, details}`.",
        lifespan=lifespan,
    )
    app.state.workspace = workspace
    errors.install(app)

    @app.get("/health", response_model=Health, tags=["health"])
    def health() -> dict[str, str]:
        """Liveness; needs no token."""
        return {"status": "ok", "version": __version__}

    app.include_router(router)
    return app
