"""The REST API: FastAPI over the service functions; every route needs a token but /health, the API's own
description (/openapi.json, browsable at /docs), and the campaign engine's tracking links (/campaign/t/...,
authenticated by their signature)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from accord import __version__
from accord.access import HOME_WIDE, AllowedRoots, Open, permissions_needed, route_requirement
from accord.access.limits import FailureLimiter
from accord.api import errors
from accord.api.access_routes import LOGIN_BYTES, auth_router
from accord.api.access_routes import router as access_router
from accord.api.activity import ActivityRecorder
from accord.api.campaign_delivery_routes import router as campaign_delivery_router
from accord.api.campaign_routes import router as campaign_router
from accord.api.campaign_tracking_routes import PUBLIC_POST_BYTES, PUBLIC_POSTS
from accord.api.campaign_tracking_routes import router as campaign_tracking_router
from accord.api.campaign_workflow_routes import router as campaign_workflow_router
from accord.api.computed_routes import router as computed_router
from accord.api.destinations_routes import router as destinations_router
from accord.api.gate import RequestGate
from accord.api.governance_routes import router as governance_router
from accord.api.identity_routes import router as identity_router
from accord.api.models import ERROR_RESPONSES, Health
from accord.api.privacy_routes import router as privacy_router
from accord.api.routes import router
from accord.api.segment_routes import router as segment_router
from accord.api.segment_spec_routes import PREFIX as SEGMENT_SPEC_PREFIX
from accord.api.segment_spec_routes import router as segment_spec_router
from accord.api.sources_routes import router as sources_router
from accord.api.streaming_routes import collection as collection_router
from accord.api.streaming_routes import router as streaming_router
from accord.lake import reap_abandoned
from accord.segment import JobWorkers
from accord.settings import Settings
from accord.streaming.collection import MAX_BATCH_BYTES
from accord.streaming.service import StreamingService
from accord.workspace import Workspace

MAX_DOCUMENT_BYTES = 10 * 2**20
"""Largest JSON body (schemas, field groups, ...); file uploads have their own, larger limit."""


def create_app(settings: Settings, *, campaign_only: bool = False) -> FastAPI:
    """The API application over the workspace these settings describe; `campaign_only`: the campaign engine's
    routes alone (and health), for an instance that runs on a machine of its own."""
    workspace = Workspace.open(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # A server killed before this one may have left uploads and batches half-made: close them now
        await run_in_threadpool(reap_abandoned, workspace)
        scheduler = followers = None
        if settings.scheduler:
            from accord.campaign.scheduling import campaign_duties
            from accord.jobs.scheduler import Scheduler

            duties = campaign_duties(_app.state.campaign)
            if not campaign_only:
                from accord.destinations.following import Followers
                from accord.destinations.scheduling import activation_duty
                from accord.profile import rebuild
                from accord.segment import segment_duty
                from accord.sources.scheduling import dataflow_duty

                # segment jobs before activations: a flow sending `after-segment-job` goes out at the next tick
                duties = [dataflow_duty(workspace), segment_duty(workspace, rebuild), activation_duty(workspace),
                          *duties]  # fmt: skip
                followers = Followers(workspace, settings.follow_seconds)
                followers.start()
                _app.state.streaming.start_processor()
            scheduler = Scheduler(duties, settings.scheduler_tick_seconds)
            scheduler.start()
        yield
        # background segment jobs asked to stop and waited for: a clean stop leaves none `running`
        await run_in_threadpool(_app.state.segment_jobs.close)
        if followers is not None:
            await run_in_threadpool(followers.stop)
        if scheduler is not None:
            scheduler.stop()
        await run_in_threadpool(_app.state.streaming.stop)
        if (operations := getattr(_app.state, "operations", None)) is not None:
            operations.close()  # the workspace's long operations: those not begun are dropped
        workspace.close()
        _app.state.campaign.close()

    app = FastAPI(
        title="Accord",
        version=__version__,
        description="Open-source real-time customer data platform. Authenticate with `Authorization: Bearer <token>`; "
        "choose a sandbox with the `x-sandbox-name` header (default: the token's sandbox, else `prod`). "
        "Errors are `{code, message, details}`.",
        lifespan=lifespan,
        # The API's description (this document and its browsable page) is public, like the source it is
        # generated from: it holds no data. One page is enough: no ReDoc, no OAuth2 redirect page.
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.workspace = workspace
    app.state.campaign = _campaign(settings)
    app.state.streaming = StreamingService(workspace)
    app.state.segment_jobs = JobWorkers()
    private = AllowedRoots.from_settings(settings).private
    errors.install(app, private)
    app.add_middleware(ActivityRecorder, workspace=workspace)
    app.state.limiter = limiter = FailureLimiter(settings.auth_failures_per_minute)
    app.add_middleware(RequestGate, workspace=workspace, limiter=limiter, document_limit=MAX_DOCUMENT_BYTES,
                       upload_limit=int(settings.max_upload_bytes), hide=errors.hide_paths(private),
                       public_posts={**dict.fromkeys(PUBLIC_POSTS, PUBLIC_POST_BYTES), "/auth/login": LOGIN_BYTES,
                                     "/ui/login": LOGIN_BYTES},
                       self_authenticated=("/collection/", SEGMENT_SPEC_PREFIX),
                       self_authenticated_limit=MAX_BATCH_BYTES, pages=_pages(campaign_only))  # fmt: skip

    @app.get("/health", response_model=Health, tags=["health"])
    def health() -> dict[str, str]:
        """Liveness; needs no token."""
        return {"status": "ok", "version": __version__}

    if not campaign_only:
        # the streaming inlets first: a request is matched against the routes in order, and theirs are the
        # busiest (each route tried costs the hot path time)
        app.include_router(collection_router)
        app.include_router(segment_spec_router)
        app.include_router(router)
        app.include_router(access_router)
        app.include_router(auth_router)
        app.include_router(sources_router)
        app.include_router(identity_router)
        app.include_router(segment_router)
        app.include_router(computed_router)
        app.include_router(destinations_router)
        app.include_router(governance_router)
        app.include_router(streaming_router)
        app.include_router(privacy_router)
    app.include_router(campaign_router)
    app.include_router(campaign_delivery_router)
    app.include_router(campaign_workflow_router)
    app.include_router(campaign_tracking_router)
    if not campaign_only:
        from accord import web

        web.mount(app)
    app.openapi = lambda: _with_permissions(app)  # type: ignore[method-assign]
    return app


def _pages(campaign_only: bool) -> tuple[str, Any] | None:
    """The web workspace's prefix and how the gate refuses a person's page (none on a campaign-only server)."""
    if campaign_only:
        return None
    from accord.web.pages import gate_answer

    return "/ui", gate_answer


def _with_permissions(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, each operation saying what it needs (`x-accord-permission` and its description)."""
    if app.openapi_schema is None:
        document = FastAPI.openapi(app)
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                needed = route_requirement(method, path)
                if needed is None:
                    shown = "Declares no permission: refused to everyone."
                elif isinstance(needed, Open):
                    shown = f"Needs no permission: {needed.why}."
                else:
                    each = permissions_needed(needed)
                    if len(each) == 1:
                        operation["x-accord-permission"] = each[0].value
                    operation["x-accord-permissions"] = [p.value for p in each]
                    shown = "Needs " + " and ".join(
                        f"**{p.value}** " + ("in every sandbox (home-wide)" if p in HOME_WIDE else "in the request's "
                                             "sandbox") for p in each) + "."  # fmt: skip
                operation["description"] = (operation.get("description", "") + "\n\n" + shown).strip()
                _bad_input_is_400(operation)
        for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 shapes: never answered
            document.get("components", {}).get("schemas", {}).pop(unused, None)
    return app.openapi_schema  # type: ignore[return-value]


def _bad_input_is_400(operation: dict[str, Any]) -> None:
    """Bad input is answered 400 with an ErrorBody on every route (`accord.api.errors`), never FastAPI's 422."""
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    responses.setdefault("400", {"description": ERROR_RESPONSES[400]["description"], "content": body})


def _campaign(settings: Settings) -> Any:
    """The home's campaign instance; a home made before the campaign engine existed gets its database now."""
    from accord import campaign
    from accord.campaign.exceptions import CampaignNotInitialisedError

    try:
        return campaign.CampaignEngine.open(settings)
    except CampaignNotInitialisedError:
        campaign.initialise_engine(settings)
        return campaign.CampaignEngine.open(settings)
