"""Identity: namespaces, how identity values are checked and normalised, and the identity graph."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.errors import NotFoundError
    from accord.identity.erasure import (
        GraphChange,
        Person,
        affected_identities,
        carried_identities,
        carries_any,
        forget_removals,
        people_of,
        removals_naming,
        solve_again,
        wanted_table,
    )
    from accord.identity.exceptions import INVALID_IDENTITY, TOO_MANY_IDENTITIES
    from accord.identity.graph import GraphSummary, build_graph, explain, graph_document, graph_folder, graph_of
    from accord.identity.incremental import (
        IdentityRecord,
        add_record,
        add_records,
        graph_identities,
        identity_keys,
        records_of_batch,
    )
    from accord.identity.matching import MatchingRules, list_matches, parse_rules, propose_matches
    from accord.identity.namespaces import (
        SEPARATOR,
        STANDARD,
        IdentityType,
        Namespace,
        create_namespace,
        get_namespace,
        list_namespaces,
        namespaces,
    )
    from accord.identity.records import profile_identities, record_identities, sole_identity
    from accord.identity.removals import list_removals, remove_identity, remove_link
    from accord.identity.rules import (
        MAX_PER_RECORD,
        IdentityRule,
        TypedIdentity,
        count_identities,
        normalize_column,
        normalize_identities,
        resolve_identity,
        rule_for,
    )
    from accord.identity.rules_config import LinkingRules, get_rules, namespace_ranks, set_rules
    from accord.identity.solver import Link

_EXPORTS = {
    "accord.errors": ["NotFoundError"],
    "erasure": [
        "GraphChange",
        "Person",
        "affected_identities",
        "carried_identities",
        "carries_any",
        "forget_removals",
        "people_of",
        "removals_naming",
        "solve_again",
        "wanted_table",
    ],
    "exceptions": ["INVALID_IDENTITY", "TOO_MANY_IDENTITIES"],
    "graph": ["GraphSummary", "build_graph", "explain", "graph_document", "graph_folder", "graph_of"],
    "incremental": [
        "IdentityRecord",
        "add_record",
        "add_records",
        "graph_identities",
        "identity_keys",
        "records_of_batch",
    ],
    "matching": ["MatchingRules", "list_matches", "parse_rules", "propose_matches"],
    "namespaces": [
        "IdentityType",
        "Namespace",
        "SEPARATOR",
        "STANDARD",
        "create_namespace",
        "get_namespace",
        "list_namespaces",
        "namespaces",
    ],
    "records": ["profile_identities", "record_identities", "sole_identity"],
    "removals": ["list_removals", "remove_identity", "remove_link"],
    "rules": [
        "IdentityRule",
        "MAX_PER_RECORD",
        "TypedIdentity",
        "count_identities",
        "normalize_column",
        "normalize_identities",
        "resolve_identity",
        "rule_for",
    ],
    "rules_config": ["LinkingRules", "get_rules", "namespace_ranks", "set_rules"],
    "solver": ["Link"],
}
__all__ = lazy_face(__name__, _EXPORTS)
