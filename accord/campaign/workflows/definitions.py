"""Workflows as stored: create, update, get, list and delete, each document checked whole before it is kept
(its activities, transitions and options, and the local paths it names inside the allowed roots)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from accord.access import AllowedRoots
from accord.campaign.engine import CampaignEngine
from accord.campaign.exceptions import CampaignInputError, DuplicateObjectError, UnknownObjectError
from accord.campaign.models import WorkflowRecord
from accord.campaign.workflows.document import CODE, Workflow, check_workflow, parse_text
from accord.errors import AccordError, DocumentError


def checked(engine: CampaignEngine, document: Any) -> Workflow:
    """The workflow of a document (a dict, or YAML or JSON text), its local paths inside the allowed roots, and
    its options as they are stored (secrets sealed)."""
    from accord.sources import SecretBox

    workflow = check_workflow(parse_text(document) if isinstance(document, str) else document)
    roots = AllowedRoots.from_settings(engine.settings)

    def box() -> SecretBox:  # opened only for a workflow with secrets: an instance may hold none
        return SecretBox(engine.settings.home)

    problems = []
    for index, activity in enumerate(workflow.document.activities):
        built = workflow.activities[activity.name]
        try:
            activity.options = built.stored_options(activity.options, box, roots)
        except DocumentError as exc:
            problems += [{**p, "path": f"activities[{index}].options.{p['path']}"} for p in exc.problems]
        except AccordError as exc:  # a local path outside the allowed roots (named in the message), a sealed part
            problems.append({"path": f"activities[{index}].options", "message": exc.message})  # we cannot open
        for field, path in built.local_paths().items():
            where = f"activities[{index}].options.{field}"
            try:
                roots.resolve(path, where)
            except AccordError as exc:
                problems.append({"path": where, "message": exc.message})
    if problems:
        raise DocumentError(f"workflow {workflow.name!r}", problems, code=CODE)
    return workflow


def workflow_document(record: WorkflowRecord) -> dict[str, Any]:
    return {"id": record.id, **record.document, "enabled": record.enabled,
            "createdAt": record.created_at.isoformat(), "updatedAt": record.updated_at.isoformat()}  # fmt: skip


def create_workflow(engine: CampaignEngine, document: Any) -> dict[str, Any]:
    """Keep a new workflow; its name is the document's."""
    workflow = checked(engine, document)
    with engine.database.session() as session:
        if session.scalar(select(WorkflowRecord.id).where(WorkflowRecord.name == workflow.name)) is not None:
            raise DuplicateObjectError("workflow", workflow.name)
        record = WorkflowRecord(name=workflow.name, document=_stored(workflow))
        session.add(record)
        session.flush()
        return workflow_document(record)


def update_workflow(engine: CampaignEngine, name: str, document: Any, *, enabled: bool | None = None) -> dict[str, Any]:
    """Replace a workflow's document (its name stays); runs already made keep their records."""
    workflow = checked(engine, document)
    if workflow.name != name:
        raise CampaignInputError(f"the document is named {workflow.name!r}, not {name!r}: a workflow keeps its name",
                                 field="name")  # fmt: skip
    with engine.database.session() as session:
        record = find_workflow(session, name)
        record.document = _stored(workflow)
        if enabled is not None:
            record.enabled = enabled
        session.flush()
        return workflow_document(record)


def get_workflow(engine: CampaignEngine, name: str) -> dict[str, Any]:
    with engine.database.session() as session:
        return workflow_document(find_workflow(session, name))


def list_workflows(engine: CampaignEngine) -> list[dict[str, Any]]:
    with engine.database.session() as session:
        return [workflow_document(r) for r in session.scalars(select(WorkflowRecord).order_by(WorkflowRecord.name))]


def delete_workflow(engine: CampaignEngine, name: str) -> None:
    """Delete a workflow and its runs' records."""
    with engine.database.session() as session:
        session.delete(find_workflow(session, name))


def find_workflow(session: Any, name: str) -> WorkflowRecord:
    record = session.scalar(select(WorkflowRecord).where(WorkflowRecord.name == name))
    if record is None:
        raise UnknownObjectError("workflow", name, list(session.scalars(select(WorkflowRecord.name).limit(100))))
    return record  # type: ignore[no-any-return]


def _stored(workflow: Workflow) -> dict[str, Any]:
    return workflow.document.model_dump(mode="json", exclude_none=True)
