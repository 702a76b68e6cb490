"""A privacy job's report: one entry per store, saying whether the job reached it, what it found or removed, and
what went wrong there.

Each store is worked on within its own boundary (`reaching`): a failure there is recorded in its entry (the
user's message; the trace goes to the log) and the job goes on with the other stores, so that one store
down never leaves the others holding what they could have given up. A job with an error in any store ends
in `error`, its report saying where."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from accord.errors import AccordError, known_failure

log = logging.getLogger("accord.governance")

STORES = {
    "eventLog": "messages of streaming ingestion, kept by the event log",
    "lake": "dataset rows, in every dataset of the sandbox (profile and event datasets, and the others)",
    "identityGraph": "the identity graphs (identities, links, one-record updates, proposed links)",
    "profileStore": "merged profiles, fragments, events and identities as lookups and segments read them",
    "segmentMemberships": "audience memberships, their history, and streaming evaluation's changes",
    "activations": "what destinations were sent (snapshots), dead letters, export files under the home, and "
                   "deletion exports to destinations that take them",
    "campaign": "the campaign instance: recipients, lists, send and tracking logs, suppressions, files",
    "lakeDiagnostics": "failed rows that batches kept to show why they failed",
    "catalog": "records that name the person: identity removals, earlier privacy jobs and their bundles",
    "sourceFiles": "input files under the home that local connections read: reported, left as they are",
}  # fmt: skip
"""The stores a privacy job reaches, in the order a delete works on them, with what each holds."""


@dataclass
class StoreReport:
    """What a job did in one store."""

    store: str
    reached: bool = True
    found: int = 0
    """Records found (access), or found and removed (delete)."""
    removed: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    why_not: str | None = None
    """Why the job did not reach it (`reached` false)."""
    seconds: float = 0.0

    def not_reached(self, why: str) -> None:
        self.reached, self.why_not = False, why

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"store": self.store, "reached": self.reached, "found": self.found,
                                    "removed": self.removed, "details": self.details,
                                    "errors": self.errors, "seconds": round(self.seconds, 3)}  # fmt: skip
        if self.why_not:
            document["whyNot"] = self.why_not
        return document


@contextmanager
def reaching(report: StoreReport) -> Iterator[StoreReport]:
    """Work on one store; a failure is recorded in its report (never raised past it), with a message for people.

    The boundary of a store, as connectors run within one: whatever a store's code raises ends here."""
    started = time.perf_counter()
    try:
        yield report
    except Exception as exc:
        known = known_failure(exc)
        if isinstance(known, AccordError):
            report.errors.append({"code": known.code, "message": known.message})
        else:
            # the trace goes to the log; the report, kept in the catalog, says no more than the kind of failure,
            # for a library's message may quote a value (an identifier the job was asked to erase)
            log.exception("privacy job: store %s failed", report.store)
            report.errors.append(
                {
                    "code": "PRIVACY-0500-500",
                    "message": f"the store failed ({type(exc).__name__}); the server's log has the details",
                }
            )
    finally:
        report.seconds += time.perf_counter() - started
