"""The campaign engine's database: SQLite in the home by default, PostgreSQL by URL, its own migrations."""

from __future__ import annotations

from pathlib import Path

from accord.catalog import Database

MIGRATIONS = Path(__file__).parent / "migrations"


class CampaignDatabase(Database):
    """The engine's recipients, lists, workflows, deliveries and logs; apart from the catalog, so that an
    instance can run on a machine of its own. Its version table is its own: it may share a PostgreSQL
    database with the catalog."""

    migrations = MIGRATIONS
    version_table = "campaign_version"
    marker_table = "recipients"
