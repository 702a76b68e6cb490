"""Profiles: merge policies, and the unified profile of a person, looked up by any identity."""

from accord.profile.lookup import get_profile
from accord.profile.merge import Fragment, flatten, merge, unflatten
from accord.profile.policies import MergePolicy, create_policy, list_policies, resolve_policy

__all__ = [
    "Fragment",
    "MergePolicy",
    "create_policy",
    "flatten",
    "get_profile",
    "list_policies",
    "merge",
    "resolve_policy",
    "unflatten",
]
