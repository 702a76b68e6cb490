"""The Segment spec's calls, checked and mapped to Accord's records and events: pure functions over data.

A call (`identify`, `track`, `page`, `screen`, `group`, `alias`) becomes one entity of one dataset of
its inlet, through a `SegmentMapping` that the inlet keeps (the defaults below, or the user's own):

- `identify`, `group` and `alias` become a profile record of the profile dataset: traits at the
  XDM paths `traits` names, every trait as sent in the map `<tenantField>.traits`, a group's id and
  traits in `<tenantField>.groupId` and `.groupTraits`;
- `track`, `page` and `screen` become an experience event of the event dataset: `_id` (the call's
  `messageId`), `timestamp` (corrected for the client's clock), `eventType`, the properties at the
  XDM paths `properties` names and every property as sent in the map `<tenantField>.properties`;
- both carry `identityMap`, the call's identities by the namespaces `identities` names, so that the
  identity graph links them: `alias(previousId, userId)` is one record carrying both.

Maps of the tenant field keep each value as text (JSON text for what is not text), so that any
call fits the schema whatever its properties; the mapping gives the typed fields.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CALL_TYPES = ("identify", "track", "page", "screen", "group", "alias")
PROFILE_CALLS = frozenset({"identify", "group", "alias"})
MAX_CALL_BYTES = 32 * 1024
"""A call's size at most (its JSON text), as Segment's API takes."""
MAX_BATCH_BYTES = 500 * 1024
"""A batch request's body at most, unzipped, as Segment's API takes."""
MAX_ID_CHARACTERS = 256
ANONYMOUS_NAMESPACE = "SegmentAnonymousId"
"""The cookie namespace of `anonymousId` by default: Segment's anonymous ids are UUIDs or any text,
which ECID (38 digits) would refuse. Inlets made with the default mapping create it (type cookie)."""
TENANT_MAPS = {"profile": ("traits", "groupId", "groupTraits"),
               "event": ("type", "event", "name", "category", "properties", "context")}  # fmt: skip
"""The fields under the tenant field that each kind of entity writes."""


DEFAULT_IDENTITIES = {"anonymousId": ANONYMOUS_NAMESPACE, "userId": "CRMID", "previousId": ANONYMOUS_NAMESPACE,
                      "traits.email": "Email"}  # fmt: skip
DEFAULT_TRAITS = {"email": "personalEmail.address", "firstName": "person.name.firstName",
                  "lastName": "person.name.lastName"}  # fmt: skip
DEFAULT_EVENT_TYPES = {"page": "web.webpagedetails.pageViews", "screen": "segment.screen", "track": "segment.track"}
DEFAULT_TRACK_EVENTS = {"Order Completed": "commerce.purchases", "Product Added": "commerce.productListAdds",
                        "Product Removed": "commerce.productListRemovals", "Product Viewed": "commerce.productViews",
                        "Checkout Started": "commerce.checkouts"}  # fmt: skip
"""Segment's e-commerce spec's events, as the XDM eventTypes of the same meaning."""


class SegmentMapping(BaseModel):
    """Where a Segment call's fields go: kept with its inlet, documented in docs/streaming.md."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    identities: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_IDENTITIES),
        description="A call's field (`anonymousId`, `userId`, `previousId`, `traits.NAME`) -> identity namespace",
    )
    traits: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_TRAITS),
        description="A trait -> the XDM path of the profile record it fills",
    )
    properties: dict[str, str] = Field(
        default_factory=dict, description="A property of track/page/screen -> the XDM path of the event it fills"
    )
    tenant_field: str = Field(default="_tenant.segment", alias="tenantField",
                              description="Where the call's own fields go (maps of text)")  # fmt: skip
    event_types: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_EVENT_TYPES),
        alias="eventTypes",
        description="A call type -> the event's `eventType` (a track call's event may be named below)",
    )
    track_events: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_TRACK_EVENTS),
        alias="trackEvents",
        description="A track call's `event` -> its `eventType` (Segment's e-commerce spec by default)",
    )

    def paths(self, target: Literal["profile", "event"]) -> list[str]:
        """Every schema path the mapping writes in an entity of `target`: the schema must hold each."""
        own = [f"{self.tenant_field}.{name}" for name in TENANT_MAPS[target]]
        typed = self.traits.values() if target == "profile" else ["_id", "timestamp", "eventType",
                                                                   *self.properties.values()]  # fmt: skip
        return ["identityMap", *typed, *own]


@dataclass(frozen=True)
class MappedCall:
    """A call as an entity of its inlet's profile or event dataset, with its message id."""

    target: Literal["profile", "event"]
    message_id: str
    entity: dict[str, Any]


def call_problem(call: Any, where: str) -> str | None:
    """What keeps a call out (Segment's rules), naming the field and `where` the call is; None: it may go in."""
    if not isinstance(call, dict):
        return f"{where}: a call must be a JSON object"
    kind = call.get("type")
    if kind not in CALL_TYPES:
        return f"{where}: `type` must be one of {', '.join(CALL_TYPES)}, not {str(kind)[:40]!r}"
    for name in ("traits", "properties", "context", "integrations"):
        if call.get(name) is not None and not isinstance(call[name], dict):
            return f"{where}: `{name}` must be an object"
    if kind == "alias":
        for name in ("previousId", "userId"):
            if not _is_id(call.get(name)):
                return f"{where}: an alias call needs `{name}` (text or a number)"
    elif not (_is_id(call.get("userId")) or _is_id(call.get("anonymousId"))):
        return f"{where}: `userId` or `anonymousId` is required (text or a number)"
    if kind == "track" and not (isinstance(call.get("event"), str) and call["event"].strip()):
        return f"{where}: a track call needs `event`, the name of what happened"
    if kind == "group" and not _is_id(call.get("groupId")):
        return f"{where}: a group call needs `groupId`"
    if call.get("messageId") is not None and not _is_id(call["messageId"]):
        return f"{where}: `messageId` must be text or a number of at most {MAX_ID_CHARACTERS} characters"
    for name in ("timestamp", "sentAt", "originalTimestamp"):
        if call.get(name) is not None and parse_time(call[name]) is None:
            return f"{where}: `{name}` must be an ISO 8601 date and time, not {str(call[name])[:40]!r}"
    return None


def corrected_timestamp(call: Mapping[str, Any], sent_at: datetime | None, received: datetime) -> datetime:
    """When the call happened, by the server's clock, as Segment computes it: the client's `timestamp`
    (else `originalTimestamp`) plus (`receivedAt` - `sentAt`), the skew of the client's clock; without
    `sentAt` the timestamp as given, without a timestamp the time it was received."""
    given = parse_time(call.get("timestamp") or call.get("originalTimestamp"))
    if given is None:
        return received
    sent = parse_time(call.get("sentAt")) or sent_at
    return given if sent is None else given + (received - sent)


def map_call(call: Mapping[str, Any], mapping: SegmentMapping, received: datetime,
             sent_at: datetime | None = None) -> MappedCall:  # fmt: skip
    """A checked call (`call_problem` said None) as the entity it becomes (see the module's docstring)."""
    kind = call["type"]
    message_id = _text_id(call.get("messageId")) or _hash(call)
    person = _object(_object(call.get("context")).get("traits"))
    # a group call's traits are the group's; the person's are in its context, as with other calls
    traits = person if kind == "group" else {**person, **_object(call.get("traits"))}
    entity: dict[str, Any] = {}
    identity_map = _identity_map(call, traits, mapping)
    if identity_map:
        entity["identityMap"] = identity_map
    own: dict[str, Any] = {}
    if kind in PROFILE_CALLS:
        if kind == "group":
            own["groupId"] = _text_id(call["groupId"])
            own["groupTraits"] = _texts(_object(call.get("traits")))
        for trait, path in mapping.traits.items():
            if traits.get(trait) is not None:
                _put(entity, path, traits[trait])
        own["traits"] = _texts(traits)
        _put(entity, mapping.tenant_field, {k: v for k, v in own.items() if v})
        return MappedCall("profile", message_id, entity)
    properties = _object(call.get("properties"))
    event = call.get("event") if kind == "track" else None
    event_type = mapping.track_events.get(event or "") or mapping.event_types.get(kind) or f"segment.{kind}"
    when = corrected_timestamp(call, sent_at, received)
    entity.update({"_id": message_id, "timestamp": _iso(when), "eventType": event_type})
    for name, path in mapping.properties.items():
        if properties.get(name) is not None:
            _put(entity, path, properties[name])
    own = {"type": kind, "event": event, "name": call.get("name"), "category": call.get("category"),
           "properties": _texts(properties), "context": _texts(_object(call.get("context")))}  # fmt: skip
    _put(entity, mapping.tenant_field, {k: v for k, v in own.items() if v})
    return MappedCall("event", message_id, entity)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 date and time (UTC when it names no zone), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _identity_map(call: Mapping[str, Any], traits: Mapping[str, Any], mapping: SegmentMapping) -> dict[str, Any]:
    found: list[tuple[str, str, str]] = []  # (field, namespace, id)
    for source, namespace in mapping.identities.items():
        value = traits.get(source.removeprefix("traits.")) if source.startswith("traits.") else call.get(source)
        if _is_id(value):
            found.append((source, namespace, _text_id(value)))
    # the person's id is the record's primary identity when there is one; else the device's
    primary = next((f for f in found if f[0] == "userId"), None) or next(iter(found), None)
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in found:
        source, namespace, value = entry
        state = "ambiguous" if source in ("anonymousId", "previousId") else "authenticated"
        ids = out.setdefault(namespace, [])
        if all(i["id"] != value for i in ids):
            ids.append({"id": value, "authenticatedState": state, "primary": entry is primary})
    return out


def _put(entity: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        entity = entity.setdefault(name, {})
    entity[leaf] = value


def _texts(values: Mapping[str, Any]) -> dict[str, str]:
    """A map of text: text as is, anything else as its JSON text; nulls left out."""
    return {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
            for k, v in values.items() if v is not None}  # fmt: skip


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_id(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return False
    return 0 < len(str(value).strip()) <= MAX_ID_CHARACTERS


def _text_id(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if _is_id(value) else ""


def _hash(call: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(call, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
