"""Errors of the destinations context (codes `DEST-*` for accounts and specs, `ACTIVATION-*` for flows and runs)."""

from __future__ import annotations

from accord.errors import AccordError, InvalidInputError, NotFoundError, TransientError, did_you_mean


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


class NotStreamingError(InvalidInputError):
    code = "DEST-0410-400"

    def __init__(self, destination: str) -> None:
        super().__init__(f"destination {destination!r} delivers files, not streaming requests", destination=destination)


class TemplateProblem(InvalidInputError):
    """A template of a declared destination failed as it rendered (a value it needs is missing, a filter failed)."""

    code = "DEST-0421-400"

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"the template {where} could not be rendered: {message}", template=where)


class TemplateRefusedError(InvalidInputError):
    """A template tried to reach what the sandbox keeps out of reach (Python internals, unsafe calls)."""

    code = "DEST-0422-400"

    def __init__(self, where: str, message: str) -> None:
        super().__init__(
            f"the template {where} was refused by the sandbox: {message}; templates may only read the "
            "profiles, the destination and the flow they are given",
            template=where,
        )


class TokenRefusedError(AccordError):
    """The token endpoint of an OAuth2 account refused its client credentials; trying again will not help."""

    code = "DEST-0423-401"
    kind = "invalid"

    def __init__(self, status: int) -> None:
        super().__init__(f"the token endpoint refused the client credentials (HTTP {status}): check the client "
                         "id and secret of the account", status=status)  # fmt: skip
