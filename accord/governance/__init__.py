"""Data governance: data usage labels, marketing actions and the policies that forbid an action for data of
some labels; and privacy jobs, which give a person everything held about them (access) or remove them from
every store (delete). So far the vocabulary, the policy expression language, the pure core of enforcement
(`violations`) and privacy jobs (`privacy`); labels on datasets and fields, stored policies and lineage come
next (issue 13)."""

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
    from accord.governance.policies import Labelled, Policy, Violation, policy, violations
    from accord.governance.privacy.jobs import (
        get_privacy_job,
        identity_digest,
        list_privacy_jobs,
        privacy_bundle,
        run_privacy_job,
    )
    from accord.governance.privacy.reports import STORES, StoreReport
    from accord.governance.privacy.requests import KINDS, MAX_IDENTITIES, RequestedIdentity, parse_identities

_EXPORTS = {
    "exceptions": ["BundleNotReadyError", "NoBundleError", "PolicyExpressionError", "PrivacyJobNotFoundError",
                   "PrivacyRequestError", "TooManyIdentitiesError"],
    "expressions": ["And", "Expression", "LabelRef", "Not", "Or", "label_refs", "matches", "parse_policy_expression",
                    "reasons", "to_text"],
    "labels": ["CORE_ACTIONS", "CORE_LABELS", "LABEL_NAME", "Label", "MarketingAction"],
    "policies": ["Labelled", "Policy", "Violation", "policy", "violations"],
    "privacy.jobs": ["get_privacy_job", "identity_digest", "list_privacy_jobs", "privacy_bundle", "run_privacy_job"],
    "privacy.reports": ["STORES", "StoreReport"],
    "privacy.requests": ["KINDS", "MAX_IDENTITIES", "RequestedIdentity", "parse_identities"],
}  # fmt: skip
__all__ = lazy_face(__name__, _EXPORTS)
