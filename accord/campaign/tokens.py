"""Signed tokens of tracking and subscription links: numbers a link names, and an HMAC-SHA256 of them.

A token is `n1.n2...sig`: the numbers in canonical decimal (no sign, no leading zero, so that an altered
spelling of the same number is a different token) and a 128-bit tag over the link's kind and the numbers
(an open token is no unsubscribe token). The link's target URL is never in a token: a click token names
the link's index in its message, and the URL is looked up from the delivery (no open redirect)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from accord.campaign.exceptions import TrackingLinkError

KINDS = ("o", "c", "u", "s")
"""open, click, unsubscribe, subscription confirmation: also the path segment of each link."""
_TAG_BYTES = 16


def sign(key: bytes, kind: str, *numbers: int) -> str:
    body = ".".join(str(n) for n in numbers)
    return f"{body}.{_tag(key, kind, body)}"


def verify(key: bytes, kind: str, token: str, arity: int) -> tuple[int, ...]:
    """The numbers a genuine token of this kind carries; TrackingLinkError for anything else."""
    parts = token.split(".")
    if kind not in KINDS or len(token) > 200 or len(parts) != arity + 1:
        raise TrackingLinkError()
    body, tag = ".".join(parts[:-1]), parts[-1]
    if not hmac.compare_digest(tag.encode("ascii", "replace"), _tag(key, kind, body).encode("ascii")):
        raise TrackingLinkError()
    # Only a token this module signed gets here, and it signed canonical numbers alone
    return tuple(int(part) for part in parts[:-1])


@lru_cache(maxsize=8)
def _keyed(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def _tag(key: bytes, kind: str, body: str) -> str:
    mac = _keyed(key).copy()  # the key's set-up once, not per link of every message
    mac.update(f"{kind}:{body}".encode())
    digest = mac.digest()[:_TAG_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
