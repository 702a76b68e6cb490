"""Public routes of the campaign engine's tracking: the open pixel, click redirects, unsubscribe and
subscription confirmation. They take no token: the signature of the link is their authentication, and
every bad link gets the same 404.

Unsubscribing and confirming are a GET that shows a page with a button and a POST that does it: mail
scanners fetch links, and must not unsubscribe or subscribe anyone by doing so. The one-click POST of
RFC 8058 (`List-Unsubscribe=One-Click`, sent by the mailbox provider) unsubscribes at once. The request
gate lets these POSTs through without a token (PUBLIC_POSTS), with a small body limit."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from accord import campaign
from accord.campaign import CampaignEngine, TrackingLinkError

PREFIX = "/campaign/t"
PUBLIC_POSTS = (f"{PREFIX}/u/", f"{PREFIX}/s/")
"""Paths whose POST needs no token (the link's signature is its authentication)."""
PUBLIC_POST_BYTES = 1024
"""A one-click unsubscribe body is `List-Unsubscribe=One-Click`: nothing bigger is read."""
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0, private", "Pragma": "no-cache",
            "Expires": "0"}  # fmt: skip

# Links in e-mails, not an API for clients: they answer images, redirects and pages, not JSON documents
router = APIRouter(prefix=PREFIX, tags=["campaign tracking"], include_in_schema=False)


def campaign_engine(request: Request) -> CampaignEngine:
    """The home's campaign instance, opened with the app."""
    return request.app.state.campaign  # type: ignore[no-any-return]


EngineDep = Annotated[CampaignEngine, Depends(campaign_engine)]


def _not_found() -> Response:
    return PlainTextResponse("not found", status_code=404, headers=NO_STORE)


def _answer(action: Callable[[], Response]) -> Response:
    try:
        return action()
    except TrackingLinkError:
        return _not_found()


def _agent(request: Request) -> str:
    return request.headers.get("user-agent", "")


@router.get("/o/{token}", summary="Open pixel: logs an open, answers a 1x1 GIF")
def open_pixel(token: str, request: Request, engine: EngineDep) -> Response:
    def opened() -> Response:
        campaign.record_open(engine, token, _agent(request))
        return Response(PIXEL, media_type="image/gif", headers=NO_STORE)

    return _answer(opened)


@router.get("/c/{token}", summary="Click: logs it and redirects to the link that was in the message")
def click(token: str, request: Request, engine: EngineDep) -> Response:
    return _answer(
        lambda: RedirectResponse(campaign.record_click(engine, token, _agent(request)), 302, headers=NO_STORE)
    )


@router.get("/u/{token}", summary="Unsubscribe page: asks to confirm")
def unsubscribe_page(token: str, engine: EngineDep) -> Response:
    def page() -> Response:
        found = campaign.unsubscription(engine, token)
        if found["unsubscribed"]:
            return _page("Unsubscribed", f"{found['email']} receives no more e-mail from us.")
        return _page("Unsubscribe", f"Stop e-mail to {found['email']}?", button="Unsubscribe")

    return _answer(page)


@router.post("/u/{token}", summary="Unsubscribe (the page's button, or RFC 8058 one-click)")
async def unsubscribe(token: str, request: Request, engine: EngineDep) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    try:
        if form.get("List-Unsubscribe") != ["One-Click"]:
            await run_in_threadpool(campaign.unsubscription, engine, token)  # a bad link is 404 whatever its body
            return PlainTextResponse("expected List-Unsubscribe=One-Click", status_code=400)
        done = await run_in_threadpool(campaign.unsubscribe, engine, token, _agent(request))
    except TrackingLinkError:
        return _not_found()
    return _page("Unsubscribed", f"{done['email']} receives no more e-mail from us.")


@router.get("/s/{token}", summary="Subscription confirmation page: asks to confirm")
def subscription_page(token: str, engine: EngineDep) -> Response:
    def page() -> Response:
        found = campaign.subscription(engine, token)
        if found["status"] == "member":
            return _page("Subscribed", f"{found['email']} is subscribed to {found['list']}.")
        return _page("Confirm", f"Subscribe {found['email']} to {found['list']}?", button="Confirm")

    return _answer(page)


@router.post("/s/{token}", summary="Confirm a subscription (double opt-in)")
def confirm_subscription(token: str, engine: EngineDep) -> Response:
    def confirmed() -> Response:
        done = campaign.confirm_subscription(engine, token)
        return _page("Subscribed", f"{done['email']} is subscribed to {done['list']}.")

    return _answer(confirmed)


def _page(title: str, text: str, button: str | None = None) -> HTMLResponse:
    form = ""
    if button:
        # One form for both: its field is what an RFC 8058 one-click POST carries
        form = ('<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
                f'<button type="submit">{html.escape(button)}</button></form>')  # fmt: skip
    body = (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{form}</body></html>")  # fmt: skip
    return HTMLResponse(body, headers=NO_STORE)
