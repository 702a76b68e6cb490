"""Segmentation: PQL audiences, batch and streaming evaluation, memberships and their history, computed
attributes (PQL event aggregations that audiences read)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.segment.background import (
        JobWorkers,
        Runner,
        job_log,
        queue_job,
        run_detached,
        spawn_job,
        start_background_job,
    )
    from accord.segment.checker import Checked, check
    from accord.segment.computed_attributes import (
        ComputedAttributeChange,
        ComputedAttributeDocument,
        computed_attribute_document,
        create_computed_attribute,
        delete_computed_attribute,
        find_computed_attribute,
        list_computed_attributes,
        refresh_computed_attributes,
        update_computed_attribute,
    )
    from accord.segment.computed_values import PREFIX as COMPUTED_PREFIX
    from accord.segment.computed_values import (
        ComputedColumns,
        computed_columns,
        computed_fields,
        profile_computed_values,
    )
    from accord.segment.definitions import (
        change_segment,
        create_segment,
        delete_segment,
        find_segment,
        list_segments,
        segment_document,
        segment_relations,
        update_segment,
        validate_pql,
    )
    from accord.segment.erasure import MembershipsErased, forget_memberships, memberships_of
    from accord.segment.evaluator import compile_python
    from accord.segment.exceptions import PQLError
    from accord.segment.job_control import JobUnderWayError, cancel_job, job_document, list_jobs
    from accord.segment.jobs import estimate, history, members, membership_table, profile_history, run_job
    from accord.segment.overview import AudienceJob, SizeAt, audience_jobs, member_sample, recent_sizes
    from accord.segment.parser import parse_pql
    from accord.segment.reads import AttributeRead, attributes_read
    from accord.segment.schedules import (
        Schedule,
        ScheduleIn,
        ScheduleOut,
        disable_schedule,
        due_schedules,
        due_slot,
        get_schedule,
        run_scheduled,
        segment_duty,
        set_schedule,
    )
    from accord.segment.streaming import (
        StreamingEvaluator,
        evaluate_changed_profile,
        membership_events,
        overlay_changes,
        profile_memberships,
    )

_EXPORTS = {
    "erasure": ["MembershipsErased", "forget_memberships", "memberships_of"],
    "checker": ["Checked", "check"],
    "computed_attributes": [
        "ComputedAttributeChange",
        "ComputedAttributeDocument",
        "computed_attribute_document",
        "create_computed_attribute",
        "delete_computed_attribute",
        "find_computed_attribute",
        "list_computed_attributes",
        "refresh_computed_attributes",
        "update_computed_attribute",
    ],
    "computed_values": [
        "COMPUTED_PREFIX",
        "ComputedColumns",
        "computed_columns",
        "computed_fields",
        "profile_computed_values",
    ],
    "definitions": [
        "change_segment",
        "create_segment",
        "delete_segment",
        "find_segment",
        "list_segments",
        "segment_document",
        "segment_relations",
        "update_segment",
        "validate_pql",
    ],
    "evaluator": ["compile_python"],
    "exceptions": ["PQLError"],
    "background": [
        "JobWorkers",
        "Runner",
        "job_log",
        "queue_job",
        "run_detached",
        "spawn_job",
        "start_background_job",
    ],
    "job_control": ["JobUnderWayError", "cancel_job", "job_document", "list_jobs"],
    "jobs": ["estimate", "history", "members", "membership_table", "profile_history", "run_job"],
    "overview": ["AudienceJob", "SizeAt", "audience_jobs", "member_sample", "recent_sizes"],
    "parser": ["parse_pql"],
    "reads": ["AttributeRead", "attributes_read"],
    "schedules": [
        "Schedule",
        "ScheduleIn",
        "ScheduleOut",
        "disable_schedule",
        "due_schedules",
        "due_slot",
        "get_schedule",
        "run_scheduled",
        "segment_duty",
        "set_schedule",
    ],
    "streaming": [
        "StreamingEvaluator",
        "evaluate_changed_profile",
        "membership_events",
        "overlay_changes",
        "profile_memberships",
    ],
}
__all__ = lazy_face(__name__, _EXPORTS, {"COMPUTED_PREFIX": "PREFIX"})
