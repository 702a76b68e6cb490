"""Errors of the catalog context."""

from __future__ import annotations

import re

from accord.errors import AccordError, TransientError


def redact_url(url: str) -> str:
    """A database URL with its password replaced by ***."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


class CatalogUnavailableError(TransientError):
    code = "CATALOG-0503-503"

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"cannot reach the catalog database at {redact_url(url)}: {reason.strip()}; "
            "check ACCORD_DATABASE_URL and that the server is running",
            database=redact_url(url),
        )


class NotInitialisedError(AccordError):
    code = "CATALOG-0001-400"
    kind = "invalid"

    def __init__(self, where: str) -> None:
        super().__init__(
            f"Accord is not initialised in {where}: run `accord init` first, or choose another home "
            "with --home or ACCORD_HOME (the default home is .accord in the current folder)",
            home=where,
        )


class MigrationError(AccordError):
    code = "CATALOG-0500-500"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"upgrading the catalog's tables failed: {reason.strip()}; nothing was changed "
            "(each migration runs in one transaction); report this with the message above"
        )
