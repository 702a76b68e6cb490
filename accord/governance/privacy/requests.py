"""What a privacy request asks for: 1 to 1,000 identities, each a namespace and a value, checked whole.

Every identity is checked before anything is recorded or read, and every problem is said at once with the
identity's place (`identities[3].namespace`): a namespace the sandbox does not know (with the nearest
names), a value its namespace cannot hold (an e-mail without `@`), an identity that is not a namespace and
a value at all. Values are normalised as ingestion stores them (`Ann@Example.COM ` is `ann@example.com`),
and an identity asked for twice counts once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from accord.errors import nearest
from accord.governance.exceptions import PrivacyRequestError, TooManyIdentitiesError

MAX_IDENTITIES = 1_000
"""Identities one request may name, as the reference product's privacy service allows."""
Kind = Literal["access", "delete"]
KINDS: tuple[Kind, ...] = ("access", "delete")


@dataclass(frozen=True)
class RequestedIdentity:
    """An identity as a request names it, normalised: what ingestion would have stored."""

    namespace: str
    value: str

    @property
    def pair(self) -> tuple[str, str]:
        return self.namespace, self.value

    def to_document(self) -> dict[str, str]:
        return {"namespace": self.namespace, "value": self.value}


def parse_identities(items: Sequence[Any], known: Mapping[str, Any], places: Sequence[str] | None = None,
                     ) -> list[RequestedIdentity]:  # fmt: skip
    """The identities of a request, normalised and without repeats, in the order given; `known` maps the
    sandbox's namespace symbols to their namespaces. An item is `{"namespace": ..., "value": ...}` or the
    text `NAMESPACE:VALUE`; `places` names where each item came from (default `identities[i]`).

    Raises `TooManyIdentitiesError` past `MAX_IDENTITIES`, and `PrivacyRequestError` with every problem."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise PrivacyRequestError([{"path": "identities", "message": "a list of identities"}])
    if len(items) > MAX_IDENTITIES:
        raise TooManyIdentitiesError(len(items), MAX_IDENTITIES)
    if not items:
        raise PrivacyRequestError([{"path": "identities", "message": f"give 1 to {MAX_IDENTITIES:,} identities, "
                                    "each a namespace and a value (Email:ann@example.com)"}])  # fmt: skip
    where = list(places) if places is not None else [f"identities[{i}]" for i in range(len(items))]
    problems: list[dict[str, Any]] = []
    shaped: list[tuple[int, str, str]] = []
    for index, item in enumerate(items):
        found = _shape(item, where[index], index, known, problems)
        if found is not None:
            shaped.append((index, *found))
    typed = _normalised([(known[namespace], value) for _i, namespace, value in shaped])
    chosen: dict[tuple[str, str], RequestedIdentity] = {}
    for (index, namespace, value), normalised in zip(shaped, typed, strict=True):
        if normalised.problem or not normalised.id:
            expected = normalised.problem or f"{value!r} is not a valid {namespace} identity"
            problems.append({"path": f"{where[index]}.value", "message": expected, "index": index})
            continue
        chosen.setdefault(normalised.pair, RequestedIdentity(*normalised.pair))
    if problems:
        raise PrivacyRequestError(sorted(problems, key=lambda p: (p["index"], p["path"])))
    return list(chosen.values())


def _shape(item: Any, place: str, at: int, known: Mapping[str, Any],
           problems: list[dict[str, Any]]) -> tuple[str, str] | None:  # fmt: skip
    """(namespace, value) of one item, or None with its problems added (each with the item's `index`)."""
    if isinstance(item, str):
        symbol, colon, text = item.partition(":")
        if not colon or not symbol.strip() or not text.strip():
            problems.append({"path": place, "message": f"{item[:100]!r}: write NAMESPACE:VALUE, such as "
                             "Email:ann@example.com", "index": at})  # fmt: skip
            return None
        item = {"namespace": symbol.strip(), "value": text}
    if not isinstance(item, Mapping):
        problems.append({"path": place, "message": "an identity is an object with `namespace` and `value`",
                         "index": at})  # fmt: skip
        return None
    ok = True
    for unknown in sorted(set(item) - {"namespace", "value"}):
        problems.append({"path": f"{place}.{unknown}", "message": "unknown key: an identity has `namespace` and "
                         "`value`", "index": at})  # fmt: skip
        ok = False
    namespace: Any = item.get("namespace")
    value: Any = item.get("value")
    if not isinstance(namespace, str) or not namespace.strip():
        problems.append({"path": f"{place}.namespace", "message": "a namespace symbol, such as Email or CRMID",
                         "index": at})  # fmt: skip
        ok = False
    elif namespace not in known:
        close = nearest(namespace, sorted(known)) or [s for s in known if s.lower() == namespace.lower()]
        hint = f"; did you mean {', '.join(close)}?" if close else f"; namespaces: {', '.join(sorted(known))}"
        problems.append({"path": f"{place}.namespace", "message": f"no namespace {namespace!r} in this sandbox{hint}",
                         "index": at})  # fmt: skip
        ok = False
    if not isinstance(value, str) or not value.strip():
        problems.append({"path": f"{place}.value", "message": "a value (text), such as ann@example.com",
                         "index": at})  # fmt: skip
        ok = False
    return (namespace, value) if ok else None


def _normalised(values: list[tuple[Any, str]]) -> list[Any]:
    """Values normalised by their namespaces' rules, with why each cannot be an identity of its namespace."""
    if not values:
        return []
    from accord.identity import normalize_identities

    return normalize_identities(values, check=True)
