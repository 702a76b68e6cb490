"""Log export: the delivery and tracking logs since the last export, as files for the CDP's source to ingest
(`accord.campaign.logs.export_logs`); the instance's `log-export` workflow runs it every 15 minutes."""

from __future__ import annotations

from pydantic import Field

from accord.campaign.logs import export_logs
from accord.campaign.workflows.spec import Activity, ActivityOptions, ActivityResult, ActivitySpec, Inputs, RunContext


class LogExportOptions(ActivityOptions):
    settle_seconds: float | None = Field(
        default=None, ge=0, le=3600, alias="settleSeconds",
        description="How old a log row must be to go (default: the setting `campaign_log_settle_seconds`).",
    )  # fmt: skip


class LogExport(Activity[LogExportOptions]):
    spec = ActivitySpec(
        name="log-export",
        description="Write the delivery logs, tracking logs and consent changes since the last export, for the CDP.",
        options=LogExportOptions,
        takes="anything",
        gives="nothing",
    )

    def run(self, context: RunContext, inputs: Inputs) -> ActivityResult:
        made = export_logs(context.engine, settle_seconds=self.options.settle_seconds)
        counts = {"deliveryLogs": made["deliveryLogs"], "trackingLogs": made["trackingLogs"],
                  "consents": made["consents"], "files": len(made["files"])}  # fmt: skip
        return ActivityResult(counts, {"files": [f["name"] for f in made["files"]], "until": made["until"]})
