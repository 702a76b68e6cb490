"""Errors of the catalog context."""

from __future__ import annotations

import re

from accord.errors import AccordError, TransientError


def redact_url(url: str) -> str:
    """A database URL with its password replaced by ***."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


# What libpq says when the server refuses the login (PostgreSQL does not tell a wrong password from
# an unknown user, on purpose), or when it needed a password the URL did not give.
_REFUSED_LOGIN = ("password authentication failed", "no password supplied", "authentication failed for user")


_DAMAGED = ("file is not a database", "database disk image is malformed")
"""What SQLite says of a catalog file that is not one, or is damaged."""


def connection_error(url: str, reason: BaseException | None) -> AccordError:
    """The error for a connection to the catalog database that failed: the login refused (nothing
    to retry; the URL is wrong), the file not a database (a damaged or foreign file), or the server
    not reached (retrying may help)."""
    text = str(reason).strip()
    if any(words in text for words in _DAMAGED):
        return CatalogDamagedError(url, text)
    if any(words in text for words in _REFUSED_LOGIN):
        return CatalogAuthenticationError(url)
    return CatalogUnavailableError(url, text)


class CatalogAuthenticationError(AccordError):
    code = "CATALOG-0002-400"
    kind = "invalid"

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        user = make_url(url).username
        super().__init__(
            f"the catalog database refused user {user!r}: wrong user name or password; "
            f"fix them in ACCORD_DATABASE_URL (or `database_url` in accord.toml): {redact_url(url)}",
            database=redact_url(url),
        )


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


class CatalogDamagedError(AccordError):
    code = "CATALOG-0003-500"
    kind = "invalid"

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"the catalog {redact_url(url).removeprefix('sqlite:///')} cannot be read: {reason}; it is damaged or "
            "is not Accord's: restore it from a backup, or choose another home with --home or ACCORD_HOME",
            database=redact_url(url),
        )
