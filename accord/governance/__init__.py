"""Data governance: data usage labels, marketing actions and the policies that forbid an action for data of
some labels. So far the vocabulary, the policy expression language and the pure core of enforcement
(`violations`); labels on datasets and fields, stored policies and lineage come next (issue 13)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.governance.exceptions import PolicyExpressionError
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

_EXPORTS = {
    "exceptions": ["PolicyExpressionError"],
    "expressions": ["And", "Expression", "LabelRef", "Not", "Or", "label_refs", "matches", "parse_policy_expression",
                    "reasons", "to_text"],
    "labels": ["CORE_ACTIONS", "CORE_LABELS", "LABEL_NAME", "Label", "MarketingAction"],
    "policies": ["Labelled", "Policy", "Violation", "policy", "violations"],
}  # fmt: skip
__all__ = lazy_face(__name__, _EXPORTS)
