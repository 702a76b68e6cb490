"""The sources: the catalog of connectors, connections and their wizard, dataflows and their runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from accord.web.pages import Entered, entered

router = APIRouter(include_in_schema=False)


@router.get("/ui/sources", response_class=HTMLResponse)
def get_sources(request: Request, q: str = "", sandbox: str | None = None) -> Response:
    """The sources catalog: a card per connector, by category, with a search that narrows them as one types
    (htmx asks `/ui/sources/cards`; without scripts, the form's own GET does the same)."""
    return _catalog(request, "sources/catalog.html", q, sandbox)


@router.get("/ui/sources/cards", response_class=HTMLResponse)
def get_source_cards(request: Request, q: str = "", sandbox: str | None = None) -> Response:
    return _catalog(request, "sources/_cards.html", q, sandbox)


def _catalog(request: Request, template: str, q: str, sandbox: str | None) -> Response:
    from accord import sources

    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    q = q[:200]  # a longer search is cut, not refused: a page answers with a page
    wanted = q.strip().lower()
    cards = [s.to_document() for s in sources.list_connectors()]
    shown = [c for c in cards if not wanted or wanted in f"{c['name']} {c['category']} {c['description']}".lower()]
    by_category: dict[str, list[dict[str, Any]]] = {}
    for card in sorted(shown, key=lambda c: (c["category"], c["name"])):
        by_category.setdefault(card["category"], []).append(card)
    return entry.render(template, "Sources", q=q, by_category=by_category, total=len(cards), shown=len(shown))
