"""Long operations started from the workspace (a dataflow run, a segment job, an activation run, a send): each
runs in a worker thread of `accord serve`, says how far it got, and can be left and come back to.

The operation's page (`/ui/operations/{id}`) asks for its state every second (htmx) until it ends, then links
to what it made. The list lives in the server's memory: it is the person's view of what they started, not a
record (the runs, jobs and logs that the services keep are the record, and outlive a restart)."""

from __future__ import annotations

import logging
import secrets
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from accord.errors import AccordError, NotFoundError
from accord.web.pages import Entered, entered, refusal

log = logging.getLogger(__name__)

Told = Callable[[str, float | None], None]
"""How an operation says where it is: a step's words, and how far along (0 to 1), or None when unknown."""

KEPT = 200
"""Operations remembered, the oldest forgotten first."""


@dataclass
class Operation:
    id: str
    title: str
    user: str
    sandbox: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    state: str = "running"
    """running, finished or failed"""
    step: str = "starting"
    fraction: float | None = None
    result: str | None = None
    """The workspace page that shows what the operation made."""
    error: str | None = None
    finished_at: datetime | None = None

    @property
    def percent(self) -> int | None:
        return None if self.fraction is None else max(0, min(100, round(self.fraction * 100)))

    @property
    def seconds(self) -> float:
        return ((self.finished_at or datetime.now(UTC)) - self.started_at).total_seconds()


class Operations:
    """The operations this server runs for the workspace, at most `workers` at a time (the others wait)."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="accord-ui-operation")
        self._kept: deque[Operation] = deque(maxlen=KEPT)
        self._lock = threading.Lock()

    def start(self, title: str, user: str, sandbox: str, work: Callable[[Told], str | None]) -> Operation:
        """Run `work` in the background; it is told how to say its progress and answers the page of its result."""
        operation = Operation(secrets.token_urlsafe(12), title, user, sandbox)
        with self._lock:
            self._kept.append(operation)

        def told(step: str, fraction: float | None) -> None:
            operation.step, operation.fraction = step[:200], fraction

        def run() -> None:
            try:
                operation.result = work(told)
                operation.state, operation.fraction = "finished", 1.0
            except AccordError as exc:
                operation.state, operation.error = "failed", exc.message
            except Exception:  # the person is told it failed; the server's log keeps why
                log.exception("workspace operation %r failed", title)
                operation.state, operation.error = "failed", "an internal error: the server's log says more"
            finally:
                operation.finished_at = datetime.now(UTC)

        self._pool.submit(run)
        return operation

    def of(self, user: str, sandbox: str) -> list[Operation]:
        with self._lock:
            return [o for o in reversed(self._kept) if o.user == user and o.sandbox == sandbox]

    def get(self, operation_id: str, user: str) -> Operation:
        """One of the person's own operations (another person's is as unknown as one that never was)."""
        with self._lock:
            for operation in self._kept:
                if operation.id == operation_id and operation.user == user:
                    return operation
        raise NotFoundError(f"no operation {operation_id[:40]!r} of yours: it ended long ago or the server restarted")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


router = APIRouter(include_in_schema=False)
OperationId = Annotated[str, Path(max_length=40)]


def operations_of(entry: Entered) -> Operations:
    found: Operations = entry.request.app.state.operations
    return found


@router.get("/ui/operations")
def get_operations(request: Request, sandbox: str | None = None) -> Response:
    """What the person started in this sandbox, running and ended."""
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    shown = operations_of(entry).of(entry.caller.user, entry.sandbox)
    return entry.render("operations/list.html", "Operations", operations=shown)


@router.get("/ui/operations/{operation_id}")
def get_operation(request: Request, operation_id: OperationId, sandbox: str | None = None) -> Response:
    return _shown(request, operation_id, sandbox, "operations/page.html")


@router.get("/ui/operations/{operation_id}/state")
def get_operation_state(request: Request, operation_id: OperationId, sandbox: str | None = None) -> Response:
    """The operation's state alone: what the page swaps in every second while it runs."""
    return _shown(request, operation_id, sandbox, "operations/_state.html")


def _shown(request: Request, operation_id: str, sandbox: str | None, template: str) -> Response:
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    try:
        operation = operations_of(entry).get(operation_id, entry.caller.user)
    except AccordError as exc:
        return refusal(exc)
    return entry.render(template, operation.title, operation=operation)
