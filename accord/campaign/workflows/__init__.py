"""Campaign workflows: declarative documents of activities (plug-ins of the entry point group
`accord.campaign_activities`), their runs, resumed from a failed activity, and the scheduler's due work."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.campaign.workflows.definitions import (
        create_workflow,
        delete_workflow,
        get_workflow,
        list_workflows,
        update_workflow,
    )
    from accord.campaign.workflows.document import Workflow, check_workflow, parse_text
    from accord.campaign.workflows.registry import activity_spec, activity_types, list_activities
    from accord.campaign.workflows.runs import (
        DueWork,
        due_workflows,
        get_run,
        list_runs,
        mark_interrupted,
        resume_workflow,
        run_due,
        run_workflow,
    )
    from accord.campaign.workflows.spec import (
        Activity,
        ActivityOptions,
        ActivityResult,
        ActivitySpec,
        Inputs,
        RunContext,
    )

_EXPORTS = {
    "definitions": ["create_workflow", "delete_workflow", "get_workflow", "list_workflows", "update_workflow"],
    "document": ["Workflow", "check_workflow", "parse_text"],
    "registry": ["activity_spec", "activity_types", "list_activities"],
    "runs": [
        "DueWork",
        "due_workflows",
        "get_run",
        "list_runs",
        "mark_interrupted",
        "resume_workflow",
        "run_due",
        "run_workflow",
    ],
    "spec": ["Activity", "ActivityOptions", "ActivityResult", "ActivitySpec", "Inputs", "RunContext"],
}
__all__ = lazy_face(__name__, _EXPORTS)
