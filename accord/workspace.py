"""A workspace: the settings, catalog and lake that service functions work against."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from accord.access import create_token
from accord.catalog import (
    DEFAULT_SANDBOX,
    ApiToken,
    Catalog,
    NotInitialisedError,
    Sandbox,
    create_sandbox,
    redact_url,
)
from accord.lake import Lake
from accord.settings import Settings, load_settings


@dataclass
class Workspace:
    settings: Settings
    catalog: Catalog
    lake: Lake

    @classmethod
    def open(cls, settings: Settings | None = None, *, require_init: bool = True) -> Workspace:
        settings = settings or load_settings()
        catalog = Catalog(settings.catalog_url, create=not require_init)
        if require_init:
            if not catalog.is_initialised():
                where = redact_url(settings.database_url) if settings.database_url else str(settings.home.resolve())
                raise NotInitialisedError(where)
            catalog.upgrade()  # a newer Accord on an older catalog migrates, keeping the data
        return cls(settings, catalog, Lake(settings.lake_url))

    def close(self) -> None:
        self.catalog.dispose()


@dataclass(frozen=True)
class InitResult:
    created: bool
    token: str | None
    home: str
    database: str


def initialise(settings: Settings | None = None, *, new_token: bool = False) -> InitResult:
    """Create or upgrade the catalog, the `prod` sandbox and, the first time, an admin token.

    Safe to run again: existing data is kept, and a new token is made only when asked for.
    """
    settings = settings or load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    workspace = Workspace.open(settings, require_init=False)
    try:
        workspace.catalog.upgrade()
        with workspace.catalog.session() as session:
            created = session.scalar(select(Sandbox).where(Sandbox.name == DEFAULT_SANDBOX)) is None
            if created:
                create_sandbox(session, DEFAULT_SANDBOX, "Production")
            has_token = session.scalar(select(ApiToken.id).limit(1)) is not None
        token = None
        if new_token or not has_token:
            _record, token = create_token(workspace.catalog, "admin", role="admin")
        workspace.lake.root.mkdir(parents=True, exist_ok=True)
        from accord.sources import ensure_key_file

        ensure_key_file(settings.home)
        return InitResult(created, token, str(settings.home.resolve()), redact_url(settings.catalog_url))
    finally:
        workspace.close()
