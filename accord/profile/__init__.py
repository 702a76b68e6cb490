"""Profiles: merge policies, and the unified profile of a person, looked up by any identity."""

from accord.profile.lookup import get_profile
from accord.profile.merge import Fragment, flatten, merge, unflatten
from accord.profile.policies import MergePolicy, create_policy, list_policies, resolve_policy
from accord.profile.refresh import delete_batch, delete_records, rebuild
from accord.profile.store import ProfileSummary, build_profiles

__all__ = [
    "Fragment",
    "MergePolicy",
    "ProfileSummary",
    "build_profiles",
    "create_policy",
    "delete_batch",
    "delete_records",
    "flatten",
    "get_profile",
    "list_policies",
    "merge",
    "rebuild",
    "resolve_policy",
    "unflatten",
]
