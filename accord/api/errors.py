"""Errors as JSON `{code, message, details}`, with the HTTP status chosen in this one place."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.errors import AccordError, known_failure, validation_problems

STATUS = {
    "invalid": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
    "unsupported_media": 415,
    "too_slow": 408,
    "busy": 429,
    "transient": 503,
    "internal": 500,
}
log = logging.getLogger("accord.api")


def _body(code: str, message: str, details: dict | None = None) -> dict:
    return {"code": code, "message": message, "details": details or {}}


def hide_paths(folders: Sequence[Path]) -> Any:
    """A function that cuts every path under `folders` (Accord's home, its lake) to its last part, in a
    text or in the strings of a JSON-like value: the server's folders are not the caller's to see."""
    if not folders:
        return lambda value: value
    # A folder's path, then anything under it, up to a space or quote; never the start of a longer name.
    under = r"(?:/[^\s'\"]*)?(?![^\s'\"/])"
    pattern = re.compile("|".join(re.escape(str(f)) + under for f in sorted(folders, key=str, reverse=True)))

    def hide(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(lambda found: PurePosixPath(found[0]).name, value)
        if isinstance(value, dict):
            return {k: hide(v) for k, v in value.items()}
        if isinstance(value, list):
            return [hide(v) for v in value]
        return value

    return hide


def install(app: FastAPI, private: Sequence[Path] = ()) -> None:
    """Map errors to JSON responses; `private` are folders whose paths never show in an error."""
    hide = hide_paths(private)

    @app.exception_handler(AccordError)
    async def accord_error(_request: Request, exc: AccordError) -> JSONResponse:
        status = STATUS.get(exc.kind, 500)
        headers = {"WWW-Authenticate": exc.details.get("scheme", "Bearer")} if status == 401 else None
        if status == 429 and "retryAfter" in exc.details:
            headers = {"Retry-After": str(exc.details["retryAfter"])}
        # The services say where a problem is in the user's terms; this is the net for what slips through.
        return JSONResponse(hide(exc.to_dict()), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = validation_problems(exc.errors())
        text = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:5])
        return JSONResponse(
            _body("ACCORD-0400-400", f"invalid request: {text}", {"problems": problems}), status_code=400
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = f"ACCORD-{exc.status_code:04d}-{exc.status_code}"
        return JSONResponse(_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def internal(_request: Request, exc: Exception) -> JSONResponse:
        if (known := known_failure(exc)) is not None:
            return JSONResponse(hide(known.to_dict()), status_code=STATUS.get(known.kind, 500))
        log.exception("internal error", exc_info=exc)
        return JSONResponse(_body("ACCORD-0500-500", "internal error; the server log has the details"), status_code=500)
