"""Advertising: audience memberships as hashed identifiers, as the large ad platforms take them.

Segment-based and streaming. Each request lists, per audience, the identifiers to add (realized or
existing members) and to remove (exited ones), each only as the SHA-256 hex of its normalised value,
named `email_lc_sha256` and `phone_sha256`; nothing else about a person leaves (no profile id, no
attribute, no clear identifier). A request carries at most 10,000 identifiers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx
from pydantic import Field

from accord.destinations.spec import (
    Aggregation,
    DestinationSpec,
    HttpRequest,
    Limits,
    ProfileRow,
    RequestContext,
    StreamingConfig,
    StreamingDestination,
)
from accord.destinations.streaming.auth import BearerToken
from accord.destinations.streaming.identifiers import hashed_emails, hashed_phones
from accord.retries import RetryPolicy
from accord.sources import SECRET, CheckStep
from accord.sources.network import reach_url

IDENTIFIERS_PER_REQUEST = 10_000
HASHED_NAMES = {"Email": "email_lc_sha256", "Phone": "phone_sha256"}


class AdsConfig(StreamingConfig):
    url: str = Field(pattern=r"^https?://\S+$", description="The platform's audience endpoint.")
    token: str = Field(min_length=1, description="The platform's API token.", json_schema_extra=SECRET)


class AdsDestination(StreamingDestination[AdsConfig]):
    spec = DestinationSpec(
        id="ads",
        name="Advertising platform",
        category="advertising",
        description="Audience memberships as SHA-256 hashes of normalised e-mails and phone numbers "
        "(`email_lc_sha256`, `phone_sha256`), added and removed per audience, 10,000 identifiers a request.",
        config=AdsConfig,
        export_type="segment",
        delivery="streaming",
        namespaces=tuple(HASHED_NAMES),
        limits=Limits(identifiers_per_request=IDENTIFIERS_PER_REQUEST, requests_per_second=20),
        aggregation=Aggregation(max_profiles_per_request=IDENTIFIERS_PER_REQUEST, max_batch_age_seconds=30),
        retry=RetryPolicy(attempts=4, initial_wait=15, max_wait=60),
        marketing_actions=("crossSiteTargeting", "exportToThirdParty"),
    )

    def check(self) -> list[CheckStep]:
        return [reach_url(self.config.url, "url")]

    def auth(self) -> httpx.Auth:
        return BearerToken(self.config.token)

    def requests(self, rows: Sequence[ProfileRow], context: RequestContext) -> list[HttpRequest]:
        hashed = hashed_identifiers(rows)
        requests: list[HttpRequest] = []
        batch: list[int] = []
        count = 0
        for index, identifiers in enumerate(hashed):
            cost = len(identifiers) * len(rows[index]["segments"])
            if not cost or cost > IDENTIFIERS_PER_REQUEST:
                continue  # nothing to send for it (counted as failed by the engine), or alone over the limit
            if count + cost > IDENTIFIERS_PER_REQUEST:
                requests.append(self._request(rows, hashed, batch, count))
                batch, count = [], 0
            batch.append(index)
            count += cost
        if batch:
            requests.append(self._request(rows, hashed, batch, count))
        return requests

    def _request(
        self, rows: Sequence[ProfileRow], hashed: list[list[dict[str, str]]], batch: list[int], count: int
    ) -> HttpRequest:
        audiences: dict[str, dict[str, list[dict[str, str]]]] = {}
        for index in batch:
            for segment, membership in rows[index]["segments"].items():
                lists = audiences.setdefault(segment, {"add": [], "remove": []})
                lists["remove" if membership["status"] == "exited" else "add"].extend(hashed[index])
        body = {"audiences": [{"segmentId": segment, **lists} for segment, lists in audiences.items()]}
        return HttpRequest("POST", self.config.url, {"Content-Type": "application/json"},
                           json.dumps(body, separators=(",", ":")).encode(),
                           tuple(str(rows[i]["profileId"]) for i in batch), count)  # fmt: skip


def hashed_identifiers(rows: Sequence[ProfileRow]) -> list[list[dict[str, str]]]:
    """Each row's identifiers as `{name: sha256 hex}`, hashed a batch at a time; invalid values left out."""
    hashed: list[list[dict[str, str]]] = [[] for _ in rows]
    for namespace, name in HASHED_NAMES.items():
        owners = [i for i, row in enumerate(rows) for _ in row["identities"].get(namespace, ())]
        values = [str(v) for row in rows for v in row["identities"].get(namespace, ())]
        if not values:
            continue
        digests = hashed_emails(values) if namespace == "Email" else hashed_phones(values)
        seen: set[tuple[int, str]] = set()
        for owner, digest in zip(owners, digests, strict=True):
            if digest is not None and (owner, digest) not in seen:  # two spellings of one address: sent once
                seen.add((owner, digest))
                hashed[owner].append({name: digest})
    return hashed
