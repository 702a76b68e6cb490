"""Alembic environment of the campaign engine's database: its own tables and its own version table, so that
it can share a PostgreSQL database with the catalog without either touching the other's migrations."""

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from accord.campaign.models import CampaignBase

config = context.config
connection = config.attributes.get("connection")
options: dict[str, Any] = {
    "target_metadata": CampaignBase.metadata,
    "render_as_batch": True,
    "version_table": "campaign_version",
}

if connection is not None:
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        context.configure(connection=conn, **options)
        with context.begin_transaction():
            context.run_migrations()
