"""Query: the recipients a filter picks (within the population handed on, when one is)."""

from __future__ import annotations

from pydantic import Field

from accord.campaign.queries import RecipientFilter, matching_ids
from accord.campaign.workflows.spec import Activity, ActivityOptions, ActivityResult, ActivitySpec, Inputs, RunContext


class QueryOptions(ActivityOptions):
    filter: RecipientFilter = Field(description="Which recipients (see docs/campaign.md, Workflows: filters).")


class Query(Activity[QueryOptions]):
    spec = ActivitySpec(
        name="query",
        description="The recipients a filter picks; within the incoming population when there is one.",
        options=QueryOptions,
        takes="anything",
    )

    def run(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        with context.engine.database.session() as session:
            ids = matching_ids(session, self.options.filter)
        if inputs.given and any("population" in o for o in inputs.outputs.values()):
            ids &= inputs.population()
        return ActivityResult.of_population(ids)
