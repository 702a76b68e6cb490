"""Segmentation: PQL audiences, batch and streaming evaluation, memberships and their history."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.segment.background import job_log, queue_job, run_detached, run_in_thread, spawn_job
    from accord.segment.checker import Checked, check
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
    from accord.segment.job_control import cancel_job, job_document, list_jobs
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
    "background": ["job_log", "queue_job", "run_detached", "run_in_thread", "spawn_job"],
    "job_control": ["cancel_job", "job_document", "list_jobs"],
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
__all__ = lazy_face(__name__, _EXPORTS)
