"""Scheduler: a workflow's start, once, every N hours, or daily at a time (UTC).

The scheduler itself does nothing when the run starts; `accord serve` asks `due_workflows` which
workflows' time has come and starts them."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Literal

from pydantic import Field, model_validator

from accord.campaign.workflows.spec import Activity, ActivityOptions, ActivityResult, ActivitySpec, Inputs, RunContext


class SchedulerOptions(ActivityOptions):
    frequency: Literal["once", "minutes", "hourly", "daily"] = Field(
        default="once",
        description="Once (at `start`, or at once), every `every` minutes or hours, or daily `at` a time.",
    )
    every: int = Field(default=1, ge=1, le=24 * 31, description="Minutes (or hours, when hourly) between two runs.")
    at: time | None = Field(default=None, description="HH:MM (UTC) of a daily run.")
    start: datetime | None = Field(default=None, description="The first moment the workflow may start (UTC).")

    @model_validator(mode="after")
    def _daily_has_a_time(self) -> SchedulerOptions:
        if self.frequency == "daily" and self.at is None:
            raise ValueError("a daily schedule says `at` what time (HH:MM, UTC)")
        return self

    def due(self, now: datetime, last: datetime | None, since: datetime) -> bool:
        """Whether a run should start at `now`, given the last scheduled start (None: never) and when the
        workflow was made (the start of a schedule without `start`)."""
        begin = self.start or since
        if now < begin:
            return False
        if self.frequency == "once":
            return last is None
        if self.frequency == "hourly":
            return last is None or now >= last + timedelta(hours=self.every)
        if self.frequency == "minutes":
            return last is None or now >= last + timedelta(minutes=self.every)
        assert self.at is not None
        slot = datetime.combine(now.date(), self.at, tzinfo=now.tzinfo)
        if slot > now:
            slot -= timedelta(days=1)
        return slot >= begin and (last is None or last < slot)


class Scheduler(Activity[SchedulerOptions]):
    spec = ActivitySpec(
        name="scheduler",
        description="The workflow's start: once, every N minutes or hours, or daily at a time (UTC).",
        options=SchedulerOptions,
        takes="nothing",
        gives="nothing",
        starts=True,
    )

    def run(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        return ActivityResult({}, {})
