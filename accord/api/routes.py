"""REST routes: thin translations from HTTP to service calls and back."""

from __future__ import annotations

import json
import re
import shutil
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Form, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from accord import lake, profile, schema
from accord.api.deps import PrincipalDep, SandboxDep, WorkspaceDep, principal
from accord.api.models import (
    ERROR_RESPONSES,
    BatchOut,
    DatasetIn,
    DatasetOut,
    DatasetPatch,
    DatasetStatistics,
    FieldGroupOut,
    Preview,
    RecordDeletion,
    RowDiagnostics,
    SandboxIn,
    SandboxOut,
    SchemaOut,
)
from accord.catalog import create_sandbox, list_sandboxes, sandbox_document
from accord.errors import InvalidInputError
from accord.ingest import IngestRequest, ReadOptions, copy_upload, ingest_file, parse_mapping

router = APIRouter(dependencies=[Depends(principal)], responses=ERROR_RESPONSES)

SchemaBody = Annotated[
    dict[str, Any],
    Body(
        examples=[
            {
                "name": "crm-profile",
                "class": "profile",
                "fieldGroups": ["demographic-details", "personal-contact-details"],
                "identities": [{"path": "personalEmail.address", "namespace": "Email", "primary": True}],
            }
        ]
    ),
]
FieldGroupBody = Annotated[
    dict[str, Any],
    Body(
        examples=[
            {
                "name": "loyalty",
                "classes": ["profile"],
                "fields": {
                    "_tenant": {
                        "type": "object",
                        "properties": {"tier": {"type": "string", "enum": ["gold", "silver"]}},
                    }
                },
            }
        ]
    ),
]


# -- sandboxes --------------------------------------------------------------------------------------


@router.get("/sandboxes", response_model=list[SandboxOut], tags=["sandboxes"])
def get_sandboxes(ws: WorkspaceDep, caller: PrincipalDep) -> list[dict[str, Any]]:
    """The sandboxes this token may use."""
    with ws.catalog.session() as session:
        return [sandbox_document(s) for s in list_sandboxes(session) if caller.lists(s.name)]


@router.post("/sandboxes", response_model=SandboxOut, status_code=201, tags=["sandboxes"])
def post_sandbox(ws: WorkspaceDep, body: SandboxIn) -> dict[str, Any]:
    """Create a sandbox (needs Manage Sandboxes, granted in every sandbox)."""
    with ws.catalog.session() as session:
        return sandbox_document(create_sandbox(session, body.name, body.title))


# -- schemas and field groups -----------------------------------------------------------------------


@router.get("/schemas", response_model=list[SchemaOut], response_model_by_alias=True, tags=["schemas"])
def get_schemas(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return [s.to_document() for s in schema.list_schemas(session, sandbox)]


@router.post("/schemas", response_model=SchemaOut, status_code=201, tags=["schemas"])
def post_schema(ws: WorkspaceDep, sandbox: SandboxDep, body: SchemaBody) -> dict[str, Any]:
    """Create a schema from a class (`profile`, `experienceevent`), field groups and identity descriptors."""
    with ws.catalog.session() as session:
        return schema.create_schema(session, sandbox, body).to_document()


@router.get("/schemas/{name}", response_model=SchemaOut, tags=["schemas"])
def get_schema(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return schema.get_schema(session, sandbox, name).to_document()


@router.put("/schemas/{name}", response_model=SchemaOut, tags=["schemas"])
def put_schema(ws: WorkspaceDep, sandbox: SandboxDep, name: str, body: SchemaBody) -> dict[str, Any]:
    """Replace a schema's definition; once a dataset uses it, only additive changes are accepted (409 otherwise)."""
    with ws.catalog.session() as session:
        return schema.update_schema(session, sandbox, name, body).to_document()


@router.delete("/schemas/{name}", status_code=204, tags=["schemas"])
def delete_schema(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> None:
    with ws.catalog.session() as session:
        schema.delete_schema(session, sandbox, name)


@router.get("/schemas/{name}/jsonschema", response_model=dict[str, Any], tags=["schemas"])
def get_json_schema(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    """The schema as JSON Schema (draft 2020-12)."""
    with ws.catalog.session() as session:
        return schema.to_json_schema(schema.get_schema(session, sandbox, name))


@router.get("/unions/{class_name}", response_model=SchemaOut, tags=["schemas"])
def get_union(ws: WorkspaceDep, sandbox: SandboxDep, class_name: str) -> dict[str, Any]:
    """The union schema of a class over the schemas of profile-enabled datasets."""
    with ws.catalog.session() as session:
        return schema.union_schema(session, sandbox, class_name).to_document()


@router.get("/unions/{class_name}/jsonschema", response_model=dict[str, Any], tags=["schemas"])
def get_union_json_schema(ws: WorkspaceDep, sandbox: SandboxDep, class_name: str) -> dict[str, Any]:
    """The union schema of a class as JSON Schema (draft 2020-12)."""
    with ws.catalog.session() as session:
        return schema.to_json_schema(schema.union_schema(session, sandbox, class_name))


@router.get("/fieldgroups", response_model=list[FieldGroupOut], tags=["schemas"])
def get_field_groups(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return [g.to_document() for g in schema.list_field_groups(session, sandbox)]


@router.post("/fieldgroups", response_model=FieldGroupOut, status_code=201, tags=["schemas"])
def post_field_group(ws: WorkspaceDep, sandbox: SandboxDep, body: FieldGroupBody) -> dict[str, Any]:
    """Create a custom field group; its fields sit under `_tenant`."""
    with ws.catalog.session() as session:
        return schema.create_field_group(session, sandbox, body).to_document()


@router.get("/fieldgroups/{name}", response_model=FieldGroupOut, tags=["schemas"])
def get_field_group(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return schema.get_field_group(session, sandbox, name).to_document()


@router.put("/fieldgroups/{name}", response_model=FieldGroupOut, tags=["schemas"])
def put_field_group(ws: WorkspaceDep, sandbox: SandboxDep, name: str, body: FieldGroupBody) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return schema.update_field_group(session, sandbox, name, body).to_document()


# -- datasets ---------------------------------------------------------------------------------------


@router.get("/datasets", response_model=list[DatasetOut], tags=["datasets"])
def get_datasets(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return lake.list_datasets(session, sandbox)


@router.post("/datasets", response_model=DatasetOut, status_code=201, tags=["datasets"])
def post_dataset(ws: WorkspaceDep, sandbox: SandboxDep, body: DatasetIn) -> dict[str, Any]:
    with ws.catalog.session() as session:
        record = lake.create_dataset(
            session, sandbox, body.name, body.schema_, body.profileEnabled, body.schemaContract
        )
        return lake.get_dataset(session, sandbox, record.name)


@router.get("/datasets/{name}", response_model=DatasetOut, tags=["datasets"])
def get_dataset(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return lake.get_dataset(session, sandbox, name)


@router.patch("/datasets/{name}", response_model=DatasetOut, tags=["datasets"])
def patch_dataset(ws: WorkspaceDep, sandbox: SandboxDep, name: str, body: DatasetPatch) -> dict[str, Any]:
    with ws.catalog.session() as session:
        if body.profileEnabled is not None:
            lake.set_profile_enabled(session, sandbox, name, body.profileEnabled)
        if body.ttlDays is not None:
            lake.set_ttl(session, sandbox, name, body.ttlDays or None)
        if body.schemaContract is not None:
            lake.set_schema_contract(session, sandbox, name, body.schemaContract)
        return lake.get_dataset(session, sandbox, name)


@router.post("/datasets/{name}/purge", response_model=dict[str, Any], tags=["datasets"])
def post_purge(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    """Remove the events older than the dataset's time-to-live from the lake."""
    return lake.purge_expired(ws, sandbox, name)


@router.post("/datasets/{name}/records/delete", response_model=dict[str, Any], tags=["datasets"])
def post_delete_records(ws: WorkspaceDep, sandbox: SandboxDep, name: str, body: RecordDeletion) -> dict[str, Any]:
    """Delete records by `_id` from every batch of a dataset; the graphs and profiles they fed follow."""
    return profile.delete_records(ws, sandbox, name, body.ids)


@router.get("/datasets/{name}/preview", response_model=Preview, tags=["datasets"])
def get_preview(
    ws: WorkspaceDep, sandbox: SandboxDep, name: str, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> dict[str, Any]:
    return {"dataset": name, "rows": lake.preview(ws, sandbox, name, limit)}


@router.get("/datasets/{name}/stats", response_model=DatasetStatistics, tags=["datasets"])
def get_statistics(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    return lake.statistics(ws, sandbox, name)


# -- batches ----------------------------------------------------------------------------------------

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@router.post(
    "/datasets/{name}/batches",
    response_model=BatchOut,
    status_code=201,
    tags=["batches"],
    responses={200: {"model": BatchOut, "description": "Skipped (skipDuplicateFiles): the earlier batch"}},
)
async def post_batch(
    ws: WorkspaceDep,
    sandbox: SandboxDep,
    name: str,
    response: Response,
    file: Annotated[UploadFile, File(description="CSV/TSV/JSON/Parquet, optionally gzip/bzip2/zip/tar.gz")],
    mapping: Annotated[str | None, Form(description='Mapping set as JSON: {"mappings": [...]}')] = None,
    errorThreshold: Annotated[float | None, Form(ge=0, le=100)] = None,
    format: Annotated[str | None, Form(pattern="^(csv|json|parquet)$")] = None,
    delimiter: Annotated[str | None, Form(min_length=1, max_length=1)] = None,
    encoding: Annotated[str | None, Form(pattern="^(utf-8|latin-1|utf-16)$")] = None,
    header: Annotated[bool, Form()] = True,
    skipDuplicateFiles: Annotated[
        bool, Form(description="Skip the file (200, the earlier batch) when the dataset holds the same content")
    ] = False,
) -> dict[str, Any]:
    """Upload a file and ingest it as one batch. The batch record tells success, partial or failure.

    When a committed batch of the dataset ingested the same content, the answer warns
    (`INGEST-1007-200` in `warnings`); with `skipDuplicateFiles` nothing is ingested and the answer is
    that earlier batch, `skipped`, with status 200."""
    mapping_set = None
    if mapping:
        try:
            document = json.loads(mapping)
        except ValueError as exc:
            raise InvalidInputError(f"`mapping` is not valid JSON: {exc}", code="INGEST-1100-400") from None
        except RecursionError:
            raise InvalidInputError("`mapping` is nested too deeply", code="INGEST-1100-400") from None
        mapping_set = parse_mapping(document)
    read = ReadOptions.model_validate(
        {"format": format, "delimiter": delimiter, "encoding": encoding, "header": header}
    )
    upload_dir = ws.lake.upload_folder()
    # The client's file name is only a label: the file is stored under a tame name of our own making
    # (no folder, no leading dot, so never `..`), inside a folder of its own.
    tame = _SAFE_NAME.sub("_", (file.filename or "").replace("\\", "/").rsplit("/", 1)[-1]).lstrip(".")[:200]
    target = upload_dir / (tame or "upload")
    try:
        upload = await run_in_threadpool(copy_upload, file.file, target, ws.settings.max_upload_bytes)
        if upload.size_bytes == 0:
            raise InvalidInputError("the uploaded file is empty", code="INGEST-1003-400")
        request = IngestRequest(
            dataset=name,
            path=target,
            mapping=mapping_set,
            error_threshold=errorThreshold,
            read=read,
            source_name=file.filename or target.name,
            skip_duplicate_files=skipDuplicateFiles,
            content_hash=upload.content_hash,
        )
        batch = await run_in_threadpool(ingest_file, ws, sandbox, request)
        if batch.get("skipped"):
            response.status_code = 200
        return batch
    finally:
        shutil.rmtree(upload_dir, ignore_errors=True)


@router.get("/batches", response_model=list[BatchOut], tags=["batches"])
def get_batches(
    ws: WorkspaceDep, sandbox: SandboxDep, dataset: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return lake.list_batches(session, sandbox, dataset, limit)


@router.get("/batches/{batch_id}", response_model=BatchOut, tags=["batches"])
def get_batch(ws: WorkspaceDep, sandbox: SandboxDep, batch_id: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return lake.get_batch(session, sandbox, batch_id)


@router.delete("/batches/{batch_id}", response_model=BatchOut, tags=["batches"])
def delete_batch(ws: WorkspaceDep, sandbox: SandboxDep, batch_id: str) -> dict[str, Any]:
    """Delete a batch: its rows disappear from the dataset; the record stays with status `deleted`.
    When the batch fed profiles, the identity graphs and profiles are rebuilt without it."""
    return profile.delete_batch(ws, sandbox, batch_id)


@router.get("/batches/{batch_id}/errors", response_model=RowDiagnostics, response_model_by_alias=True, tags=["batches"])
def get_batch_errors(
    ws: WorkspaceDep, sandbox: SandboxDep, batch_id: str, limit: Annotated[int, Query(ge=1, le=100_000)] = 1000
) -> dict[str, Any]:
    """The batch's failed rows: line and row number, the original row, and each error's code and message."""
    return {"batchId": batch_id, "items": list(lake.batch_errors(ws, sandbox, batch_id, limit))}
