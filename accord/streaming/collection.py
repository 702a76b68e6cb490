"""Taking messages in: the reference product's collection messages, checked, made entries of the event log.

A message is `{"header": {...}, "body": {"xdmMeta": {...}, "xdmEntity": {...}}}`. `header.imsOrgId` is
ignored; `header.datasetId` may name another dataset of the inlet's sandbox (by id or name), unless the
inlet is public; `header.schemaRef` is kept but not needed (the dataset names its schema). The entity is
validated asynchronously, as a batch's rows are: what does not fit the schema goes to the dataset's row
diagnostics with the same error codes. A message's id is `header.msgId`, else the entity's `_id`, else
a hash of the message: a message sent again is kept once, and its answer says it was a duplicate.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import DatasetRecord
from accord.catalog.inlets import InletRecord
from accord.streaming.exceptions import (
    BusyError,
    MessageError,
    MessageTooLargeError,
    SlowBodyError,
    WrongContentTypeError,
)
from accord.streaming.log import Appended, Entry, EventLog

MAX_MESSAGE_BYTES = 1_000_000
"""A message's size at most (its JSON text), as the reference product's streaming inlets take."""
MAX_BATCH_MESSAGES = 5_000
"""Messages at most in one batch request."""
MAX_BATCH_BYTES = 16_000_000
"""A batch request's body at most."""
CONSUMER = "processor"
"""The processor's name in the log (its position)."""


@dataclass(frozen=True)
class Checked:
    """A message that may go into the log, or why not (`problem`, `status`)."""

    entry: Entry | None
    problem: str | None = None
    status: int = 200
    errors: list[dict[str, str]] | None = None
    """Validation's row errors (code, path, message), when synchronous validation refused it."""
    where: str = "the message"
    dataset_id: str | None = None
    entity: dict[str, Any] | None = None
    """The message's dataset and entity, when it may go into the log (its schema contract is checked on them)."""


def check_message(message: Any, inlet: InletRecord, datasets: dict[str, str], size: int | None,
                  where: str) -> Checked:  # fmt: skip
    """One message checked against its inlet; `datasets` maps the sandbox's dataset ids and names to ids.
    `size`: the message's bytes when known (a request of one); else what the log would keep is measured."""
    if size is not None and size > MAX_MESSAGE_BYTES:
        return Checked(None, str(MessageTooLargeError(size, MAX_MESSAGE_BYTES, where)), 413)
    if not isinstance(message, dict):
        return Checked(None, f"{where}: a message must be a JSON object, not {_kind(message)}", 400)
    header, body = message.get("header", {}), message.get("body")
    if not isinstance(header, dict):
        return Checked(None, f"{where}: `header` must be an object, not {_kind(header)}", 400)
    if not isinstance(body, dict) or not isinstance(body.get("xdmEntity"), dict):
        return Checked(None, f"{where}: `body.xdmEntity` must be an object (the record or event itself)", 400)
    dataset_id = inlet.dataset_id
    named = header.get("datasetId")
    if named is not None:
        if not isinstance(named, str) or named not in datasets:
            return Checked(None, f"{where}: `header.datasetId` {str(named)[:100]!r} names no dataset of the "
                                 "inlet's sandbox", 400)  # fmt: skip
        if inlet.public and datasets[named] != inlet.dataset_id:
            return Checked(None, f"{where}: a public inlet writes only its own dataset", 403)
        dataset_id = datasets[named]
    if dataset_id is None:
        return Checked(None, f"{where}: the inlet has no dataset and the message names none (`header.datasetId`)", 400)
    entity = body["xdmEntity"]
    given = header.get("msgId", entity.get("_id"))
    if given is not None and (not isinstance(given, str | int) or isinstance(given, bool) or not str(given)):
        return Checked(None, f"{where}: `header.msgId` (or `xdmEntity._id`) must be text or a number", 400)
    text = log_body(dataset_id, entity)
    if size is None and len(text) > MAX_MESSAGE_BYTES:  # a message of a batch: measured once, as it is kept
        return Checked(None, str(MessageTooLargeError(len(text), MAX_MESSAGE_BYTES, where)), 413)
    message_id = str(given) if given is not None else hashlib.sha256(text).hexdigest()
    if len(message_id) > 256:
        return Checked(None, f"{where}: the message id is longer than 256 characters", 400)
    return Checked(Entry(inlet.id, message_id, text), where=where, dataset_id=dataset_id, entity=entity)


def log_body(dataset_id: str, entity: dict[str, Any]) -> bytes:
    """What the event log keeps of a message: the dataset it goes to and its entity (the processor reads it)."""
    return orjson.dumps({"dataset": dataset_id, "entity": entity})


def sandbox_datasets(session: Session, sandbox_id: str) -> dict[str, str]:
    """The sandbox's datasets, by id and by name, to their ids."""
    found = session.execute(select(DatasetRecord.id, DatasetRecord.name).where(DatasetRecord.sandbox_id == sandbox_id))
    out: dict[str, str] = {}
    for dataset_id, name in found:
        out[dataset_id] = out[name] = dataset_id
    return out


def refuse_when_behind(lag: int, bound: int) -> None:
    """Back-pressure: past `bound` messages waiting for the processor (`lag`), inlets answer 429 for a while."""
    if lag > bound:
        raise BusyError(lag, retry_after=max(1, min(30, lag // max(1, bound // 10))))


LOG_SECONDS = 30.0
"""How long a request waits, at most, for the log to take its messages."""


def accept(log: EventLog, checked: Sequence[Checked]) -> list[dict[str, Any]]:
    """Put the acceptable messages into the log, durably; one answer per message, in order."""
    return answers(checked, log.append(entries_of(checked)).result(LOG_SECONDS))


def entries_of(checked: Sequence[Checked]) -> list[Entry]:
    """What of the checked messages goes into the log."""
    return [c.entry for c in checked if c.entry is not None]


def answers(checked: Sequence[Checked], appended: Sequence[Appended]) -> list[dict[str, Any]]:
    """One answer per message, in order, once the log has taken `entries_of(checked)` (`appended`)."""
    stored = iter(appended)
    received = int(time.time() * 1000)
    answers = []
    for c in checked:
        if c.entry is None:
            answers.append({"status": c.status, "message": c.problem, **({"errors": c.errors} if c.errors else {})})
            continue
        done = next(stored)
        answer: dict[str, Any] = {"status": 200, "xactionId": f"{c.entry.inlet[:8]}:{done.seq}",
                                  "messageId": c.entry.message_id, "receivedTimeMs": received}  # fmt: skip
        if done.duplicate:
            answer["duplicate"] = True
        answers.append(answer)
    return answers


def decoded(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """A request's body as sent (`Content-Encoding: gzip` undone), never more than `limit` bytes of it."""
    if not encoding or encoding.strip().lower() == "identity":
        return raw
    if encoding.strip().lower() != "gzip":
        raise MessageError(f"Content-Encoding {encoding[:40]!r} is not taken: send gzip or nothing")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise MessageError("the body says it is gzip, but it is not") from None
    if len(out) > limit:
        raise MessageTooLargeError(len(out), limit, "the body, unzipped,", at_least=True)
    if not inflater.eof:
        raise MessageError("the gzip body is cut short")
    return out


JSON_TYPES = ("application/json", "text/plain", "application/x-ndjson")
"""Content types a JSON body may come with (none given is taken too); Segment's libraries send the first."""


def check_content_type(given: str | None) -> None:
    """A body declared as something else than JSON is refused (415) before it is read."""
    kind = (given or "").split(";")[0].strip().lower()
    if kind and kind not in JSON_TYPES and not (kind.startswith("application/") and kind.endswith("+json")):
        raise WrongContentTypeError(given or "")


async def read_body(receive: Any, seconds: float) -> bytes:
    """A request's body, or `SlowBodyError` when it has not all come within `seconds` (a client sending a
    byte a second holds no worker, and is told)."""
    import asyncio

    try:
        async with asyncio.timeout(seconds):  # no task of its own, as `wait_for` would make per request
            return bytes(await receive())
    except TimeoutError:
        raise SlowBodyError(seconds) from None


def parse_body(raw: bytes, limit: int) -> Any:
    """A request's JSON, or a clear error (never a parser's trace)."""
    if len(raw) > limit:
        raise MessageTooLargeError(len(raw), limit, "the request body")
    return json_document(raw)


def json_document(raw: bytes) -> Any:
    """UTF-8 JSON text as its value; what is wrong with it said with its line and column."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MessageError("the body is not UTF-8 text") from None
        raise MessageError(f"the body is not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true or false", type(None): "null"}.get(
        type(value), "a number"
    )
