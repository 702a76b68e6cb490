"""Exclusion: the incoming population without the populations of the activities it names."""

from __future__ import annotations

from pydantic import Field

from accord.campaign.exceptions import CampaignInputError
from accord.campaign.workflows.spec import Activity, ActivityOptions, ActivityResult, ActivitySpec, Inputs, RunContext


class ExclusionOptions(ActivityOptions):
    exclude: list[str] = Field(min_length=1, description="Activities before this one whose recipients are taken out.")


class Exclusion(Activity[ExclusionOptions]):
    spec = ActivitySpec(
        name="exclusion",
        description="The incoming recipients less those handed on by the activities named in `exclude`.",
        options=ExclusionOptions,
    )

    def named_inputs(self) -> list[str]:
        return list(self.options.exclude)

    def run(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        missing = [name for name in self.options.exclude if name not in inputs.outputs]
        if missing:
            raise CampaignInputError(f"activity {context.activity!r} excludes {', '.join(missing)}, which do not lead "
                                     "to it: add a transition from each to it", activity=context.activity)  # fmt: skip
        kept = inputs.population(without=tuple(self.options.exclude))
        excluded = set().union(*(inputs.outputs[name].get("population", ()) for name in self.options.exclude))
        before = len(kept)
        kept -= excluded
        return ActivityResult.of_population(kept, excluded=before - len(kept))
