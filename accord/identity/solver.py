"""The graph rules as a pure function over one group of identities and their links.

The full build runs the same rules in the engine over every identity at once (`graph.py`); the
incremental update re-solves only the group a new record touches, with this function. Both order
links and identities the same way, ties included, so that they give the same graphs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from accord.identity.namespaces import SEPARATOR

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TYPE_EVICTION_ORDER = {"partner_id": 0, "cookie": 1, "device": 2}
"""Which identities leave an oversized graph first (the reference product's order); others come after."""

REMOVED_LINK = "removed by a user"
REMOVED_IDENTITY = "identity removed by a user"


@dataclass(frozen=True)
class Link:
    """A link between two identities (`a` < `b` within their record's anchor order), with why it exists."""

    a: str
    b: str
    a_key: int
    b_key: int
    first_seen: datetime | None
    last_seen: datetime | None
    records: int
    record: str
    dataset: str
    batch: str
    rule: str
    active: bool = True
    dropped_by: str | None = None


def micros(moment: datetime | None) -> int:
    """Microseconds since 1970 (UTC); what the rules compare times by (0 when a time is missing)."""
    if moment is None:
        return 0
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def unique_rule_order(
    last_seen: datetime | None, first_seen: datetime | None, a: str, b: str
) -> tuple[bool, int, bool, int, str, str]:
    """A link's place in the order the unique-namespace rule takes links (sort ascending).

    Most recently seen first (`last_seen`, latest first); then the newer link (`first_seen`, latest
    first); links without a time after those with one; then by the identities' names (`a`, then `b`,
    as `namespace` + U+001F + `id`, compared by code points). A total order: no two links share `a`
    and `b`."""
    return (last_seen is None, -micros(last_seen), first_seen is None, -micros(first_seen), a, b)


def link_order(link: Link) -> tuple[bool, int, bool, int, str, str]:
    return unique_rule_order(link.last_seen, link.first_seen, link.a, link.b)


def eviction_order(type_rank: int, seen: datetime | None, node: str) -> tuple[int, bool, int, str]:
    """First to leave an oversized graph first (sort ascending): by type (`TYPE_EVICTION_ORDER`), then
    never seen before seen, then the longest unseen (`seen`: the latest `last_seen` of the identity's
    links, whether they count or not), then by the identity's name (code points)."""
    return (type_rank, seen is not None, micros(seen), node)


def mark_removed(links: list[Link], removed_links: set[tuple[str, str]], removed_nodes: set[str]) -> list[Link]:
    out = []
    for link in links:
        if tuple(sorted((link.a, link.b))) in removed_links:
            out.append(replace(link, active=False, dropped_by=REMOVED_LINK))
        elif link.a in removed_nodes or link.b in removed_nodes:
            out.append(replace(link, active=False, dropped_by=REMOVED_IDENTITY))
        else:
            out.append(replace(link, active=True, dropped_by=None))
    return out


def solve(
    names: dict[int, str], links: list[Link], unique: tuple[str, ...], limit: int, types: dict[str, str]
) -> tuple[dict[int, int], dict[int, int], list[Link]]:
    """(raw component, graph) of every identity key, and the links with the rules' marks.

    `names` maps every identity key of the group to its name (`namespace` + U+001F + `id`); `links`
    are the group's links already marked for user removals. The raw component is the connected
    component of the links a user did not remove; the graph is what is left after the unique-namespace
    rule (`unique_rule_order`) and the graph size limit (`eviction_order`)."""
    namespaces = {key: name.split(SEPARATOR, 1)[0] for key, name in names.items()}
    parent = {key: key for key in namespaces}

    def find(key: int) -> int:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for link in links:
        if link.active:
            left, right = find(link.a_key), find(link.b_key)
            if left != right:
                parent[max(left, right)] = min(left, right)
    raw = {key: find(key) for key in namespaces}
    raw = _smallest_labels(raw)

    parent = {key: key for key in namespaces}
    held = {key: ({ns: key} if ns in unique else {}) for key, ns in namespaces.items()}
    marks: dict[tuple[int, int], str] = {}
    for link in sorted((x for x in links if x.active), key=link_order):
        left, right = find(link.a_key), find(link.b_key)
        if left == right:
            continue
        clash = next((ns for ns in held[left] if ns in held[right] and held[left][ns] != held[right][ns]), None)
        if clash is not None:
            marks[(link.a_key, link.b_key)] = f"unique namespace {clash}"
            continue
        parent[right] = left
        held[left] = held[left] | held.pop(right)
    graph = _smallest_labels({key: find(key) for key in namespaces})

    seen: dict[int, datetime | None] = {}
    for link in links:
        for key in (link.a_key, link.b_key):
            if link.last_seen is not None and (seen.get(key) is None or link.last_seen > seen[key]):  # type: ignore[operator]
                seen[key] = link.last_seen
    members: dict[int, list[int]] = {}
    for key, label in graph.items():
        members.setdefault(label, []).append(key)
    evicted: set[int] = set()
    for group in members.values():
        if len(group) <= limit:
            continue
        ordered = sorted(group, key=lambda k: eviction_order(
            TYPE_EVICTION_ORDER.get(types.get(namespaces[k], ""), 3), seen.get(k), names[k]))  # fmt: skip
        leaving, staying = ordered[: len(group) - limit], ordered[len(group) - limit :]
        evicted.update(leaving)
        graph.update({k: k for k in leaving})
        graph.update({k: min(staying) for k in staying})
    limit_reason = f"graph limit of {limit} identities"
    marked = []
    for link in links:
        if link.active and (link.a_key, link.b_key) in marks:
            link = replace(link, active=False, dropped_by=marks[(link.a_key, link.b_key)])
        if link.active and (link.a_key in evicted or link.b_key in evicted):
            link = replace(link, active=False, dropped_by=limit_reason)
        marked.append(link)
    return raw, graph, marked


def _smallest_labels(roots: dict[int, int]) -> dict[int, int]:
    """Relabel each group by its smallest key, as the engine's label propagation does."""
    smallest: dict[int, int] = {}
    for key, root in roots.items():
        smallest[root] = min(smallest.get(root, key), key)
    return {key: smallest[root] for key, root in roots.items()}
