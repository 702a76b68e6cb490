"""Workflow documents: a name, an optional schedule, and activities joined by transitions.

```yaml
name: welcome
schedule: {frequency: daily, at: "06:00"}
activities:
  - {name: newcomers, type: query, options: {filter: {field: custom.joined, op: eq, value: "2026-11"}}, next: [vip]}
  - name: vip
    type: split
    options: {branches: [{name: gold, filter: {field: custom.tier, op: eq, value: gold}}], remainder: others}
    next: {gold: [mail-gold], others: [mail-others]}
  - {name: mail-gold, type: delivery, options: {delivery: welcome-gold}}
  - {name: mail-others, type: delivery, options: {delivery: welcome}}
```

A document is checked whole, and every problem is raised at once with its path (`activities[2].next[0]`,
`activities[1].options.branches[0].percent`): an unknown activity type (listing the known ones), a
transition to no activity, a cycle (naming its activities), an activity that cannot be reached from the
start, options missing or of the wrong type (each activity's options are a pydantic model). Text that is
not YAML or JSON is refused with its line and column.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accord.campaign.exceptions import CampaignInputError
from accord.campaign.workflows.registry import activity_class, activity_types
from accord.campaign.workflows.spec import Activity, ActivityOptions, ActivitySpec
from accord.errors import DocumentError, did_you_mean, validation_problems

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
CODE = "CAMPAIGN-0410-400"


class ActivityDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME.pattern, description="Unique in the workflow: letters, digits, '_', '.', '-'.")
    type: str = Field(description="The activity's type (see `list_activities`).")
    options: dict[str, Any] = Field(default_factory=dict, description="The activity's own options.")
    next: list[str] | dict[str, list[str]] = Field(
        default_factory=list, description="The activities that run after this one; by output for a split."
    )

    def targets(self) -> list[str]:
        if isinstance(self.next, dict):
            return [t for targets in self.next.values() for t in targets]
        return list(self.next)


class WorkflowDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME.pattern)
    label: str = ""
    schedule: dict[str, Any] | None = Field(
        default=None, description="When the workflow starts by itself: the options of a scheduler activity."
    )
    activities: list[ActivityDocument] = Field(min_length=1)


class Workflow:
    """A checked workflow: its document, and each activity built from its options."""

    def __init__(self, document: WorkflowDocument, activities: dict[str, Activity]) -> None:  # type: ignore[type-arg]
        self.document = document
        self.activities = activities

    @property
    def name(self) -> str:
        return self.document.name

    def predecessors(self, name: str) -> list[tuple[str, str | None]]:
        """The activities whose transitions lead to `name`, each with the output it leaves from (or None)."""
        found: list[tuple[str, str | None]] = []
        for activity in self.document.activities:
            if isinstance(activity.next, dict):
                found += [(activity.name, output) for output, targets in activity.next.items() if name in targets]
            elif name in activity.next:
                found.append((activity.name, None))
        return found

    def order(self) -> list[str]:
        """The activities in an order where each comes after all those before it (the document's, where free)."""
        placed: list[str] = []
        waiting = [a.name for a in self.document.activities]
        while waiting:
            ready = next(n for n in waiting if all(p in placed for p, _ in self.predecessors(n)))
            placed.append(ready)
            waiting.remove(ready)
        return placed


def parse_text(text: str, what: str = "the workflow document") -> Any:
    """A YAML or JSON text as data; not one, a clear error with its line and column."""
    import yaml

    try:
        return json.loads(text) if text.lstrip().startswith(("{", "[")) else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        problem = {"path": "", "message": f"not valid JSON: {exc.msg}", "line": exc.lineno, "column": exc.colno}
        raise DocumentError(what, [problem], code=CODE) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = {"line": mark.line + 1, "column": mark.column + 1} if mark is not None else {}
        message = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        raise DocumentError(what, [{"path": "", "message": message, **where}], code=CODE) from None
    except RecursionError:
        raise DocumentError(what, [{"path": "", "message": "the document is nested too deeply"}], code=CODE) from None


def check_workflow(document: Any) -> Workflow:
    """The workflow a document describes, or a DocumentError with every problem it has."""
    if isinstance(document, str):
        document = parse_text(document)
    try:
        parsed = WorkflowDocument.model_validate(document)
    except ValidationError as exc:
        raise DocumentError("the workflow document", validation_problems(exc.errors()), code=CODE) from None
    problems: list[dict[str, Any]] = []

    def problem(path: str, message: str) -> None:
        problems.append({"path": path, "message": message})

    built = _build_activities(parsed, problem)
    _check_transitions(parsed, built, problem)
    if parsed.schedule is not None:
        _options(activity_class("scheduler"), parsed.schedule, "schedule", problem)
    if problems:
        raise DocumentError(f"workflow {parsed.name!r}", problems, code=CODE)
    return Workflow(parsed, built)


def _build_activities(parsed: WorkflowDocument, problem: Any) -> dict[str, Activity]:  # type: ignore[type-arg]
    built: dict[str, Activity] = {}  # type: ignore[type-arg]
    seen: set[str] = set()
    known = activity_types()
    for index, activity in enumerate(parsed.activities):
        path = f"activities[{index}]"
        if activity.name in seen:
            problem(f"{path}.name", f"a second activity named {activity.name!r}: names are unique in a workflow")
        seen.add(activity.name)
        if activity.type not in known:
            problem(f"{path}.type", f"unknown activity type {activity.type!r}{did_you_mean(activity.type, known)}; "
                    f"known: {', '.join(known)}")  # fmt: skip
            continue
        cls = activity_class(activity.type)
        options = _options(cls, activity.options, f"{path}.options", problem)
        if options is not None:
            built.setdefault(activity.name, cls(options))
    return built


def _options(cls: type[Activity], given: dict[str, Any], path: str, problem: Any) -> ActivityOptions | None:  # type: ignore[type-arg]
    try:
        return cls.spec.options.model_validate(given)
    except ValidationError as exc:
        for found in validation_problems(exc.errors(), prefix=f"{path}."):
            problem(found["path"].rstrip("."), found["message"])
        return None
    except CampaignInputError as exc:  # a check of the options beyond their types
        problem(path, exc.message)
        return None


def _check_transitions(parsed: WorkflowDocument, built: dict[str, Activity], problem: Any) -> None:  # type: ignore[type-arg]
    names = [a.name for a in parsed.activities]
    edges: dict[str, list[str]] = {name: [] for name in names}
    specs = {a.name: activity_class(a.type).spec for a in parsed.activities if a.type in activity_types()}
    for index, activity in enumerate(parsed.activities):
        path = f"activities[{index}].next"
        instance = built.get(activity.name)
        known = activity.type in activity_types()
        named = known and activity_class(activity.type).spec.named_outputs
        if isinstance(activity.next, dict) and known and not named:
            problem(path, f"a {activity.type} has one output: write `next` as a list of activities")
        elif isinstance(activity.next, list) and named and activity.next:
            problem(path, f"a {activity.type}'s transitions leave from its outputs: write `next` as "
                    "{output: [activities]}")  # fmt: skip
        elif isinstance(activity.next, dict) and instance is not None and named:
            outputs = instance.branch_outputs()  # type: ignore[union-attr]
            for output in activity.next:
                if output not in outputs:
                    problem(f"{path}.{output}", f"{activity.name!r} has no output {output!r}; outputs: "
                            f"{', '.join(outputs)}")  # fmt: skip
        for position, target in enumerate(activity.targets()):
            where = path + _output_of(activity.next, position)
            if target not in edges:
                problem(where, f"no activity named {target!r}{did_you_mean(target, names)}")
            elif target in specs and specs[target].starts:
                problem(where, f"{target!r} is a {specs[target].name}: a workflow's start, nothing leads to it")
            else:
                edges[activity.name].append(target)
                mismatch = _mismatch(specs.get(activity.name), specs.get(target))
                if mismatch:
                    problem(where, f"{target!r} ({specs[target].name}) takes {mismatch[1]}, and {activity.name!r} "
                            f"({activity.type}) gives {mismatch[0]}")  # fmt: skip
    starts = [name for name, spec in specs.items() if spec.starts]
    if len(starts) > 1:
        problem("activities", f"a workflow has one start; schedulers: {', '.join(starts)}")
    if starts and parsed.schedule is not None:
        problem("schedule", f"the workflow has a scheduler activity ({starts[0]!r}): give its schedule there only")
    for index, activity in enumerate(parsed.activities):
        instance = built.get(activity.name)
        for position, source in enumerate(instance.named_inputs() if instance is not None else []):
            if activity.name not in edges.get(source, []):
                hint = (
                    did_you_mean(source, names)
                    if source not in edges
                    else f": add a transition from it to {activity.name!r}"
                )
                problem(f"activities[{index}].options", f"{activity.name!r} names {source!r} (at {position}), which "
                        f"does not lead to it{hint}")  # fmt: skip
    cycle = _cycle(names, edges)
    if cycle:
        problem("activities", f"a cycle: {' -> '.join([*cycle, cycle[0]])}; a workflow runs forward only")
        return
    # Without a scheduler, every activity that needs nothing and that nothing leads to is a start.
    led_to = {t for targets in edges.values() for t in targets}
    if not starts:
        starts = [n for n in names if n not in led_to and n in specs and specs[n].takes in ("nothing", "anything")]
    reached = set().union(*(_reachable(start, edges) for start in starts)) if starts else set()
    for index, name in enumerate(names):
        if name not in reached and name in specs:
            whence = ", ".join(map(repr, starts)) or "any start"
            problem(f"activities[{index}]", f"{name!r} cannot be reached from {whence}: no transition leads to it")


def _mismatch(source: ActivitySpec | None, target: ActivitySpec | None) -> tuple[str, str] | None:
    """(what `source` gives, what `target` takes) when the one cannot be the other, else None."""
    if source is None or target is None or "anything" in (source.gives, target.takes):
        return None
    if target.takes in ("files", "population") and source.gives != target.takes:
        said = {"files": "files", "population": "a population", "nothing": "nothing"}
        return said[source.gives], said[target.takes]
    return None


def _output_of(next_: list[str] | dict[str, list[str]], position: int) -> str:
    if isinstance(next_, list):
        return f"[{position}]"
    for output, targets in next_.items():
        if position < len(targets):
            return f".{output}[{position}]"
        position -= len(targets)
    return ""


def _cycle(names: list[str], edges: dict[str, list[str]]) -> list[str]:
    """The activities of one cycle in transition order, or [] when there is none."""
    state: dict[str, int] = {}  # 1 on the path being walked, 2 done
    path: list[str] = []

    def walk(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for target in edges[name]:
            if state.get(target) == 1:
                return path[path.index(target) :]
            if target not in state:
                found = walk(target)
                if found:
                    return found
        state[name] = 2
        path.pop()
        return []

    for name in names:
        if name not in state:
            found = walk(name)
            if found:
                return found
    return []


def _reachable(start: str, edges: dict[str, list[str]]) -> set[str]:
    reached, waiting = {start}, [start]
    while waiting:
        for target in edges[waiting.pop()]:
            if target not in reached:
                reached.add(target)
                waiting.append(target)
    return reached
