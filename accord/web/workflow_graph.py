"""A workflow's activities laid out as a graph for the workflow page's inline SVG: layers from left to right
(an activity one layer after the furthest of those leading to it), the activities of a layer one under the
other in the document's order, and each transition a curve from the right side of one box to the left side
of the next. The template draws what this computes; the page also gives the same as a table."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

NODE_WIDTH, NODE_HEIGHT = 176, 72
COLUMN_GAP, ROW_GAP, MARGIN = 56, 24, 8
NAME_CHARS = 22


@dataclass(frozen=True)
class GraphNode:
    name: str
    label: str
    """The name as the box shows it (cut to fit)."""
    type: str
    x: int
    y: int
    status: str | None
    """The activity's status in the run shown (None: not run, or no run shown)."""
    counts: dict[str, Any]

    @property
    def headline(self) -> tuple[str, Any] | None:
        """The count the box shows: the population it passes on, when it has one, else its first count."""
        if "population" in self.counts:
            return "population", self.counts["population"]
        return min(self.counts.items(), default=None)


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str
    output: str | None
    """The named output the transition leaves from (a split's branch), if any."""
    path: str
    """The SVG path's `d`."""
    label_x: int
    label_y: int


@dataclass(frozen=True)
class WorkflowGraph:
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    width: int
    height: int
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT


def transitions(activity: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Where an activity leads: each next activity, with the named output it leaves from (or None)."""
    following = activity.get("next") or []
    if isinstance(following, dict):
        return [(target, output) for output, targets in following.items() for target in targets]
    return [(target, None) for target in following]


def layers(activities: list[dict[str, Any]]) -> dict[str, int]:
    """Each activity's layer: 0 for those nothing leads to, else one more than the furthest leading to it."""
    names = [a["name"] for a in activities]
    leads = {a["name"]: [t for t, _ in transitions(a) if t in names] for a in activities}
    waiting = dict.fromkeys(names, 0)
    for targets in leads.values():
        for target in targets:
            waiting[target] += 1
    layer = dict.fromkeys(names, 0)
    ready = deque(n for n in names if waiting[n] == 0)
    while ready:
        name = ready.popleft()
        for target in leads[name]:
            layer[target] = max(layer[target], layer[name] + 1)
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    return layer  # a stored workflow has no cycle (its check refuses one); were there one, it stays in layer 0


def workflow_graph(activities: list[dict[str, Any]], run_activities: list[dict[str, Any]] | None = None
                   ) -> WorkflowGraph:  # fmt: skip
    """The graph of a workflow's activities; `run_activities`: a run's activity records, whose latest per
    activity gives each box its status and counts."""
    latest = {a["activity"]: a for a in run_activities or ()}  # a resumed run records an activity again
    layer = layers(activities)
    rows: dict[int, int] = {}
    place: dict[str, tuple[int, int]] = {}
    nodes = []
    for activity in activities:
        name = activity["name"]
        column = layer[name]
        row = rows[column] = rows.get(column, -1) + 1
        x, y = MARGIN + column * (NODE_WIDTH + COLUMN_GAP), MARGIN + row * (NODE_HEIGHT + ROW_GAP)
        place[name] = (x, y)
        ran = latest.get(name)
        label = name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"
        nodes.append(GraphNode(name, label, activity.get("type", ""), x, y, ran["status"] if ran else None,
                               dict(ran["counts"] or {}) if ran else {}))  # fmt: skip
    edges = []
    for activity in activities:
        x1, y1 = place[activity["name"]]
        for target, output in transitions(activity):
            if target not in place:
                continue
            x2, y2 = place[target]
            start, end = (x1 + NODE_WIDTH, y1 + NODE_HEIGHT // 2), (x2, y2 + NODE_HEIGHT // 2)
            middle = (start[0] + end[0]) // 2
            path = f"M{start[0]} {start[1]} C{middle} {start[1]} {middle} {end[1]} {end[0] - 2} {end[1]}"
            edges.append(GraphEdge(activity["name"], target, output, path, middle, (start[1] + end[1]) // 2 - 4))
    columns = max(layer.values(), default=0) + 1
    most_rows = max(rows.values(), default=0) + 1
    width = 2 * MARGIN + columns * NODE_WIDTH + (columns - 1) * COLUMN_GAP
    height = 2 * MARGIN + most_rows * NODE_HEIGHT + (most_rows - 1) * ROW_GAP
    return WorkflowGraph(nodes, edges, width, height)
