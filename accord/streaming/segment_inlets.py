"""Segment inlets: the Segment spec's API (`/v1/identify`, `/v1/track`, ..., `/v1/batch`) over Accord's log.

A Segment inlet has a write key, made when the inlet is made and shown once (the catalog keeps its
SHA-256): clients send it as the HTTP basic-auth user name, and the inlet is found by its hash. It
writes two datasets of its sandbox, a profile dataset (identify, group, alias) and an event dataset
(track, page, screen), through its `SegmentMapping` (`segment_spec.py`). Calls are checked by
Segment's rules and mapped before they go into the event log, so that the log holds the entities
the XDM inlets' messages hold, and the processor takes both alike. A request is taken whole or not
at all: one bad call of a batch refuses the batch, with the call's place and field.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.catalog import DatasetRecord
from accord.catalog.inlets import InletRecord
from accord.errors import AuthenticationError, InvalidInputError, NotFoundError
from accord.identity import create_namespace, namespaces
from accord.schema import find, resolve_schema_by_id
from accord.streaming.collection import Checked, decoded, json_document, log_body
from accord.streaming.exceptions import MessageError, MessageTooLargeError
from accord.streaming.inlets import find_dataset, inlet_document, new_inlet_sandbox
from accord.streaming.log import Entry
from accord.streaming.segment_spec import (
    ANONYMOUS_NAMESPACE,
    CALL_TYPES,
    MAX_BATCH_BYTES,
    MAX_CALL_BYTES,
    SegmentMapping,
    call_problem,
    map_call,
    parse_time,
)

CLASS_OF = {"profile": "profile", "event": "experienceevent"}
SHOWN_PROBLEMS = 10
"""Problems of a batch named in its refusal at most (the count says how many more)."""


def write_key_hash(write_key: str) -> str:
    return hashlib.sha256(write_key.encode()).hexdigest()


def create_segment_inlet(session: Session, sandbox: str, name: str, profile_dataset: str, event_dataset: str,
                         mapping: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Make a Segment inlet writing the two datasets (by name) through `mapping` (default: `SegmentMapping()`).

    Its document carries the write key: the only time it is shown. The datasets' schemas must hold every
    path the mapping writes; all that is missing is said at once. The mapping's namespaces must exist,
    but for `SegmentAnonymousId`, which is made (type cookie) when it is missing."""
    sandbox_id = new_inlet_sandbox(session, sandbox, name)
    try:
        chosen = SegmentMapping.model_validate(mapping or {})
    except ValidationError as exc:
        raise InvalidInputError(f"the Segment mapping is not valid: {exc.errors()[0]['msg']}",
                                code="STREAM-0421-400", problems=exc.errors(include_url=False)) from None  # fmt: skip
    datasets = {"profile": find_dataset(session, sandbox_id, profile_dataset),
                "event": find_dataset(session, sandbox_id, event_dataset)}  # fmt: skip
    problems = [problem for target, dataset in datasets.items()
                for problem in _schema_problems(session, dataset, target, chosen)]  # fmt: skip
    known = namespaces(session, sandbox_id)
    problems += [f"mapping.identities.{source}: no identity namespace {symbol!r}"
                 for source, symbol in chosen.identities.items()
                 if symbol not in known and symbol != ANONYMOUS_NAMESPACE]  # fmt: skip
    if problems:
        raise InvalidInputError("the Segment inlet cannot write its datasets: " + "; ".join(problems),
                                code="STREAM-0422-400", problems=problems)  # fmt: skip
    if ANONYMOUS_NAMESPACE in chosen.identities.values() and ANONYMOUS_NAMESPACE not in known:
        create_namespace(session, sandbox, ANONYMOUS_NAMESPACE, "Segment anonymous id", "cookie",
                         "Segment's anonymousId: a device's or browser's id before the person is known")  # fmt: skip
    write_key = secrets.token_urlsafe(24)
    options = {"profileDataset": datasets["profile"].id, "eventDataset": datasets["event"].id,
               "mapping": chosen.model_dump(by_alias=True)}  # fmt: skip
    record = InletRecord(id=secrets.token_hex(32), sandbox_id=sandbox_id, name=name, kind="segment",
                         dataset_id=None, public=False, write_key_hash=write_key_hash(write_key),
                         options=options)  # fmt: skip
    session.add(record)
    session.flush()
    names = {"profileDataset": datasets["profile"].name, "eventDataset": datasets["event"].name}
    return {**inlet_document(record, None, names), "writeKey": write_key}


def _schema_problems(session: Session, dataset: DatasetRecord, target: str, mapping: SegmentMapping) -> list[str]:
    schema = resolve_schema_by_id(session, dataset.schema_id)
    role = f"{target} dataset {dataset.name!r}"
    if schema.class_name != CLASS_OF[target]:
        return [f"the {role} must be of class {CLASS_OF[target]}, not {schema.class_name}"]
    missing = [path for path in mapping.paths("profile" if target == "profile" else "event")
               if find(schema.fields, path) is None]  # fmt: skip
    if not missing:
        return []
    return [
        f"the {role}'s schema {schema.name!r} has no field {', '.join(missing)} (the field groups "
        "`identitymap` and `segment-calls` hold what the default mapping writes)"
    ]


def inlet_by_write_key(session: Session, write_key: str | None) -> InletRecord:
    """The Segment inlet of a write key; any other key is refused (401), whatever it is."""
    record = None
    if write_key:
        record = session.scalar(select(InletRecord).where(InletRecord.write_key_hash == write_key_hash(write_key),
                                                          InletRecord.kind == "segment"))  # fmt: skip
    if record is None:
        raise AuthenticationError("no Segment inlet has this write key: send the inlet's write key as the "
                                  "basic-auth user name", code="STREAM-0401-401", scheme="Basic")  # fmt: skip
    return record


def segment_body(raw: bytes, encoding: str | None, batch: bool) -> Any:
    """A request's calls (gzip undone), bounded as Segment bounds them: 400 past 32 KB a call, 500 KB a batch."""
    limit = MAX_BATCH_BYTES if batch else MAX_CALL_BYTES
    try:
        body = decoded(raw, encoding, limit)
    except MessageTooLargeError as exc:
        raise _too_large(int(exc.details.get("size", limit + 1)), limit) from None
    if len(body) > limit:
        raise _too_large(len(body), limit)
    return json_document(body)


def _too_large(size: int, limit: int) -> MessageError:
    what = "a batch" if limit == MAX_BATCH_BYTES else "a call"
    return MessageError(f"the body is {size:,} bytes, over the {limit // 1024} KB that {what} may have",
                        code="STREAM-0420-400", size=size, limit=limit)  # fmt: skip


def body_write_key(payload: Any) -> str | None:
    """The write key a body names (`writeKey`), which Segment takes when basic auth is not sent."""
    key = payload.get("writeKey") if isinstance(payload, dict) else None
    return key if isinstance(key, str) else None


def checked_calls(payload: Any, kind: str | None, inlet: InletRecord,
                  received: datetime | None = None) -> list[Checked]:  # fmt: skip
    """A request's calls as entries of the log, each mapped by the inlet's mapping; `kind` is the call
    type of a one-call URL (`/v1/track`), None for a batch (`/v1/batch`, `/v1/import`). Refused whole,
    naming each bad call's place and field, when one call breaks Segment's rules."""
    received = received or datetime.now(UTC)
    if kind is None:
        calls = payload.get("batch") if isinstance(payload, dict) else None
        if not isinstance(calls, list):
            raise MessageError('a batch is {"batch": [...]}, a list of calls')
        shared = payload.get("context") if isinstance(payload.get("context"), dict) else {}
        calls = [{**call, "context": {**shared, **(call.get("context") or {})}}
                 if shared and isinstance(call, dict) and isinstance(call.get("context") or {}, dict) else call
                 for call in calls]  # fmt: skip
        places = [f"batch[{i}]" for i in range(len(calls))]
        sent_at = parse_time(payload.get("sentAt"))
    else:
        if not isinstance(payload, dict):
            raise MessageError(f"a {kind} call must be a JSON object")
        calls, places, sent_at = [{**payload, "type": kind}], [f"the {kind} call"], None
    problems = [p for call, where in zip(calls, places, strict=True)
                if (p := call_problem(call, where) or _size_problem(call, where))]  # fmt: skip
    if problems:
        more = f" (and {len(problems) - SHOWN_PROBLEMS} more)" if len(problems) > SHOWN_PROBLEMS else ""
        raise MessageError("; ".join(problems[:SHOWN_PROBLEMS]) + more, problems=problems[:100])
    mapping = SegmentMapping.model_validate(inlet.options.get("mapping") or {})
    datasets = {"profile": inlet.options["profileDataset"], "event": inlet.options["eventDataset"]}
    out = []
    for call in calls:
        mapped = map_call(call, mapping, received, sent_at)
        out.append(Checked(Entry(inlet.id, mapped.message_id, log_body(datasets[mapped.target], mapped.entity))))
    return out


def check_datasets(session: Session, inlet: InletRecord) -> None:
    """A Segment inlet whose dataset was deleted takes nothing: say so rather than lose the calls."""
    for role in ("profileDataset", "eventDataset"):
        if session.get(DatasetRecord, inlet.options.get(role, "")) is None:
            raise NotFoundError(f"the Segment inlet {inlet.name!r} writes a dataset that no longer exists ({role}): "
                                "make the inlet again", code="STREAM-0412-404")  # fmt: skip


def _size_problem(call: Any, where: str) -> str | None:
    size = len(json.dumps(call, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{where}: the call is {size:,} bytes, over the 32 KB a call may have" if size > MAX_CALL_BYTES else None


__all__ = ["CALL_TYPES", "checked_calls", "create_segment_inlet", "inlet_by_write_key", "segment_body"]
