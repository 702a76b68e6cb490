"""A workspace: the settings, catalog and lake that service functions work against."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from accord.access import OWNER, create_token, create_user, grant_role
from accord.catalog import (
    DEFAULT_SANDBOX,
    ApiToken,
    Catalog,
    NotInitialisedError,
    Sandbox,
    SessionReader,
    UserRecord,
    clear_secrets_pending,
    create_sandbox,
    redact_url,
)
from accord.errors import InvalidInputError
from accord.home import check_home, protect
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
        check_home(settings)
        protect(settings)
        catalog = Catalog(settings.catalog_url, create=not require_init)
        if require_init:
            if not catalog.is_initialised():
                where = redact_url(settings.database_url) if settings.database_url else str(settings.home.resolve())
                raise NotInitialisedError(where)
            catalog.upgrade()  # a newer Accord on an older catalog migrates, keeping the data
            seal_clear_secrets(catalog, settings)
        if settings.destinations_folder.is_dir():  # most homes declare none: then nothing is imported for them
            from accord.destinations.registry import register_declared

            register_declared(settings.destinations_folder)
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
    check_home(settings)
    protect(settings)
    try:
        settings.home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"cannot make Accord's home {settings.home}: {exc.strerror}",
                                code="ACCORD-0011-400", path=str(settings.home)) from None  # fmt: skip
    workspace = Workspace.open(settings, require_init=False)
    try:
        workspace.catalog.upgrade()
        with workspace.catalog.session() as session:
            created = session.scalar(select(Sandbox).where(Sandbox.name == DEFAULT_SANDBOX)) is None
            if created:
                create_sandbox(session, DEFAULT_SANDBOX, "Production")
            has_token = session.scalar(select(ApiToken.id).limit(1)) is not None
            has_user = session.scalar(select(UserRecord.id).limit(1)) is not None
        if not has_user:  # the home's owner: the admin of every sandbox, and of the first token
            create_user(workspace.catalog, OWNER)
            grant_role(workspace.catalog, "admin", OWNER, None)
        token = None
        if new_token or not has_token:
            _record, token = create_token(workspace.catalog, "admin")
        workspace.lake.root.mkdir(parents=True, exist_ok=True)
        settings.landing.mkdir(parents=True, exist_ok=True)
        from accord.sources import ensure_key_file

        ensure_key_file(settings.home)
        seal_clear_secrets(workspace.catalog, settings)
        from accord.campaign import initialise_engine

        initialise_engine(settings)  # the home's campaign instance: its database and folders
        return InitResult(created, token, str(settings.home.resolve()), redact_url(settings.catalog_url))
    finally:
        workspace.close()


def seal_clear_secrets(catalog: Catalog, settings: Settings) -> None:
    """Seal connection secrets that an older Accord stored in clear, once the secret key is at hand.

    A cheap query finds them (rows stored before catalog revision 0009); usually there are none. It is
    made here, on the catalog alone, so that opening a workspace does not import the sources context
    (and the engine with it) for nothing."""
    with catalog.session() as session:
        if not clear_secrets_pending(SessionReader(session)):  # the list commands' quick path asks the same
            return
    from accord.sources import SecretBox
    from accord.sources import seal_clear_secrets as seal
    from accord.sources.exceptions import SecretKeyError

    try:
        box = SecretBox(settings.home)
    except SecretKeyError:  # no key here yet (`accord init` makes one): the next process with it seals them
        return
    with catalog.session() as session:
        seal(session, box)
    if catalog.url.startswith("sqlite"):  # the clear text must not linger in the write-ahead log either
        with catalog.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
