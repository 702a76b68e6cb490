"""Wait: hold the run for a while, then hand the population on. The run is left waiting in the database
and the scheduler of `accord serve` resumes it when the time comes: no thread sleeps for hours."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import Field, field_validator

from accord.campaign.workflows.spec import Activity, ActivityOptions, ActivityResult, ActivitySpec, Inputs, RunContext

DURATION = re.compile(r"^(\d+)\s*([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class WaitOptions(ActivityOptions):
    duration: str = Field(description="How long: a number and a unit, s, m, h or d (`30m`, `2h`, `3d`).")

    @field_validator("duration")
    @classmethod
    def _known(cls, value: str) -> str:
        match = DURATION.match(value.strip())
        if not match or int(match.group(1)) > 366 * 86400:
            raise ValueError("a duration is a number and a unit, s, m, h or d (`30m`, `2h`, `3d`)")
        return value.strip()

    def delta(self) -> timedelta:
        match = DURATION.match(self.duration)
        assert match is not None
        return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


class Wait(Activity[WaitOptions]):
    spec = ActivitySpec(
        name="wait",
        description="Hold the run for a duration; the population goes on afterwards.",
        options=WaitOptions,
        takes="anything",
        gives="anything",
    )

    def run(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        population, files = sorted(inputs.population()), inputs.files()
        output = {"population": population, **({"files": files} if files else {})}
        counts = {"population": len(population)}
        return ActivityResult(counts, output, wait_until=context.now + self.options.delta())
