"""Audiences in: the instance's import workflow, which loads the audience files the CDP's `accord-campaign`
destination drops in the landing folder into recipients and lists.

The workflow `audience-import` is made with the instance (`initialise_engine`) or on first use: hourly, a
file collector on `engine.landing` -> data loading (CSV, header, at most `campaign_max_fields` fields
besides `segmentMembership.status` and `operation`) -> update data (insert-or-update by the `recipient`
target mapping's key, `externalId`) -> list update (a list per audience; exited members leave it). Each file
gets an audit record (`audience_loads`): loaded, inserted, updated, rejected with reasons, removed; or, for
a file refused whole, why. An administrator may edit the workflow like any other (its name stays).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from accord.campaign.engine import CampaignEngine
from accord.campaign.models import AudienceLoadRecord, TargetMappingRecord, WorkflowRecord
from accord.campaign.workflows.definitions import create_workflow
from accord.campaign.workflows.records import load_document
from accord.campaign.workflows.runs import run_workflow

IMPORT_WORKFLOW = "audience-import"


def import_document(key: str = "externalId") -> dict[str, Any]:
    """The built-in import workflow, reconciling recipients by `key`."""
    return {
        "name": IMPORT_WORKFLOW,
        "label": "Audiences from the CDP into recipients and lists",
        "activities": [
            {"name": "start", "type": "scheduler", "options": {"frequency": "hourly", "every": 1}, "next": ["collect"]},
            {"name": "collect", "type": "file-collector", "options": {"landing": True, "glob": "*.csv"},
             "next": ["load"]},
            {"name": "load", "type": "data-loading", "options": {"audience": True}, "next": ["update"]},
            {"name": "update", "type": "update-data", "options": {"audience": True, "key": key,
             "operation": "upsert"}, "next": ["lists"]},
            {"name": "lists", "type": "list-update", "options": {"audience": True}},
        ],
    }  # fmt: skip


def ensure_import_workflow(engine: CampaignEngine) -> bool:
    """Make the import workflow if the instance has none; returns whether it was made."""
    with engine.database.session() as session:
        if session.scalar(select(WorkflowRecord.id).where(WorkflowRecord.name == IMPORT_WORKFLOW)) is not None:
            return False
        mapping = session.scalar(select(TargetMappingRecord).where(TargetMappingRecord.name == "recipient"))
        key = mapping.key if mapping is not None else "externalId"
    create_workflow(engine, import_document(key))
    return True


def import_audiences(engine: CampaignEngine) -> dict[str, Any]:
    """Run the import workflow now (made first if missing); returns the run with its activities' counts."""
    ensure_import_workflow(engine)
    return run_workflow(engine, IMPORT_WORKFLOW)


def audience_loads(engine: CampaignEngine, *, run_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The audit records of audience files, newest first (of one run, when given)."""
    with engine.database.session() as session:
        query = select(AudienceLoadRecord).order_by(AudienceLoadRecord.id.desc()).limit(limit)
        if run_id is not None:
            query = query.where(AudienceLoadRecord.run_id == run_id)
        return [load_document(r) for r in session.scalars(query)]
