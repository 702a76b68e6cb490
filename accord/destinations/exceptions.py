"""Errors of the destinations context (codes `DEST-*` for accounts and specs, `ACTIVATION-*` for flows and runs)."""

from __future__ import annotations

from accord.errors import AccordError, NotFoundError, TransientError, did_you_mean


class UnknownDestinationError(NotFoundError):
    code = "DEST-0404-404"

    def __init__(self, destination: str, available: list[str]) -> None:
        super().__init__(
            f"no destination {destination!r}{did_you_mean(destination, available)}; available: {', '.join(available)}",
            destination=destination,
            available=available,
        )


class MissingDependencyError(AccordError):
    code = "DEST-0501-500"
    kind = "invalid"

    def __init__(self, destination: str, package: str) -> None:
        super().__init__(
            f"destination {destination!r} needs the package {package!r}: pip install {package}",
            destination=destination,
            package=package,
        )


class DestinationUnavailableError(TransientError):
    """The destination could not be reached or written; trying again later may work."""

    code = "DEST-0503-503"


class DestinationRefusedError(AccordError):
    """The destination answered but refused the file (credentials, permissions, a missing bucket or folder):
    trying again will not help until the account or the server changes."""

    code = "DEST-0403-502"
