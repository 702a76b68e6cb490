"""Checks of an answer's content, shared by the route walk and the command walk.

A check is called with the client (an `Api`, or the CLI runner), which knows the home's `ids`, and
the answer's JSON; it asserts what a user would look for, and says what it found when it fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Check = Callable[[Any, Any], None]


@dataclass(frozen=True)
class Ref:
    """An id made while the home was built (a batch, a run, a job), looked up in the client's `ids`."""

    key: str


def matches(actual: Any, expected: Any, ids: Mapping[str, str]) -> bool:
    """`expected` is a value, a `Ref`, a type, a predicate, or a dict or list of such: `actual` matches a dict
    when it holds each of its keys (and maybe more), a list when it has as many items, each matching."""
    if isinstance(expected, Ref):
        return bool(actual == ids[expected.key])
    if isinstance(expected, type):
        return isinstance(actual, expected)
    if callable(expected):
        return bool(expected(actual))
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and matches(actual[k], v, ids) for k, v in expected.items())
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(matches(a, e, ids) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def _shown(value: Any) -> str:
    return json.dumps(value, default=str)[:3000]


def holding(*items: Any) -> Callable[[Any], bool]:
    """A predicate for `matches`: a list holding these items (and maybe more, in any order)."""
    return lambda actual: isinstance(actual, list) and all(item in actual for item in items)


def has(expected: dict[str, Any]) -> Check:
    """The answer is a document holding these fields."""

    def check(client: Any, body: Any) -> None:
        assert matches(body, expected, client.ids), f"expected {expected}, got {_shown(body)}"

    return check


def lists(*expected: dict[str, Any], key: str | None = None) -> Check:
    """The answer (or its `key`) is a list with an item matching each expected one."""

    def check(client: Any, body: Any) -> None:
        items = body[key] if key else body
        assert isinstance(items, list), f"not a list: {_shown(body)}"
        for item in expected:
            assert any(matches(x, item, client.ids) for x in items), f"no {item} in {_shown(items)}"

    return check


def lacks(expected: dict[str, Any], key: str | None = None) -> Check:
    """The answer (or its `key`) is a list with no item matching this one."""

    def check(client: Any, body: Any) -> None:
        items = body[key] if key else body
        assert isinstance(items, list), f"not a list: {_shown(body)}"
        assert not [x for x in items if matches(x, expected, client.ids)], f"{expected} is still in {_shown(items)}"

    return check


def each(*checks: Check) -> Check:
    def check(client: Any, body: Any) -> None:
        for one in checks:
            one(client, body)

    return check
