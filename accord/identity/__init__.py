"""Identity: namespaces, how identity values are checked and normalised, and the identity graph."""

from accord.errors import NotFoundError
from accord.identity.exceptions import INVALID_IDENTITY, TOO_MANY_IDENTITIES
from accord.identity.graph import GraphSummary, build_graph, explain, graph_folder, graph_of
from accord.identity.incremental import IdentityRecord, add_record, identity_keys, records_of_batch
from accord.identity.matching import MatchingRules, list_matches, parse_rules, propose_matches
from accord.identity.namespaces import (
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
    resolve_identity,
    rule_for,
)
from accord.identity.rules_config import LinkingRules, get_rules, namespace_ranks, set_rules

__all__ = [
    "INVALID_IDENTITY",
    "MAX_PER_RECORD",
    "STANDARD",
    "TOO_MANY_IDENTITIES",
    "GraphSummary",
    "IdentityRecord",
    "IdentityRule",
    "IdentityType",
    "LinkingRules",
    "MatchingRules",
    "Namespace",
    "NotFoundError",
    "TypedIdentity",
    "add_record",
    "build_graph",
    "count_identities",
    "create_namespace",
    "explain",
    "get_namespace",
    "get_rules",
    "graph_folder",
    "graph_of",
    "identity_keys",
    "list_matches",
    "list_namespaces",
    "list_removals",
    "namespace_ranks",
    "namespaces",
    "normalize_column",
    "parse_rules",
    "profile_identities",
    "propose_matches",
    "record_identities",
    "records_of_batch",
    "remove_identity",
    "remove_link",
    "resolve_identity",
    "rule_for",
    "set_rules",
    "sole_identity",
]
