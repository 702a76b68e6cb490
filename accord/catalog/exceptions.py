"""Errors of the catalog context."""

from __future__ import annotations

import re

from accord.errors import AccordError, TransientError


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


class CatalogUnavailableError(TransientError):
    code = "CATALOG-0503-503"

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"cannot reach the catalog database at {_redact(url)}: {reason.strip()}; "
            "check ACCORD_DATABASE_URL and that the server is running",
            database=_redact(url),
        )


class NotInitialisedError(AccordError):
    code = "CATALOG-0001-400"
    kind = "invalid"

    def __init__(self) -> None:
        super().__init__("Accord is not initialised here: run `accord init` first (or set ACCORD_HOME)")
