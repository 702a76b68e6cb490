"""Fixtures of the workflow tests: an initialised campaign instance whose landing folder the operator allows
(as the default `allowed_roots`, the home's landing folder, does), and recipients to work on."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert

from accord import campaign
from accord.campaign.models import RecipientRecord
from accord.settings import Settings
from tests.databases import PostgresServer
from tests.http_receiver import HttpReceiver


@pytest.fixture
def campaign_settings(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    return Settings(home=home, scheduler=False, allowed_roots=[tmp_path / "files", home / "landing"])


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest, campaign_settings: Settings) -> Iterator[campaign.CampaignEngine]:
    """The instance on each database the engine supports (SQLite in the home, PostgreSQL by URL)."""
    settings = campaign_settings
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database(f"campaign_{secrets.token_hex(4)}")
        settings = campaign_settings.model_copy(update={"campaign_database_url": url})
    campaign.initialise_engine(settings)
    opened = campaign.CampaignEngine.open(settings)
    yield opened
    opened.close()


@pytest.fixture
def engine(campaign_settings: Settings) -> Iterator[campaign.CampaignEngine]:
    campaign.initialise_engine(campaign_settings)
    opened = campaign.CampaignEngine.open(campaign_settings)
    yield opened
    opened.close()


def add_recipients(engine: campaign.CampaignEngine, count: int, **custom: str) -> None:
    """Recipients C1..Cn, ann1@example.com..., with `tier` gold for every tenth one."""
    rows = [
        {"external_id": f"C{i}", "email": f"ann{i}@example.com", "first_name": f"Ann{i}",
         "custom": {"tier": "gold" if i % 10 == 0 else "silver", **custom}}
        for i in range(1, count + 1)
    ]  # fmt: skip
    with engine.database.session() as session:
        session.execute(insert(RecipientRecord), rows)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver()
    yield server
    server.stop()
