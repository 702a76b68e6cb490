"""The campaign instance of a home: its own database (SQLite or PostgreSQL), migrations, folders, and the
recipients' basic services."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from accord import campaign
from accord.campaign.exceptions import CampaignInputError, CampaignNotInitialisedError, DuplicateObjectError
from accord.campaign.models import RecipientRecord
from accord.settings import Settings
from accord.workspace import Workspace, initialise
from tests.databases import PostgresServer


def test_accord_init_makes_the_instance_its_database_and_owner_only_folders(settings: Settings) -> None:
    initialise(settings)
    engine = campaign.CampaignEngine.open(settings)
    try:
        assert (settings.home / "campaign.db").is_file()
        for folder in (engine.landing, engine.logs):
            assert folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) == 0o700
            assert folder.is_relative_to(settings.landing.resolve())  # the CDP's local destination may write there
        with engine.database.session() as session:
            tables = set(inspect(session.connection()).get_table_names())
        assert {"recipients", "lists", "broad_log", "tracking_log", "workflows", "campaign_version"} <= tables
        assert "sandboxes" not in tables  # the catalog's tables live in the catalog
    finally:
        engine.close()


def test_an_instance_that_was_never_initialised_says_how_to_start(settings: Settings) -> None:
    with pytest.raises(CampaignNotInitialisedError, match="accord campaign init"):
        campaign.CampaignEngine.open(settings)
    assert not (settings.home / "campaign.db").exists()  # asking made no empty database


def test_initialising_again_keeps_what_is_stored(settings: Settings) -> None:
    initialise(settings)
    engine = campaign.CampaignEngine.open(settings)
    with engine.database.session() as session:
        session.add(RecipientRecord(external_id="C1", email="ann@example.com"))
    engine.close()
    assert campaign.initialise_engine(settings)["created"] is False
    engine = campaign.CampaignEngine.open(settings)
    assert campaign.get_recipient(engine, "C1")["email"] == "ann@example.com"
    engine.close()


def test_catalog_and_campaign_share_one_postgresql_database_with_their_own_versions(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    url = postgres.create_database("shared_catalog_campaign")
    settings = Settings(home=tmp_path / "home", database_url=url, campaign_database_url=url, scheduler=False)
    initialise(settings)
    Workspace.open(settings).close()
    engine = campaign.CampaignEngine.open(settings)
    try:
        with engine.database.session() as session:
            versions = {
                table: session.execute(text(f"SELECT version_num FROM {table}")).scalar()
                for table in ("alembic_version", "campaign_version")
            }
        assert versions["campaign_version"] == "0002_send_leases"
        assert versions["alembic_version"].startswith("00") and versions["alembic_version"] != "0001_campaign_engine"
    finally:
        engine.close()


@pytest.mark.parametrize(
    "address",
    ["", "   ", "ann", "ann@", "@example.com", "ann@example", "ann@@example.com", "ann example@example.com",
     "ann@exa mple.com", "ann@-example.com", "a" * 65 + "@example.com", "ann@" + "b" * 250 + ".com", None, 42,
     "ann.@example.com", "<ann@example.com>", "ann@example.com\r\nBcc: eve@example.com"],
)  # fmt: skip
def test_addresses_mail_servers_would_refuse_are_named_as_such(address: object) -> None:
    assert campaign.address_problem(address) is not None


@pytest.mark.parametrize("address", ["ann@example.com", "Ann.O'Neil+news@mail.example.co.uk", "x@a-b.io"])
def test_ordinary_addresses_pass(address: str) -> None:
    assert campaign.address_problem(address) is None


def test_seed_addresses_suppressions_lists_and_opt_outs(settings: Settings) -> None:
    initialise(settings)
    engine = campaign.CampaignEngine.open(settings)
    try:
        campaign.add_seed_address(engine, "proof@example.com", kind="test")
        with pytest.raises(DuplicateObjectError):
            campaign.add_seed_address(engine, "proof@example.com", kind="test")
        with pytest.raises(CampaignInputError, match="not an e-mail address"):
            campaign.add_seed_address(engine, "proof@", kind="test")
        assert [a["email"] for a in campaign.seed_addresses(engine, "test")] == ["proof@example.com"]

        campaign.suppress(engine, "Bob@Example.com", "hard-bounce", "550 5.1.1 no such user")
        campaign.suppress(engine, "bob@example.com", "unsubscribed")  # the first reason stays
        assert [(s["email"], s["reason"]) for s in campaign.suppressions(engine)] == [
            ("bob@example.com", "hard-bounce")
        ]
        with pytest.raises(CampaignInputError, match="unknown reason"):
            campaign.suppress(engine, "eve@example.com", "bored")
        campaign.unsuppress(engine, "BOB@example.com")
        assert campaign.suppressions(engine) == []

        campaign.create_list(engine, "newsletter", double_opt_in=True)
        with pytest.raises(DuplicateObjectError):
            campaign.create_list(engine, "newsletter")
        assert [(entry["name"], entry["origin"]) for entry in campaign.list_lists(engine)] == [
            ("newsletter", "subscription")
        ]

        with engine.database.session() as session:
            session.add(RecipientRecord(external_id="C1", email="ann@example.com"))
        assert campaign.set_opt_out(engine, "C1", "email")["blackListEmail"] is True
        with pytest.raises(CampaignInputError, match="unknown channel"):
            campaign.set_opt_out(engine, "C1", "fax")
    finally:
        engine.close()
