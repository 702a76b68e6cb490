"""References between segments (`inSegment`): finding them, following them, inlining them.

A definition that refers to others is evaluated with their trees inlined, each wrapped in a
`Membership` node: a profile is in an audience or it is not (two-valued), whatever unknowns the
audience's own condition meets. References form a graph that must have no cycle: definitions are
refused when saved if they would close one, and a catalog that holds one from before is reported
by segment names when evaluated."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import fields, replace
from typing import Any

from accord.errors import InvalidInputError, NotFoundError
from accord.segment.ast import Call, Literal, Membership, Node, Position, Window, children

CYCLE_HINT = "change one of them with `accord segment update` (or PUT /segment/definitions/{name})"


def references(tree: Node) -> list[Call]:
    """Every `inSegment(...)` of a tree, in the order written."""
    found: list[Call] = []
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Call) and node.name == "inSegment":
            found.append(node)
        stack.extend(reversed(children(node)))
    return found


def referred_name(call: Call) -> str:
    """The name or id an `inSegment(...)` names (the checker makes sure it is a string)."""
    target = call.args[0]
    assert isinstance(target, Literal) and isinstance(target.value, str)
    return target.value


def cycle_from(start: str, edges: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A way from `start` into a cycle, ending where the cycle closes (`[a, b, c, b]`), or None.

    Walked without recursion: a long chain of segments does not run out of stack."""
    path, on_path, done = [start], {start}, set()
    pending: list[Iterator[str]] = [iter(edges.get(start, ()))]
    while pending:
        step = next(pending[-1], None)
        if step is None:
            pending.pop()
            done.add(path[-1])
            on_path.discard(path.pop())
        elif step in on_path:
            return [*path, step]
        elif step not in done:
            path.append(step)
            on_path.add(step)
            pending.append(iter(edges.get(step, ())))
    return None


def describe_cycle(path: Sequence[str]) -> str:
    """`a -> b -> a` for the cycle at the end of a path from `cycle_from`."""
    return " -> ".join(path[path.index(path[-1]) :])


def inline(tree: Node, lookup: Callable[[str], tuple[str, Node] | None], trail: tuple[str, ...]) -> Node:
    """The tree with every `inSegment(x)` replaced by `Membership(x, x's tree, itself inlined)`.

    `lookup` gives a segment's name and tree by its name or id; `trail` holds the names of the
    segments being inlined, outermost (the definition itself) first. A missing segment or a cycle
    is an error naming the segments by name."""

    def walk(node: Any) -> Any:
        if isinstance(node, Call) and node.name == "inSegment":
            wanted = referred_name(node)
            found = lookup(wanted)
            if found is None:
                raise NotFoundError(f"segment {trail[-1]!r} refers to a missing segment {wanted!r}",
                                    code="SEGMENT-0405-404", segment=trail[-1], missing=wanted)  # fmt: skip
            name, target = found
            if name in trail:
                cycle = describe_cycle([*trail, name])
                raise InvalidInputError(f"segments refer to each other in a cycle: {cycle}; {CYCLE_HINT}",
                                        code="SEGMENT-0406-400", cycle=cycle)  # fmt: skip
            return Membership(node.pos, name, inline(target, lookup, (*trail, name)))
        if isinstance(node, Literal | Position | Window) or not hasattr(node, "__dataclass_fields__"):
            return node
        changes: dict[str, Any] = {}
        for field in fields(node):
            value = getattr(node, field.name)
            if isinstance(value, tuple):
                changes[field.name] = tuple(walk(item) for item in value)
            elif hasattr(value, "__dataclass_fields__"):
                changes[field.name] = walk(value)
        return replace(node, **changes)

    result: Node = walk(tree)
    return result
