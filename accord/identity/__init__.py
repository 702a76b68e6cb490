"""Identity: namespaces, and how identity values are checked and normalised. (The identity graph
comes next: see issue 4.)"""

from accord.identity.exceptions import INVALID_IDENTITY, TOO_MANY_IDENTITIES
from accord.identity.namespaces import (
    STANDARD,
    IdentityType,
    Namespace,
    create_namespace,
    get_namespace,
    list_namespaces,
    namespaces,
)
from accord.identity.rules import MAX_PER_RECORD, IdentityRule, count_identities, rule_for

__all__ = [
    "INVALID_IDENTITY",
    "MAX_PER_RECORD",
    "STANDARD",
    "TOO_MANY_IDENTITIES",
    "IdentityRule",
    "IdentityType",
    "Namespace",
    "count_identities",
    "create_namespace",
    "get_namespace",
    "list_namespaces",
    "namespaces",
    "rule_for",
]
