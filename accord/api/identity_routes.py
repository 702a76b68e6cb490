"""REST routes of the identity and profile contexts: namespaces, graphs, rules, removals, profiles."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from accord import identity, profile
from accord.api.deps import PrincipalDep, SandboxDep, WorkspaceDep, principal
from accord.api.models import ERROR_RESPONSES
from accord.errors import InvalidInputError

router = APIRouter(dependencies=[Depends(principal)], responses=ERROR_RESPONSES)


# -- identity namespaces ----------------------------------------------------------------------------


class NamespaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: str
    type: str = Field(description="cookie, cross_device, device, email, phone, non_people or partner_id")
    name: str = ""
    description: str = ""


class NamespaceOut(BaseModel):
    symbol: str
    name: str
    type: str
    description: str
    standard: bool
    buildsGraph: bool


@router.get("/namespaces", response_model=list[NamespaceOut], tags=["identity"])
def get_namespaces(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return [n.to_document() for n in identity.list_namespaces(session, sandbox)]


@router.post("/namespaces", response_model=NamespaceOut, status_code=201, tags=["identity"])
def post_namespace(ws: WorkspaceDep, sandbox: SandboxDep, body: NamespaceIn) -> dict[str, Any]:
    """Create a custom namespace; its symbol can never be changed or reused."""
    with ws.catalog.session() as session:
        return identity.create_namespace(
            session, sandbox, body.symbol, body.name, body.type, body.description
        ).to_document()


@router.post("/identity/graph/build", response_model=dict[str, Any], tags=["identity"])
async def post_graph_build(ws: WorkspaceDep, sandbox: SandboxDep) -> dict[str, Any]:
    """Rebuild the identity graphs from every profile-enabled dataset."""
    summary = await run_in_threadpool(identity.build_graph, ws, sandbox)
    return summary.to_document()


@router.get("/identity/graph", response_model=dict[str, Any], tags=["identity"])
def get_graph(ws: WorkspaceDep, sandbox: SandboxDep, namespace: str, id: str) -> dict[str, Any]:
    """The identity graph of an identity: identities, and links with their reasons."""
    return identity.graph_of(ws, sandbox, namespace, id)


class LinkingRulesDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uniqueNamespaces: list[str] | None = Field(
        None, description="Namespaces of which a graph holds at most one identity"
    )
    priority: list[str] | None = Field(None, description="Namespaces, highest priority first (primary identity)")


@router.get("/identity/rules", response_model=LinkingRulesDocument, tags=["identity"])
def get_linking_rules(ws: WorkspaceDep, sandbox: SandboxDep) -> dict[str, Any]:
    with ws.catalog.session() as session:
        return identity.get_rules(session, sandbox).to_document()


@router.put("/identity/rules", response_model=LinkingRulesDocument, tags=["identity"])
def put_linking_rules(ws: WorkspaceDep, sandbox: SandboxDep, body: LinkingRulesDocument) -> dict[str, Any]:
    """Change the linking rules; they apply from the next graph build."""
    with ws.catalog.session() as session:
        return identity.set_rules(session, sandbox, body.uniqueNamespaces, body.priority).to_document()


@router.post("/identity/matching", response_model=dict[str, Any], tags=["identity"])
async def post_matching(ws: WorkspaceDep, sandbox: SandboxDep, body: identity.MatchingRules) -> dict[str, Any]:
    """Run a probabilistic matching job (Splink): it proposes links between records that share no
    identifier, at or above the threshold; the next graph build takes them in."""
    return await run_in_threadpool(identity.propose_matches, ws, sandbox, body.model_dump())


@router.get("/identity/matches", response_model=dict[str, Any], tags=["identity"])
def get_matches(
    ws: WorkspaceDep, sandbox: SandboxDep, limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:  # fmt: skip
    """The links the last matching job proposed, most probable first; remove one as any other link."""
    return identity.list_matches(ws, sandbox, limit, offset)


# -- profiles -----------------------------------------------------------------------------------------


@router.post("/profiles/rebuild", response_model=dict[str, Any], tags=["profiles"])
async def post_profiles_rebuild(ws: WorkspaceDep, sandbox: SandboxDep) -> dict[str, Any]:
    """Rebuild the identity graphs, then the profile store that lookups and segmentation read."""
    return await run_in_threadpool(profile.rebuild, ws, sandbox)


@router.get("/profiles", response_model=dict[str, Any], tags=["profiles"])
def get_profile_route(
    ws: WorkspaceDep,
    sandbox: SandboxDep,
    namespace: str,
    id: str,
    mergePolicy: str | None = None,
    eventsLimit: Annotated[int, Query(ge=1, le=1000)] = 20,
    eventsOffset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The unified profile of the person an identity belongs to: attributes (with the source of each),
    identities, fragments and recent events."""
    return profile.get_profile(ws, sandbox, namespace, id, mergePolicy, eventsLimit, eventsOffset)


@router.get("/mergepolicies", response_model=list[dict[str, Any]], tags=["profiles"])
def get_merge_policies(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return profile.list_policies(session, sandbox)


@router.post("/mergepolicies", response_model=dict[str, Any], status_code=201, tags=["profiles"])
def post_merge_policy(ws: WorkspaceDep, sandbox: SandboxDep, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Create a merge policy: {name, kind: timestamp|dataset_precedence, datasets, stitching: graph|none, default}."""
    with ws.catalog.session() as session:
        created = profile.create_policy(session, sandbox, body)
        return next(p for p in profile.list_policies(session, sandbox) if p["name"] == created.name)


class IdentityRef(BaseModel):
    namespace: str
    id: str


class RemovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["link", "identity"]
    identity: IdentityRef
    other: IdentityRef | None = Field(None, description="For a link: the other identity")
    reason: str = ""


@router.post("/identity/removals", response_model=dict[str, Any], status_code=201, tags=["identity"])
def post_removal(ws: WorkspaceDep, sandbox: SandboxDep, principal: PrincipalDep, body: RemovalIn) -> dict[str, Any]:
    """Remove a link or an identity from the graphs (recorded; applies from the next build)."""
    with ws.catalog.session() as session:
        first = (body.identity.namespace, body.identity.id)
        if body.kind == "link":
            if body.other is None:
                raise InvalidInputError("a link removal needs `other`", code="IDENTITY-0404-400")
            return identity.remove_link(session, sandbox, first, (body.other.namespace, body.other.id), body.reason,
                                        principal.name)  # fmt: skip
        return identity.remove_identity(session, sandbox, first, body.reason, principal.name)


@router.get("/identity/removals", response_model=list[dict[str, Any]], tags=["identity"])
def get_removals(ws: WorkspaceDep, sandbox: SandboxDep) -> list[dict[str, Any]]:
    with ws.catalog.session() as session:
        return identity.list_removals(session, sandbox)
