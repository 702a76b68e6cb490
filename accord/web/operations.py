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
from dataclasses import dataclass, field, replace
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
"""Operations remembered; past this, the oldest that ended is forgotten first (one still running never is)."""


@dataclass
class Operation:
    id: str
    title: str
    user: str
    sandbox: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    state: str = "queued"
    """queued (waiting for a worker), running, finished or failed"""
    step: str = "waiting for a worker"
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


class OperationFailed(Exception):
    """Raised by an operation's work that ended but failed (a run recorded as failed): the person is told why,
    and still led to what it made (the failed run's page)."""

    def __init__(self, message: str, result: str | None = None) -> None:
        super().__init__(message)
        self.message, self.result = message, result


class Operations:
    """The operations this server runs for the workspace, at most `workers` at a time (the others wait)."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="accord-ui-operation")
        self._kept: deque[Operation] = deque()
        self._lock = threading.Lock()

    def start(self, title: str, user: str, sandbox: str, work: Callable[[Told], str | None]) -> Operation:
        """Run `work` in the background; it is told how to say its progress and answers the page of its result."""
        operation = Operation(secrets.token_urlsafe(12), title, user, sandbox)
        with self._lock:
            self._keep(operation)

        def told(step: str, fraction: float | None) -> None:
            with self._lock:
                operation.step, operation.fraction = step[:200], fraction

        def run() -> None:
            with self._lock:
                operation.state, operation.step = "running", "starting"
            result, error = None, None
            try:
                result = work(told)
            except OperationFailed as exc:
                result, error = exc.result, exc.message
            except AccordError as exc:
                error = exc.message
            except Exception:  # the person is told it failed; the server's log keeps why
                log.exception("workspace operation %r failed", title)
                error = "an internal error: the server's log says more"
            with self._lock:  # all at once: a page never sees a failure without its reason, or an end without time
                operation.result, operation.error, operation.finished_at = result, error, datetime.now(UTC)
                operation.fraction = 1.0 if error is None else operation.fraction
                operation.state = "failed" if error is not None else "finished"

        self._pool.submit(run)
        return operation

    def _keep(self, operation: Operation) -> None:
        """Keep a new operation; past `KEPT`, the oldest that ended is forgotten (one running never is)."""
        self._kept.append(operation)
        if len(self._kept) > KEPT:
            ended = next((o for o in self._kept if o.state in ("finished", "failed")), None)
            if ended is not None:
                self._kept.remove(ended)

    def of(self, user: str, sandbox: str) -> list[Operation]:
        with self._lock:
            return [replace(o) for o in reversed(self._kept) if o.user == user and o.sandbox == sandbox]

    def get(self, operation_id: str, user: str, sandbox: str) -> Operation:
        """One of the person's own operations in this sandbox (another person's, or one of another sandbox, is
        as unknown as one that never was), as it stands now."""
        with self._lock:
            for operation in self._kept:
                if operation.id == operation_id and operation.user == user and operation.sandbox == sandbox:
                    return replace(operation)
        raise NotFoundError(f"no operation {operation_id[:40]!r} of yours: it ended long ago or the server restarted")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


router = APIRouter(include_in_schema=False)
STATE = "operations/_state.html"
STOP_POLLING = 286
"""htmx stops polling an element whose answer has this status (and swaps it in all the same)."""
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
    return _shown(request, operation_id, sandbox, STATE)


def _shown(request: Request, operation_id: str, sandbox: str | None, template: str) -> Response:
    entry = entered(request, sandbox)
    if not isinstance(entry, Entered):
        return entry
    try:
        operation = operations_of(entry).get(operation_id, entry.caller.user, entry.sandbox)
    except AccordError as exc:
        if template == STATE:  # 286 tells htmx to stop asking: the page says why instead of polling forever
            return entry.render("operations/_gone.html", "Operation", status=STOP_POLLING, message=exc.message)
        return refusal(exc)
    return entry.render(template, operation.title, operation=operation)
