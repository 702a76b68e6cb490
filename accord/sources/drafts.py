"""A dataflow being drafted (the workspace's wizard): its parts checked as they are given, the fields its
dataset offers to a mapping, and its mapping tried on the first file or rows its connection would deliver.

Nothing here stores anything: `dataflows.create_dataflow` checks the finished document whole again."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.access import AllowedRoots
from accord.catalog import DataflowRecord, resolve_sandbox
from accord.errors import AccordError, DocumentError, validation_problems
from accord.ingest import ReadOptions, parse_mapping, preview_mapping
from accord.lake import find_dataset
from accord.sources.connections import find_connection, open_source
from accord.sources.dataflows import DataflowDocument
from accord.sources.registry import connector_spec
from accord.sources.secrets import SecretBox
from accord.sources.spec import IngestItem, ReadContext
from accord.workspace import Workspace

PLACEHOLDER = "draft"
"""Stands for a required part not given yet, so that the parts given can be checked by the document's model."""


def draft_problems(session: Session, sandbox: str, draft: dict[str, Any]) -> list[dict[str, Any]]:
    """Every problem of the parts of a dataflow document given so far, each with its path (`name`,
    `connection`, `source.glob`, `mapping.mappings[0].destination`, `schedule.interval`...); none: they fit."""
    sandbox_id = resolve_sandbox(session, sandbox).id
    given = {"name": PLACEHOLDER, "connection": PLACEHOLDER, "dataset": PLACEHOLDER} | draft
    try:
        DataflowDocument.model_validate(given)
    except ValidationError as exc:
        return validation_problems(exc.errors())
    problems: list[dict[str, Any]] = []
    if "name" in draft and session.scalar(select(DataflowRecord.id).where(
            DataflowRecord.sandbox_id == sandbox_id, DataflowRecord.name == draft["name"])):  # fmt: skip
        problems.append({"path": "name", "message": f"a dataflow named {draft['name']!r} already exists"})
    connector = None
    if "connection" in draft:
        try:
            connector = find_connection(session, sandbox_id, draft["connection"]).connector
        except AccordError as exc:
            problems.append({"path": "connection", "message": exc.message})
    if "dataset" in draft:
        try:
            find_dataset(session, sandbox_id, draft["dataset"])
        except AccordError as exc:
            problems.append({"path": "dataset", "message": exc.message})
    if connector is not None and "source" in draft:
        try:
            connector_spec(connector).source.model_validate(draft["source"])
        except ValidationError as exc:
            problems.extend(validation_problems(exc.errors(), "source."))
    if "readOptions" in draft:
        try:
            ReadOptions.model_validate(draft["readOptions"])
        except ValidationError as exc:
            problems.extend(validation_problems(exc.errors(), "readOptions."))
    if draft.get("mapping") is not None:
        try:
            parse_mapping(draft["mapping"])
        except DocumentError as exc:
            problems.extend({**p, "path": f"mapping.{p['path']}"} for p in exc.problems)
    return problems


def target_fields(session: Session, sandbox: str, dataset: str) -> list[str]:
    """The fields of a dataset's schema that hold values (by dotted path): what a mapping may fill."""
    from accord.schema import leaves, resolve_schema_by_id

    sandbox_id = resolve_sandbox(session, sandbox).id
    return list(leaves(resolve_schema_by_id(session, find_dataset(session, sandbox_id, dataset).schema_id).fields))


def preview_dataflow(workspace: Workspace, sandbox: str, draft: dict[str, Any], roots: AllowedRoots,
                     limit: int = 20) -> dict[str, Any]:  # fmt: skip
    """A drafted dataflow's mapping tried on the first item its connection would deliver now (one file of a file
    store, the first rows of a table), as `accord.ingest.preview_mapping` answers it, with the item's name
    (`item`: None when there is nothing to read yet). Nothing is ingested and no state is kept.

    `draft` needs `connection`, `dataset` and `source`; `readOptions` and `mapping` are optional (without a
    mapping, columns fill the fields of their names). `roots`: the folders the caller may read."""
    with workspace.catalog.session() as session:
        sandbox_id = resolve_sandbox(session, sandbox).id
        connection = find_connection(session, sandbox_id, draft["connection"])
        find_dataset(session, sandbox_id, draft["dataset"])
        mapping = parse_mapping(draft["mapping"]) if draft.get("mapping") else None
        try:
            read = ReadOptions.model_validate(draft.get("readOptions") or {})
            selection = connector_spec(connection.connector).source.model_validate(draft.get("source") or {})
        except ValidationError as exc:
            raise DocumentError("the dataflow", validation_problems(exc.errors()), code="SOURCE-0420-400") from None
    source = open_source(connection, SecretBox(workspace.settings.home), roots)
    if "group_files" in type(selection).model_fields:  # one file is enough to see the mapping at work
        selection = selection.model_copy(update={"group_files": 1})
    workdir = workspace.lake.staging("preview-read")
    try:
        items = source.read(selection, ReadContext(state={}, workdir=workdir, backfill=True, first_run=True))
        try:
            first = next((item for item in items if isinstance(item, IngestItem)), None)
            if first is None:
                return {"item": None, "columns": [], "fields": [], "rows": [], "problems": []}
            found = preview_mapping(workspace, sandbox, draft["dataset"], [f.path for f in first.files], first.name,
                                    mapping, read, limit)  # fmt: skip
        finally:
            items.close()  # type: ignore[attr-defined]
    finally:
        workspace.lake.discard(workdir)
    return {"item": first.name, **found.to_document()}
