"""Permissions and the built-in roles, in the reference product's vocabulary.

A permission is held in a sandbox, through a role granted to a user there (or in every sandbox). Two
permissions are not about one sandbox's data but about the whole home: `Manage Sandboxes` and `Manage
Users and Roles`. They count only when granted in every sandbox, or a user of one sandbox could make
himself the admin of all."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Permission(StrEnum):
    """What a role may do; the value is the name users see (in 403 answers, docs and `accord role list`)."""

    VIEW_SOURCES = "View Sources"
    MANAGE_SOURCES = "Manage Sources"
    VIEW_DATASETS = "View Datasets"
    MANAGE_DATASETS = "Manage Datasets"
    VIEW_SCHEMAS = "View Schemas"
    MANAGE_SCHEMAS = "Manage Schemas"
    VIEW_IDENTITY_NAMESPACES = "View Identity Namespaces"
    MANAGE_IDENTITY_NAMESPACES = "Manage Identity Namespaces"
    VIEW_PROFILES = "View Profiles"
    MANAGE_PROFILES = "Manage Profiles"
    VIEW_COMPUTED_ATTRIBUTES = "View Computed Attributes"
    MANAGE_COMPUTED_ATTRIBUTES = "Manage Computed Attributes"
    VIEW_MERGE_POLICIES = "View Merge Policies"
    MANAGE_MERGE_POLICIES = "Manage Merge Policies"
    VIEW_SEGMENTS = "View Segments"
    MANAGE_SEGMENTS = "Manage Segments"
    VIEW_DESTINATIONS = "View Destinations"
    MANAGE_DESTINATIONS = "Manage Destinations"
    ACTIVATE_DESTINATIONS = "Activate Destinations"
    VIEW_CAMPAIGN = "View Campaign"
    MANAGE_CAMPAIGN = "Manage Campaign"
    APPLY_DATA_USAGE_LABELS = "Apply Data Usage Labels"
    VIEW_DATA_USAGE_POLICIES = "View Data Usage Policies"
    MANAGE_DATA_USAGE_POLICIES = "Manage Data Usage Policies"
    MANAGE_PRIVACY_JOBS = "Manage Privacy Jobs"
    VIEW_USER_ACTIVITY_LOG = "View User Activity Log"
    MANAGE_SANDBOXES = "Manage Sandboxes"
    MANAGE_USERS_AND_ROLES = "Manage Users and Roles"


DESCRIPTIONS: dict[Permission, str] = {
    Permission.VIEW_SOURCES: "read connectors, connections, dataflows, their runs and alerts, streaming inlets",
    Permission.MANAGE_SOURCES: "create, change, test, run and delete connections, dataflows and streaming "
    "inlets; send events to authenticated inlets",
    Permission.VIEW_DATASETS: "read datasets, their batches, previews, statistics and row errors",
    Permission.MANAGE_DATASETS: "create datasets, ingest, delete batches and records, purge, set TTL and contracts",
    Permission.VIEW_SCHEMAS: "read schemas, field groups and union schemas",
    Permission.MANAGE_SCHEMAS: "create, change and delete schemas and field groups",
    Permission.VIEW_IDENTITY_NAMESPACES: "read namespaces, the identity graph, linking rules, matches and removals",
    Permission.MANAGE_IDENTITY_NAMESPACES: "create namespaces, build the graph, change linking rules, match, "
    "unlink and remove identities",
    Permission.VIEW_PROFILES: "look up profiles and their events",
    Permission.MANAGE_PROFILES: "rebuild the profile store",
    Permission.VIEW_COMPUTED_ATTRIBUTES: "read computed attributes' definitions and status",
    Permission.MANAGE_COMPUTED_ATTRIBUTES: "create, change, disable, delete and refresh computed attributes",
    Permission.VIEW_MERGE_POLICIES: "read merge policies",
    Permission.MANAGE_MERGE_POLICIES: "create merge policies",
    Permission.VIEW_SEGMENTS: "read segment definitions, estimates, members and membership history",
    Permission.MANAGE_SEGMENTS: "create, change, delete and run segment definitions",
    Permission.VIEW_DESTINATIONS: "read the destination catalog, accounts, activation flows, runs and dead letters",
    Permission.MANAGE_DESTINATIONS: "connect, test and delete destination accounts; set the marketing actions of "
    "their flows",
    Permission.ACTIVATE_DESTINATIONS: "create, run, enable, disable and delete activation flows; replay dead letters",
    Permission.VIEW_CAMPAIGN: "read the campaign engine's recipients, lists, deliveries, workflows and logs (the "
    "instance serves the whole home: only when granted in every sandbox)",
    Permission.MANAGE_CAMPAIGN: "import, deliver, run workflows, change lists, suppressions and subscriptions; "
    "connect a sandbox to the instance (only when granted in every sandbox)",
    Permission.APPLY_DATA_USAGE_LABELS: "add and remove data usage labels on datasets and fields",
    Permission.VIEW_DATA_USAGE_POLICIES: "read labels, marketing actions and policies; evaluate an activation",
    Permission.MANAGE_DATA_USAGE_POLICIES: "create, enable and disable policies, labels and marketing actions",
    Permission.MANAGE_PRIVACY_JOBS: "run privacy access and delete jobs, and read their reports",
    Permission.VIEW_USER_ACTIVITY_LOG: "read and export the activity log",
    Permission.MANAGE_SANDBOXES: "create sandboxes (only when granted in every sandbox)",
    Permission.MANAGE_USERS_AND_ROLES: "create and disable users, create roles, grant and revoke them, make and "
    "revoke API tokens of others (only when granted in every sandbox)",
}

HOME_WIDE = frozenset({Permission.MANAGE_SANDBOXES, Permission.MANAGE_USERS_AND_ROLES, Permission.VIEW_CAMPAIGN,
                       Permission.MANAGE_CAMPAIGN})  # fmt: skip
"""Permissions over the whole home: they count only when granted in every sandbox. The campaign instance is the
home's, as the reference's serves an organisation: its recipients came from every sandbox connected to it."""

_VIEW = frozenset(p for p in Permission if p.value.startswith("View "))
_DATA = frozenset(
    {
        Permission.MANAGE_SOURCES,
        Permission.MANAGE_DATASETS,
        Permission.MANAGE_SCHEMAS,
        Permission.MANAGE_IDENTITY_NAMESPACES,
        Permission.MANAGE_PROFILES,
        Permission.MANAGE_COMPUTED_ATTRIBUTES,
        Permission.MANAGE_MERGE_POLICIES,
        Permission.MANAGE_SEGMENTS,
        Permission.MANAGE_DESTINATIONS,
        Permission.APPLY_DATA_USAGE_LABELS,
    }
)
BUILT_IN_ROLES: dict[str, tuple[str, frozenset[Permission]]] = {
    "admin": ("everything, in the sandboxes it is granted in", frozenset(Permission)),
    "data engineer": (
        "sources, schemas, datasets, identity, profiles, segments and destination accounts; labels",
        (_VIEW - {Permission.VIEW_USER_ACTIVITY_LOG}) | _DATA,
    ),
    "marketer": (
        "audiences, activations and the campaign engine (whose permissions count where it is granted in every "
        "sandbox), over data others bring in",
        frozenset(
            {
                Permission.VIEW_SCHEMAS,
                Permission.VIEW_DATASETS,
                Permission.VIEW_IDENTITY_NAMESPACES,
                Permission.VIEW_PROFILES,
                Permission.VIEW_COMPUTED_ATTRIBUTES,
                Permission.MANAGE_COMPUTED_ATTRIBUTES,
                Permission.VIEW_MERGE_POLICIES,
                Permission.VIEW_SEGMENTS,
                Permission.MANAGE_SEGMENTS,
                Permission.VIEW_DESTINATIONS,
                Permission.ACTIVATE_DESTINATIONS,
                Permission.VIEW_CAMPAIGN,
                Permission.MANAGE_CAMPAIGN,
                Permission.VIEW_DATA_USAGE_POLICIES,
            }
        ),
    ),
    "analyst": (
        "reads the data, profiles and audiences; changes nothing",
        _VIEW - {Permission.VIEW_USER_ACTIVITY_LOG},
    ),
    "auditor": ("reads everything, the activity log included; changes nothing", _VIEW),
}
"""The roles every home has: their description and permissions. They cannot be changed or deleted."""


def parse_permissions(names: list[str]) -> tuple[frozenset[Permission], list[str]]:
    """The permissions these names give (case and spacing forgiven: `manage-datasets`), and the unknown names."""
    known = {_key(p.value): p for p in Permission} | {_key(p.name): p for p in Permission}
    found, unknown = set(), []
    for name in names:
        permission = known.get(_key(name))
        if permission is None:
            unknown.append(name)
        else:
            found.add(permission)
    return frozenset(found), unknown


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def role_permissions_of(role: str, custom: list[Any] | None) -> frozenset[Permission]:
    """A granted role's permissions: a built-in one's, or a custom one's stored names (unknown ones dropped)."""
    if role in BUILT_IN_ROLES:
        return BUILT_IN_ROLES[role][1]
    return frozenset(Permission(n) for n in custom or [] if n in Permission._value2member_map_)
