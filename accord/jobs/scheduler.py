"""The scheduler of `accord serve`: it ticks, asks each duty what is due, and starts it in a small pool of threads.

A duty is one kind of scheduled work (dataflows, activation flows): a function that lists what is due
as (sandbox, name, detail) and one that runs one of them. The work's own lock keeps its runs from
overlapping, whoever starts them; the scheduler only avoids starting again what it is starting."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from accord.errors import AccordError

log = logging.getLogger("accord.scheduler")

Due = tuple[str, str, Any]
"""(sandbox, name, detail): one piece of due work, and what its run needs to know (or None)."""


@dataclass(frozen=True)
class Duty:
    """One kind of scheduled work."""

    kind: str
    due: Callable[[], list[Due]]
    run: Callable[[str, str, Any], dict[str, Any]]


class Scheduler:
    """Starts due work every `tick_seconds`; stop() waits for runs under way."""

    def __init__(self, duties: list[Duty], tick_seconds: float = 30, workers: int = 2) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.duties = duties
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scheduled")
        self._starting: set[tuple[str, str, str]] = set()
        self._guard = threading.Lock()
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._scheduler.add_job(self.tick, "interval", seconds=tick_seconds, next_run_time=datetime.now(UTC),
                                max_instances=1, coalesce=True, id="duties")  # fmt: skip

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        self._scheduler.shutdown(wait=True)
        self._pool.shutdown(wait=True)

    def tick(self) -> None:
        for duty in self.duties:
            try:
                due = duty.due()
            except AccordError as exc:
                log.error("cannot read the schedules of %s: %s", duty.kind, exc.message)
                continue
            for sandbox, name, detail in due:
                key = (duty.kind, sandbox, name)
                with self._guard:
                    if key in self._starting:
                        continue
                    self._starting.add(key)
                self._pool.submit(self._run, duty, key, detail)

    def _run(self, duty: Duty, key: tuple[str, str, str], detail: Any) -> None:
        kind, sandbox, name = key
        try:
            result = duty.run(sandbox, name, detail)
            log.info("%s %s/%s run %s: %s", kind, sandbox, name, result["id"], result["status"])
        except AccordError as exc:
            log.warning("%s %s/%s did not run: %s", kind, sandbox, name, exc.message)
        except Exception:
            log.exception("%s %s/%s: internal error", kind, sandbox, name)
        finally:
            with self._guard:
                self._starting.discard(key)
