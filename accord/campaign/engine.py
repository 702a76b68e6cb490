"""A campaign instance: its settings and its database, opened once per process or command."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from accord.campaign.database import CampaignDatabase
from accord.campaign.exceptions import CampaignNotInitialisedError
from accord.campaign.models import TargetMappingRecord
from accord.settings import Settings

RECIPIENT_COLUMNS = ("externalId", "email", "firstName", "lastName", "phone")
"""The `recipient` target mapping's own columns; any other column of an audience is a custom field."""


@dataclass
class CampaignEngine:
    """What every service function of the campaign context works on: one instance's settings and database."""

    settings: Settings
    database: CampaignDatabase
    _tracking_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> CampaignEngine:
        """The instance of this home; its database is migrated to the newest schema, keeping every row."""
        database = CampaignDatabase(settings.campaign_url)
        if not database.is_initialised():
            database.dispose()
            raise CampaignNotInitialisedError(_where(settings))
        database.upgrade()
        return cls(settings, database)

    @property
    def name(self) -> str:
        return self.settings.campaign_instance

    @property
    def landing(self) -> Path:
        return self.settings.campaign_landing_folder

    @property
    def logs(self) -> Path:
        return self.settings.campaign_logs_folder

    def tracking_key(self) -> bytes:
        """The key tracking URLs are signed with: derived from the home's secret key, never stored apart."""
        if self._tracking_key is None:
            from accord.sources import SecretBox

            secret = SecretBox(self.settings.home).key_bytes()
            self._tracking_key = hmac.new(secret, b"accord campaign tracking", hashlib.sha256).digest()
        return self._tracking_key

    def hold(self, what: str, purpose: str) -> Any:
        """The lock `campaign:<instance>:<what>` for a block: a second process doing the same work waits
        `job_wait_seconds`, then is told who holds it; a dead holder's lock goes stale and is taken over. The
        locks are rows of the engine's own database (an instance on a machine of its own needs no catalog)."""
        from accord.jobs import hold

        return hold(self.database, f"campaign:{self.name}:{what}", purpose, wait_seconds=self.settings.job_wait_seconds,
                    stale_seconds=self.settings.stale_run_seconds)  # fmt: skip

    def close(self) -> None:
        self.database.dispose()


def initialise_engine(settings: Settings) -> dict[str, Any]:
    """Create or upgrade the instance's database, its `recipient` target mapping and its folders.

    Safe to run again: what is stored is kept."""
    database = CampaignDatabase(settings.campaign_url, create=True)
    try:
        created = not database.is_initialised()
        database.upgrade()
        with database.session() as session:
            if session.scalar(select(TargetMappingRecord).where(TargetMappingRecord.name == "recipient")) is None:
                session.add(TargetMappingRecord(name="recipient", key="externalId", columns=list(RECIPIENT_COLUMNS),
                                                max_fields=settings.campaign_max_fields))  # fmt: skip
        for folder in (settings.campaign_landing_folder, settings.campaign_logs_folder):
            folder.mkdir(parents=True, exist_ok=True)
        from accord.sources import ensure_key_file

        ensure_key_file(settings.home)  # tracking links are signed with a key derived from it
        # the built-in workflows: audiences in, logs out (their modules use this one)
        from accord.campaign.imports import ensure_import_workflow
        from accord.campaign.logs import ensure_log_export_workflow

        made = CampaignEngine(settings, database)
        ensure_import_workflow(made)
        ensure_log_export_workflow(made)
        publish_instance(made)
        return {
            "created": created,
            "instance": settings.campaign_instance,
            "database": _where(settings),
            "landing": str(settings.campaign_landing_folder),
            "logs": str(settings.campaign_logs_folder),
        }
    finally:
        database.dispose()


def publish_instance(engine: CampaignEngine) -> None:
    """Say in the landing folder what this instance takes and holds (its limits, its audiences), so that the
    CDP's activation refuses a file the import would refuse, before it lands. Written whole (a reader never
    sees part of it); at initialisation and after every import."""
    import json
    import os

    from sqlalchemy import func

    from accord.campaign.models import ListRecord, RecipientRecord
    from accord.destinations.connectors.campaign import INSTANCE_FILE

    settings = engine.settings
    with engine.database.session() as session:
        audiences = sorted(a for a in session.scalars(select(ListRecord.audience_id).where(
            ListRecord.origin == "audience")) if a)  # fmt: skip
        recipients = session.scalar(select(func.count()).select_from(RecipientRecord)) or 0
    said = {"instance": engine.name, "maxFields": settings.campaign_max_fields,
            "maxAudiences": settings.campaign_max_audiences, "audiences": audiences,
            "maxActiveProfiles": settings.campaign_max_active_profiles, "activeProfiles": recipients,
            "maxLandingBytes": int(settings.campaign_max_landing_bytes)}  # fmt: skip
    engine.landing.mkdir(parents=True, exist_ok=True)
    target = engine.landing / INSTANCE_FILE
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(said, indent=2))
    os.replace(partial, target)


def _where(settings: Settings) -> str:
    from accord.catalog import redact_url

    return redact_url(settings.campaign_url)
