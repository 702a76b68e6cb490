"""Segmentation: PQL audiences, batch and streaming evaluation, memberships and their history."""

from accord.segment.checker import Checked, check
from accord.segment.definitions import (
    change_segment,
    create_segment,
    delete_segment,
    find_segment,
    list_segments,
    segment_document,
    update_segment,
    validate_pql,
)
from accord.segment.evaluator import compile_python
from accord.segment.exceptions import PQLError
from accord.segment.jobs import estimate, history, job_document, members, profile_history, run_job
from accord.segment.parser import parse_pql
from accord.segment.streaming import (
    StreamingEvaluator,
    evaluate_changed_profile,
    membership_events,
    profile_memberships,
)

__all__ = [
    "Checked",
    "PQLError",
    "StreamingEvaluator",
    "change_segment",
    "check",
    "compile_python",
    "create_segment",
    "delete_segment",
    "estimate",
    "evaluate_changed_profile",
    "find_segment",
    "history",
    "job_document",
    "list_segments",
    "members",
    "membership_events",
    "parse_pql",
    "profile_history",
    "profile_memberships",
    "run_job",
    "segment_document",
    "update_segment",
    "validate_pql",
]
