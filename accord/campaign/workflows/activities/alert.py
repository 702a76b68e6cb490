"""Alert: POST a JSON message to a webhook (the workflow, the run, the activity, the population's size),
tried again with back-off on a 408, 429, 5xx or a network error, as the sources' alerts are."""

from __future__ import annotations

from pydantic import AnyHttpUrl, Field

from accord.campaign.exceptions import ActivityFailedError
from accord.campaign.workflows.spec import Activity, ActivityOptions, ActivityResult, ActivitySpec, Inputs, RunContext
from accord.retries import RetryableAnswer, RetryPolicy, retrying, worth_retrying


class AlertOptions(ActivityOptions):
    url: AnyHttpUrl = Field(description="The webhook the alert is POSTed to.")
    message: str = Field(default="", max_length=2000, description="What the alert says.")
    attempts: int = Field(default=3, ge=1, le=10, description="Tries in all.")
    backoff_seconds: float = Field(default=1.0, ge=0, le=600, alias="backoffSeconds")


class Alert(Activity[AlertOptions]):
    spec = ActivitySpec(
        name="alert",
        description="POST a message to a webhook; the population goes on unchanged.",
        options=AlertOptions,
        takes="anything",
    )

    def run(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        import httpx

        population = sorted(inputs.population())
        body = {"workflow": context.workflow, "run": context.run_id, "activity": context.activity,
                "message": self.options.message, "population": len(population),
                "at": context.now.isoformat()}  # fmt: skip
        policy = RetryPolicy(attempts=self.options.attempts, initial_wait=self.options.backoff_seconds,
                             max_wait=max(30.0, self.options.backoff_seconds))  # fmt: skip
        try:
            for attempt in retrying(policy):
                with attempt:
                    response = httpx.post(str(self.options.url), json=body, timeout=10)
                    if worth_retrying(response.status_code):
                        raise RetryableAnswer(response)
        except RetryableAnswer as exc:
            message = f"the webhook answered HTTP {exc.response.status_code}"
            raise ActivityFailedError(context.activity, message) from None
        except httpx.HTTPError as exc:
            message = f"the webhook could not be reached: {type(exc).__name__}"
            raise ActivityFailedError(context.activity, message) from None
        if response.status_code >= 300:
            raise ActivityFailedError(context.activity, f"the webhook refused the alert: HTTP {response.status_code}")
        return ActivityResult({"population": len(population), "sent": 1}, {"population": population})
