"""Split: the incoming population into named outputs, by filter, by percentage or by count, each recipient
into the first branch that takes it; what no branch takes goes to `remainder` (when named)."""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field, model_validator

from accord.campaign.queries import RecipientFilter, matching_ids
from accord.campaign.workflows.spec import Activity, ActivityOptions, ActivityResult, ActivitySpec, Inputs, RunContext


class Branch(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="The output's name.")
    filter: RecipientFilter | None = Field(default=None, description="Recipients this filter picks.")
    percent: float | None = Field(default=None, gt=0, le=100, description="This share of those left, drawn at random.")
    count: int | None = Field(default=None, ge=1, description="At most this many of those left, drawn at random.")

    @model_validator(mode="after")
    def _one_rule(self) -> Branch:
        if sum(x is not None for x in (self.filter, self.percent, self.count)) != 1:
            raise ValueError("a branch takes recipients by one of: filter, percent, count")
        return self


class SplitOptions(ActivityOptions):
    branches: list[Branch] = Field(min_length=1, description="The outputs, taken in this order.")
    remainder: str | None = Field(default=None, description="The output of the recipients no branch took.")
    seed: int = Field(default=0, description="Seed of the random draws, so that a resumed run draws the same.")

    @model_validator(mode="after")
    def _unique(self) -> SplitOptions:
        names = [b.name for b in self.branches] + ([self.remainder] if self.remainder else [])
        if len(set(names)) != len(names):
            raise ValueError("the outputs of a split (branches and remainder) have different names")
        return self


class Split(Activity[SplitOptions]):
    spec = ActivitySpec(
        name="split",
        description="The incoming recipients into named outputs by filter, percentage or count.",
        options=SplitOptions,
        named_outputs=True,
    )

    def branch_outputs(self) -> list[str]:
        return [b.name for b in self.options.branches] + ([self.options.remainder] if self.options.remainder else [])

    def run(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        left = inputs.population()
        draw = random.Random(f"{self.options.seed}:{context.workflow}:{context.activity}:{context.run_id}")
        outputs: dict[str, dict[str, list[int]]] = {}
        for branch in self.options.branches:
            if branch.filter is not None:
                with context.engine.database.session() as session:
                    taken = left & matching_ids(session, branch.filter)
            else:
                size = branch.count if branch.count is not None else round(len(left) * (branch.percent or 0) / 100)
                taken = set(draw.sample(sorted(left), min(size, len(left))))
            left -= taken
            outputs[branch.name] = {"population": sorted(taken)}
        if self.options.remainder:
            outputs[self.options.remainder] = {"population": sorted(left)}
        counts = {name: len(o["population"]) for name, o in outputs.items()}
        return ActivityResult(counts, {"outputs": outputs})
