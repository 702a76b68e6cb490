"""What every workflow activity is: a spec as data (its type name, options model, what it takes in and gives
out) and a small class whose `run` turns its inputs into counts and an output.

An activity is one module of `accord.campaign.workflows.activities` (or a third party's package) declared
in the entry point group `accord.campaign_activities`, as connectors are in `accord.sources`. A population
passes between activities as a set of recipient ids, kept in the activity run's output: a query or a split of
100,000 recipients is one statement and a set operation in memory, never a round trip per recipient.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from accord.access import AllowedRoots
    from accord.campaign.engine import CampaignEngine
    from accord.sources import SecretBox

Flow = Literal["nothing", "population", "files", "anything"]
"""What passes along a transition: no data, a population (recipient ids), or collected files."""


class ActivityOptions(BaseModel):
    """The base of every activity's options: unknown keys are refused, names are camelCase in documents."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


OptionsT = TypeVar("OptionsT", bound=ActivityOptions)


@dataclass(frozen=True)
class ActivitySpec:
    """An activity type as data: what a workflow document may say of it, and what it needs and gives."""

    name: str
    description: str
    options: type[ActivityOptions]
    takes: Flow = "population"
    """What the activity reads from the activities before it."""
    gives: Flow = "population"
    """What it hands on to the activities after it."""
    starts: bool = False
    """A workflow's start (the scheduler): nothing comes before it."""
    named_outputs: bool = False
    """Its transitions go from named outputs (`next: {output: [activities]}`), as a split's do."""

    def to_document(self) -> dict[str, Any]:
        return {"type": self.name, "description": self.description, "takes": self.takes, "gives": self.gives,
                "starts": self.starts, "namedOutputs": self.named_outputs,
                "options": self.options.model_json_schema(by_alias=True)}  # fmt: skip


@dataclass
class Inputs:
    """What the activities before one handed on: each predecessor's output, by its name."""

    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def population(self, *, without: tuple[str, ...] = ()) -> set[int]:
        """The union of the populations handed on, leaving out those of the activities named in `without`."""
        ids: set[int] = set()
        for name, output in self.outputs.items():
            if name not in without:
                ids.update(output.get("population", ()))
        return ids

    def files(self) -> list[dict[str, Any]]:
        """The files handed on, in the order they came (each a dict with at least `name` and `path`)."""
        return [file for output in self.outputs.values() for file in output.get("files", ())]

    @property
    def given(self) -> bool:
        """Whether anything came before (a query with no input reads all recipients)."""
        return bool(self.outputs)


@dataclass
class RunContext:
    """Where an activity runs: the engine, its run, the time, and a folder of the run's own for files."""

    engine: CampaignEngine
    workflow_id: int
    workflow: str
    run_id: int
    activity: str
    now: datetime
    workdir: Path


@dataclass
class ActivityResult:
    """What an activity did (counts, as the run shows them) and what it hands on (`population`, `files`,
    `outputs` for named outputs); `wait_until` holds the run until then."""

    counts: dict[str, int] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    wait_until: datetime | None = None

    @classmethod
    def of_population(cls, ids: set[int] | list[int], **counts: int) -> ActivityResult:
        ordered = sorted(ids)
        return cls({"population": len(ordered), **counts}, {"population": ordered})


class Activity(ABC, Generic[OptionsT]):
    """One activity of a workflow: its options checked by its spec's model, and `run`."""

    spec: ClassVar[ActivitySpec]

    def __init__(self, options: OptionsT) -> None:
        self.options = options

    @abstractmethod
    def run(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        """Do the activity's work; raise an `AccordError` saying what is wrong when it cannot."""

    def stored_options(
        self, given: dict[str, Any], box: Callable[[], SecretBox], roots: AllowedRoots
    ) -> dict[str, Any]:
        """The options as the workflow is stored: secrets sealed with the home's key, never kept in clear
        (raise a DocumentError, paths relative to the options, for what the checks refuse)."""
        return given

    def local_paths(self) -> dict[str, str]:
        """The local paths its options name, by option: each must lie inside the allowed roots."""
        return {}

    def branch_outputs(self) -> list[str]:
        """The names of the outputs its transitions may leave from (for an activity with named outputs)."""
        return []

    def named_inputs(self) -> list[str]:
        """The activities its options name as inputs (an exclusion's `exclude`): each must lead to it."""
        return []
