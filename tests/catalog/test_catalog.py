"""The catalog on SQLite and on a real PostgreSQL: init, sandboxes, tokens, migrations that keep data."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from accord.access import HOME_WIDE, Permission, authenticate, create_token, revoke_token
from accord.catalog import Catalog, create_sandbox, list_sandboxes
from accord.catalog.models import Base
from accord.errors import AuthenticationError, ConflictError, InvalidInputError
from accord.settings import Settings
from accord.workspace import Workspace, initialise
from tests.databases import PostgresServer


@pytest.mark.integration
def test_init_creates_prod_sandbox_and_one_admin_token(catalog_settings: Settings) -> None:
    first = initialise(catalog_settings)
    assert first.created and first.token and first.token.startswith("acc_")
    again = initialise(catalog_settings)
    assert not again.created and again.token is None  # the token is printed once only
    workspace = Workspace.open(catalog_settings)
    with workspace.catalog.session() as session:
        assert [s.name for s in list_sandboxes(session)] == ["prod"]
    caller = authenticate(workspace.catalog, first.token)
    assert (caller.user, caller.role, caller.sandbox, caller.is_admin) == ("admin", None, None, True)
    workspace.close()


@pytest.mark.integration
def test_tokens_are_stored_hashed_and_can_be_revoked(catalog_settings: Settings) -> None:
    token = initialise(catalog_settings).token
    assert token
    workspace = Workspace.open(catalog_settings)
    with workspace.catalog.engine.connect() as connection:
        stored = [row[0] for row in connection.execute(text("SELECT token_hash FROM api_tokens"))]
    assert token not in stored and len(stored[0]) == 64
    record, second = create_token(workspace.catalog, "ci")
    revoke_token(workspace.catalog, record.id)
    with pytest.raises(AuthenticationError):
        authenticate(workspace.catalog, second)
    for bad in (None, "", "acc_wrong", "Bearer x", "x" * 10_000):
        with pytest.raises(AuthenticationError):
            authenticate(workspace.catalog, bad)
    workspace.close()


@pytest.mark.integration
def test_sandbox_names_are_checked_and_unique(catalog_settings: Settings) -> None:
    initialise(catalog_settings)
    workspace = Workspace.open(catalog_settings)
    with workspace.catalog.session() as session:
        create_sandbox(session, "dev-1")
    with pytest.raises(ConflictError), workspace.catalog.session() as session:
        create_sandbox(session, "dev-1")
    for bad in ("Dev", "1dev", "dev'; DROP TABLE sandboxes;--", "d" * 70):
        with pytest.raises(InvalidInputError), workspace.catalog.session() as session:
            create_sandbox(session, bad)
    with pytest.raises(InvalidInputError, match="reserved: landing/campaign"), workspace.catalog.session() as s:
        create_sandbox(s, "campaign")  # its folder of the landing root would be the campaign instances'
    with workspace.catalog.session() as session:
        assert [s.name for s in list_sandboxes(session)] == ["dev-1", "prod"]
    workspace.close()


@pytest.mark.integration
def test_migrations_match_the_models(catalog_settings: Settings) -> None:
    """The migration history builds exactly the tables the code expects, on both databases."""
    initialise(catalog_settings)
    catalog = Catalog(catalog_settings.catalog_url)
    with catalog.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    catalog.dispose()
    assert differences == []


def test_upgrade_keeps_existing_data(settings: Settings) -> None:
    """A catalog made by the first release, holding data, upgrades to the newest tables intact."""
    catalog = Catalog(settings.catalog_url, create=True)
    catalog.upgrade("0001")
    with catalog.session() as session:
        create_sandbox(session, "prod")
        create_sandbox(session, "keepme")
    with catalog.engine.connect() as connection:
        assert not inspect(connection).has_table("dataflows")
    catalog.dispose()
    initialise(settings)  # upgrades to head
    workspace = Workspace.open(settings)
    with workspace.catalog.session() as session:
        assert [s.name for s in list_sandboxes(session)] == ["keepme", "prod"]
    with workspace.catalog.engine.connect() as connection:
        assert inspect(connection).has_table("dataflows")
        assert "source_key" in [c["name"] for c in inspect(connection).get_columns("batches")]
    workspace.close()


def test_tokens_made_before_users_keep_what_they_could_do(settings: Settings) -> None:
    """Tokens of a catalog made before users and roles come to belong to `admin`; a member token is narrowed
    to a role of all but the home-wide permissions, and keeps its sandbox."""
    catalog = Catalog(settings.catalog_url, create=True)
    catalog.upgrade("0014_schema_contracts")
    with catalog.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO sandboxes (id, name, title, created_at) VALUES "
                "('s1', 'prod', 'Production', '2026-01-01'), ('s2', 'dev', 'dev', '2026-01-01')"
            )
        )
        for name, role, sandbox in (("old-admin", "admin", None), ("old-member", "member", "s2")):
            connection.execute(text("INSERT INTO api_tokens (id, name, token_hash, role, sandbox_id, created_at) "
                                    "VALUES (:id, :name, :hash, :role, :sandbox, '2026-01-01')"),
                               {"id": name, "name": name, "hash": hashlib.sha256(f"acc_{name}".encode()).hexdigest(),
                                "role": role, "sandbox": sandbox})  # fmt: skip
    catalog.dispose()
    assert initialise(settings).token is None  # the home has tokens: no new one
    workspace = Workspace.open(settings)
    admin = authenticate(workspace.catalog, "acc_old-admin")
    member = authenticate(workspace.catalog, "acc_old-member")
    assert (admin.user, admin.is_admin, member.user, member.role, member.sandbox) == (
        "admin", True, "admin", "member", "dev")  # fmt: skip
    assert Permission.MANAGE_DATASETS in member.permissions_in("dev") and not member.may_use("prod")
    assert not member.holds_home_wide(Permission.MANAGE_SANDBOXES)
    assert member.permissions_in("dev") == frozenset(Permission) - HOME_WIDE
    workspace.close()


def test_a_workspace_needs_init_first(settings: Settings) -> None:
    from accord.catalog import NotInitialisedError

    with pytest.raises(NotInitialisedError, match="accord init"):
        Workspace.open(settings)


def test_unreachable_postgres_is_a_clear_error(tmp_path: Path, closed_port: int) -> None:
    from accord.catalog import CatalogUnavailableError

    url = f"postgresql://user:s3cret@127.0.0.1:{closed_port}/nothing"
    with pytest.raises(CatalogUnavailableError) as caught:
        initialise(Settings(home=tmp_path, database_url=url))
    assert "s3cret" not in caught.value.message and "127.0.0.1" in caught.value.message
    assert "Connection refused" in caught.value.message


@pytest.mark.integration
def test_a_wrong_catalog_password_is_a_clear_error(
    tmp_path: Path, postgres: PostgresServer, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accord.catalog import CatalogAuthenticationError

    url = postgres.url_of(postgres.database, password="not-the-password")
    with pytest.raises(CatalogAuthenticationError) as caught:
        initialise(Settings(home=tmp_path, database_url=url))
    message = caught.value.message
    assert f"the catalog database refused user {postgres.user!r}: wrong user name or password" in message
    assert "not-the-password" not in message and "ACCORD_DATABASE_URL" in message
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    result = cli("init")
    assert result.code == 2 and "wrong user name or password" in result.stderr  # fix the URL; no use retrying
    assert "not-the-password" not in result.stderr + result.stdout and "Traceback" not in result.stderr


@pytest.mark.integration
def test_profile_enabled_datasets_make_the_union_on_either_database(catalog_settings: Settings) -> None:
    """Two profile-enabled datasets of one schema, and another schema: the union holds each schema once."""
    from accord import lake, schema

    initialise(catalog_settings)
    workspace = Workspace.open(catalog_settings)
    try:
        with workspace.catalog.session() as session:
            schema.create_schema(
                session,
                "prod",
                {
                    "name": "crm",
                    "class": "profile",
                    "fieldGroups": ["personal-contact-details"],
                    "identities": [{"path": "personalEmail.address", "namespace": "Email"}],
                },
            )
            schema.create_schema(session, "prod", {"name": "people", "class": "profile",
                                                   "fieldGroups": ["demographic-details"]})  # fmt: skip
            for name, used in (("crm-a", "crm"), ("crm-b", "crm"), ("people", "people")):
                lake.create_dataset(session, "prod", name, used, profile_enabled=True)
            union = schema.union_schema(session, "prod", "profile")
        assert {"personalEmail.address", "person.name.firstName"} <= set(union.leaves())
    finally:
        workspace.close()


@pytest.mark.integration
def test_two_changes_that_each_take_a_manager_away_cannot_both_leave_none(catalog_settings: Settings) -> None:
    """Two managers disabled at the same time, each in its own transaction: one goes through, the other is
    refused (each alone would have seen the other manager still there)."""
    import threading

    from sqlalchemy import update

    from accord.access import create_user, grant_role
    from accord.access.users import keep_a_manager
    from accord.catalog import UserRecord, utcnow
    from accord.errors import ConflictError

    initialise(catalog_settings)
    workspace = Workspace.open(catalog_settings)
    create_user(workspace.catalog, "second")
    grant_role(workspace.catalog, "admin", "second", None)
    checked, outcome = threading.Event(), {}

    def disable(name: str, hold: threading.Event | None) -> None:
        try:
            with workspace.catalog.session() as session:
                session.execute(update(UserRecord).where(UserRecord.name == name).values(disabled_at=utcnow()))
                keep_a_manager(session, f"disabling {name}")
                if hold is not None:
                    checked.set()
                    hold.wait(10)  # still uncommitted while the other change checks
            outcome[name] = "done"
        except ConflictError:
            outcome[name] = "refused"

    release = threading.Event()
    first = threading.Thread(target=disable, args=("admin", release))
    first.start()
    assert checked.wait(10)
    second = threading.Thread(target=disable, args=("second", None))
    second.start()
    second.join(1)  # it waits for the first to end (on SQLite, for its write; on PostgreSQL, for the lock)
    release.set()
    first.join(10)
    second.join(30)
    assert outcome == {"admin": "done", "second": "refused"}, outcome
    workspace.close()
