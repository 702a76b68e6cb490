"""Errors of the sources context."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from accord.errors import AccordError, ConflictError, NotFoundError, TransientError, did_you_mean


class UnknownConnectorError(NotFoundError):
    code = "SOURCE-0404-404"

    def __init__(self, connector: str, available: list[str]) -> None:
        super().__init__(
            f"no connector {connector!r}{did_you_mean(connector, available)}; available: {', '.join(available)}",
            connector=connector,
            available=available,
        )


class MissingDependencyError(AccordError):
    code = "SOURCE-0501-500"
    kind = "invalid"

    def __init__(self, connector: str, package: str) -> None:
        super().__init__(
            f"connector {connector!r} needs the package {package!r}: pip install {package}",
            connector=connector,
            package=package,
        )


class SourceUnavailableError(TransientError):
    """The source could not be reached or read; trying again later may work."""

    code = "SOURCE-0503-503"


class DataflowRunningError(ConflictError):
    code = "SOURCE-0409-409"

    def __init__(self, dataflow: str, run_id: str, pid: int | None = None, since: datetime | None = None) -> None:
        where = f", pid {pid} since {since:%Y-%m-%d %H:%M:%S} UTC" if pid is not None and since is not None else ""
        super().__init__(
            f"dataflow {dataflow!r} is already running (run {run_id}{where}); runs never overlap",
            dataflow=dataflow,
            runId=run_id,
            pid=pid,
            since=since.isoformat() if since is not None else None,
        )


class SecretKeyError(AccordError):
    code = "SOURCE-0001-500"
    kind = "invalid"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)
