"""Profiles: merge policies, and the unified profile of a person, looked up by any identity."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.profile.erasure import StoreChange, follow_graphs
    from accord.profile.identities import store_identities
    from accord.profile.lookup import get_profile, identity_graph, recent_profiles
    from accord.profile.merge import REASONS, Fragment, flatten, merge, unflatten
    from accord.profile.policies import MergePolicy, create_policy, list_policies, resolve_policy
    from accord.profile.recent import RecentEvents
    from accord.profile.refresh import delete_batch, delete_records, rebuild
    from accord.profile.store import ProfileSummary, build_profiles, store_folder
    from accord.profile.summary import store_summary

_EXPORTS = {
    "erasure": ["StoreChange", "follow_graphs"],
    "identities": ["store_identities"],
    "lookup": ["get_profile", "identity_graph", "recent_profiles"],
    "merge": ["Fragment", "REASONS", "flatten", "merge", "unflatten"],
    "policies": ["MergePolicy", "create_policy", "list_policies", "resolve_policy"],
    "recent": ["RecentEvents"],
    "refresh": ["delete_batch", "delete_records", "rebuild"],
    "store": ["ProfileSummary", "build_profiles", "store_folder"],
    "summary": ["store_summary"],
}
__all__ = lazy_face(__name__, _EXPORTS)
