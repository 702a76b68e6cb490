"""Data usage policies, and what they forbid of a use of data.

A policy forbids a marketing action for data whose labels match its expression. A use of data (an
activation, say) performs some actions on some labelled pieces of data, each reached by a lineage path
(a field, in a dataset, read by an audience, exported to a destination). As in the reference product,
the use's labels are those of all its pieces together: a policy is violated when the use performs its
action and those labels match its expression. A violation names the policy, the labels that made it
match, and the lineage path of every piece that carried one of them.

This module is the pure core: policies and labelled pieces in, violations out. Where policies are
stored, and where lineage comes from, is the business of the services around it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from accord.governance.expressions import Expression, matches, parse_policy_expression, reasons


@dataclass(frozen=True)
class Policy:
    """Forbids `action` for data whose labels match `expression`; only an enabled policy is enforced."""

    name: str
    action: str
    expression: Expression
    text: str
    """The expression as written."""
    enabled: bool = True


@dataclass(frozen=True)
class Labelled:
    """A piece of data a use reaches, its labels, and how the use reaches it (outermost last)."""

    labels: frozenset[str]
    path: tuple[str, ...]
    """For example ("field personalEmail.address", "dataset crm", "audience buyers", "destination ads")."""


@dataclass(frozen=True)
class Violation:
    policy: str
    action: str
    expression: str
    labels: frozenset[str]
    """The labels that made the expression match."""
    paths: tuple[tuple[str, ...], ...]
    """The lineage of every piece that carried one of them."""

    def to_dict(self) -> dict[str, object]:
        return {"policy": self.policy, "marketingAction": self.action, "expression": self.expression,
                "labels": sorted(self.labels), "lineage": [list(path) for path in self.paths]}  # fmt: skip


def policy(name: str, action: str, text: str, known_labels: Collection[str], enabled: bool = True) -> Policy:
    """A policy from its expression's text (`PolicyExpressionError` when it cannot be read)."""
    return Policy(name, action, parse_policy_expression(text, known_labels), text, enabled)


def violations(policies: Iterable[Policy], actions: Collection[str], pieces: Sequence[Labelled]) -> list[Violation]:
    """The enabled policies that a use performing `actions` on `pieces` breaks, in the policies' order."""
    if not pieces:  # a use of no data breaks nothing
        return []
    carried = frozenset().union(*(piece.labels for piece in pieces))
    found = []
    for candidate in policies:
        if not candidate.enabled or candidate.action not in actions or not matches(candidate.expression, carried):
            continue
        why = reasons(candidate.expression, carried)
        # matched by what the data lacks alone (`NOT I1`): every piece is to blame
        paths = tuple(dict.fromkeys(piece.path for piece in pieces if piece.labels & why or not why))
        found.append(Violation(candidate.name, candidate.action, candidate.text, why, paths))
    return found


__all__ = ["Labelled", "Policy", "Violation", "policy", "violations"]
