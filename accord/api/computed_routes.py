"""REST routes of computed attributes (the segment context): definitions, their status, refreshes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from accord import segment
from accord.api.deps import SandboxDep, WorkspaceDep, principal
from accord.api.models import ERROR_RESPONSES
from accord.segment import ComputedAttributeChange, ComputedAttributeDocument

router = APIRouter(dependencies=[Depends(principal)], responses=ERROR_RESPONSES, tags=["computed attributes"])


class ComputedAttributeOut(BaseModel):
    id: str
    name: str
    displayName: str
    description: str
    path: str = Field(description="Where the value is in a profile: _tenant.SystemComputedAttributes.<name>.value")
    expression: dict[str, str] = Field(description='{type: "PQL", format: "pql/text", value}')
    mergeFunction: dict[str, str] = Field(description="COUNT, SUM, AVG, MIN, MAX, MOST_RECENT or FIRST")
    field: str | None = Field(description="The event field aggregated (none for a count)")
    duration: dict[str, Any] = Field(description="The lookback: {count, unit}")
    returnSchema: dict[str, str] = Field(description='{"meta:xdmType": the type of the value}')
    status: str = Field(description="DRAFT, NEW, PROCESSING, PROCESSED, FAILED or DISABLED")
    lastEvaluatedAt: str | None
    lastEvaluationError: str | None
    created: str
    updated: str


AnyBody = Annotated[Any, Body()]
"""A body taken as it comes (none too: the service says what is missing), for the service to check."""


def _body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a document the service checks itself (as it does the CLI's: a bad one is
    refused with the same code and problems, where FastAPI's check would give its generic code and stop at the
    shape). Its nested models are written in place: the operation has no `$defs` to refer to."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": _inlined(schema, schema.pop("$defs", {}))}}}}  # fmt: skip


def _inlined(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, list):
        return [_inlined(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    inlined = {key: _inlined(value, defs) for key, value in schema.items() if key != "$ref"}
    if "$ref" in schema:  # beside a reference, pydantic writes the field's own description: it is kept
        return {**_inlined(defs[schema["$ref"].removeprefix("#/$defs/")], defs), **inlined}
    return inlined


class RefreshOut(BaseModel):
    evaluated: list[str] = Field(description="The computed attributes evaluated (the active ones)")
    evaluatedAt: str | None
    profiles: int


@router.get("/computed-attributes", response_model=list[ComputedAttributeOut])
def get_computed_attributes(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return segment.list_computed_attributes(session, sandbox)


@router.post("/computed-attributes", response_model=ComputedAttributeOut, status_code=201,
             openapi_extra=_body(ComputedAttributeDocument))  # fmt: skip
def post_computed_attribute(ws: WorkspaceDep, sandbox: SandboxDep, body: AnyBody = None) -> dict[str, Any]:
    """Create a computed attribute: `expression` (PQL: `xEvent[<filter>].<function>(<field>)`), `duration`
    (the lookback, at most 90 days), `status` DRAFT or NEW; at most 25 active per sandbox. Refused whole
    (400 COMPUTED-0400-400), with every problem and where, as `accord computed create` says them."""
    with ws.catalog.session() as session:
        return segment.create_computed_attribute(session, sandbox, body)


@router.get("/computed-attributes/{name}", response_model=ComputedAttributeOut)
def get_computed_attribute(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return segment.computed_attribute_document(segment.find_computed_attribute(session, sandbox, name))


@router.patch("/computed-attributes/{name}", response_model=ComputedAttributeOut,
              openapi_extra=_body(ComputedAttributeChange))  # fmt: skip
def patch_computed_attribute(ws: WorkspaceDep, sandbox: SandboxDep, name: str,
                             body: AnyBody = None) -> dict[str, Any]:  # fmt: skip
    """Change what is given (display name, description, expression, duration, status); a new expression or
    lookback has no value until the next refresh. Refused whole (400) with every problem, as `accord computed
    update` says them; disabling one that segments or flows read is refused (409)."""
    with ws.catalog.session() as session:
        return segment.update_computed_attribute(session, sandbox, name, body)


@router.delete("/computed-attributes/{name}", response_model=ComputedAttributeOut)
def delete_computed_attribute(ws: WorkspaceDep, sandbox: SandboxDep, name: str) -> dict[str, Any]:
    """Delete a computed attribute; refused (409) while segments or activation flows read it."""
    with ws.catalog.session() as session:
        return segment.delete_computed_attribute(session, sandbox, name)


@router.post("/computed-attributes/refresh", response_model=RefreshOut)
async def post_refresh(ws: WorkspaceDep, sandbox: SandboxDep) -> dict[str, Any]:
    """Evaluate every active computed attribute over every profile now (segment jobs also do, first)."""
    return await run_in_threadpool(segment.refresh_computed_attributes, ws, sandbox)
