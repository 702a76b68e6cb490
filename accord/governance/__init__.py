"""Data governance: data usage labels on datasets and fields, marketing actions, the policies that forbid an
action for data of some labels, and the lineage that carries labels from dataset fields to the uses of data
that read them (an activation is described by its context, `accord.destinations`); and privacy jobs, which
give a person everything held about them (access) or remove them from every store (delete)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.governance.exceptions import (
        BundleNotReadyError,
        NoBundleError,
        PolicyExpressionError,
        PrivacyJobNotFoundError,
        PrivacyRequestError,
        TooManyIdentitiesError,
    )
    from accord.governance.expressions import (
        And,
        Expression,
        LabelRef,
        Not,
        Or,
        label_refs,
        matches,
        parse_policy_expression,
        reasons,
        to_text,
    )
    from accord.governance.labels import CORE_ACTIONS, CORE_LABELS, LABEL_NAME, Label, MarketingAction
    from accord.governance.lineage import FieldUse, PolicyViolationError, evaluate_use, pieces_of
    from accord.governance.policies import Labelled, Policy, Violation, policy, violations
    from accord.governance.privacy.jobs import (
        check_privacy_request,
        get_privacy_job,
        identity_digest,
        list_privacy_jobs,
        privacy_bundle,
        run_privacy_job,
    )
    from accord.governance.privacy.reports import STORES, StoreReport
    from accord.governance.privacy.requests import KINDS, MAX_IDENTITIES, RequestedIdentity, parse_identities
    from accord.governance.store import (
        CORE_POLICIES,
        action_problems,
        add_labels,
        create_action,
        create_label,
        create_policy,
        dataset_fields,
        dataset_labels,
        known_actions,
        known_labels,
        list_actions,
        list_labels,
        list_policies,
        remove_labels,
        set_policy_enabled,
    )

_EXPORTS = {
    "exceptions": ["BundleNotReadyError", "NoBundleError", "PolicyExpressionError", "PrivacyJobNotFoundError",
                   "PrivacyRequestError", "TooManyIdentitiesError"],
    "expressions": ["And", "Expression", "LabelRef", "Not", "Or", "label_refs", "matches", "parse_policy_expression",
                    "reasons", "to_text"],
    "labels": ["CORE_ACTIONS", "CORE_LABELS", "LABEL_NAME", "Label", "MarketingAction"],
    "lineage": ["FieldUse", "PolicyViolationError", "evaluate_use", "pieces_of"],
    "policies": ["Labelled", "Policy", "Violation", "policy", "violations"],
    "store": ["CORE_POLICIES", "action_problems", "add_labels", "create_action", "create_label", "create_policy",
              "dataset_fields", "dataset_labels", "known_actions", "known_labels", "list_actions", "list_labels",
              "list_policies", "remove_labels", "set_policy_enabled"],
    "privacy.jobs": ["check_privacy_request", "get_privacy_job", "identity_digest", "list_privacy_jobs",
                     "privacy_bundle", "run_privacy_job"],
    "privacy.reports": ["STORES", "StoreReport"],
    "privacy.requests": ["KINDS", "MAX_IDENTITIES", "RequestedIdentity", "parse_identities"],
}  # fmt: skip
__all__ = lazy_face(__name__, _EXPORTS)
