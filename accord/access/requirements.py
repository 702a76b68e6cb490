"""What every REST route and every CLI command needs: the one table (docs/permissions.md is made from it).

A route or command missing from this table is refused to everyone (`UndeclaredError`), and the tests
walk the API's OpenAPI document and the CLI's command tree against it: none can be forgotten."""

from __future__ import annotations

from dataclasses import dataclass

from accord.access.permissions import DESCRIPTIONS, HOME_WIDE, Permission


@dataclass(frozen=True)
class Open:
    """Needs no permission, and why."""

    why: str


@dataclass(frozen=True)
class AllOf:
    """Needs every one of these permissions: a call that makes objects of several kinds at once."""

    permissions: tuple[Permission, ...]

    @property
    def value(self) -> str:
        return " and ".join(p.value for p in self.permissions)


ANY_CALLER = Open("any valid token; the answer holds only what the caller may see")
LOCAL = Open("runs on the home's machine, as its owner: no token is involved")

Requirement = Permission | AllOf | Open


def permissions_needed(needed: Requirement) -> tuple[Permission, ...]:
    """The permissions a requirement asks for, each of them (none for an open one)."""
    if isinstance(needed, Open):
        return ()
    return needed.permissions if isinstance(needed, AllOf) else (needed,)


def changes_nothing(needed: Requirement) -> bool:
    """A requirement of View permissions alone, or of none: the call reads, or needs nothing checked."""
    return all(p.value.startswith("View ") for p in permissions_needed(needed))


_CONNECT_CAMPAIGN = AllOf((Permission.MANAGE_CAMPAIGN, Permission.MANAGE_SCHEMAS, Permission.MANAGE_DATASETS,
                           Permission.MANAGE_SOURCES, Permission.MANAGE_DESTINATIONS))  # fmt: skip
"""`campaign connect` makes a destination account, schemas, datasets, a connection and dataflows."""

DESTINATION_NEEDS: dict[str, Permission] = {"accord-campaign": Permission.MANAGE_CAMPAIGN}
"""Destinations whose accounts need a further permission besides Manage Destinations: an account of the campaign
engine's destination links the sandbox to the home's campaign instance (its privacy jobs reach the instance)."""

P = Permission
_SEGMENT_SPEC = Open("the inlet's write key (the Segment spec's own authentication), not an API token")

ROUTES: dict[tuple[str, str], Requirement] = {
    ("GET", "/health"): Open("public: liveness"),
    # the collection URLs: checked by the inlet, as a public inlet takes no token at all
    ("POST", "/collection/{inlet_id}"): P.MANAGE_SOURCES,
    ("POST", "/collection/batch/{inlet_id}"): P.MANAGE_SOURCES,
    **{
        ("POST", f"/v1/{call}"): _SEGMENT_SPEC
        for call in ("identify", "track", "page", "screen", "group", "alias", "batch", "import")
    },
    ("GET", "/sandboxes"): ANY_CALLER,
    ("POST", "/sandboxes"): P.MANAGE_SANDBOXES,
    ("GET", "/schemas"): P.VIEW_SCHEMAS,
    ("POST", "/schemas"): P.MANAGE_SCHEMAS,
    ("GET", "/schemas/{name}"): P.VIEW_SCHEMAS,
    ("PUT", "/schemas/{name}"): P.MANAGE_SCHEMAS,
    ("DELETE", "/schemas/{name}"): P.MANAGE_SCHEMAS,
    ("GET", "/schemas/{name}/jsonschema"): P.VIEW_SCHEMAS,
    ("GET", "/unions/{class_name}"): P.VIEW_SCHEMAS,
    ("GET", "/unions/{class_name}/jsonschema"): P.VIEW_SCHEMAS,
    ("GET", "/fieldgroups"): P.VIEW_SCHEMAS,
    ("POST", "/fieldgroups"): P.MANAGE_SCHEMAS,
    ("GET", "/fieldgroups/{name}"): P.VIEW_SCHEMAS,
    ("PUT", "/fieldgroups/{name}"): P.MANAGE_SCHEMAS,
    ("GET", "/datasets"): P.VIEW_DATASETS,
    ("POST", "/datasets"): P.MANAGE_DATASETS,
    ("GET", "/datasets/{name}"): P.VIEW_DATASETS,
    ("PATCH", "/datasets/{name}"): P.MANAGE_DATASETS,
    ("POST", "/datasets/{name}/purge"): P.MANAGE_DATASETS,
    ("POST", "/datasets/{name}/records/delete"): P.MANAGE_DATASETS,
    ("GET", "/datasets/{name}/preview"): P.VIEW_DATASETS,
    ("GET", "/datasets/{name}/stats"): P.VIEW_DATASETS,
    ("POST", "/datasets/{name}/batches"): P.MANAGE_DATASETS,
    ("GET", "/batches"): P.VIEW_DATASETS,
    ("GET", "/batches/{batch_id}"): P.VIEW_DATASETS,
    ("DELETE", "/batches/{batch_id}"): P.MANAGE_DATASETS,
    ("GET", "/batches/{batch_id}/errors"): P.VIEW_DATASETS,
    ("GET", "/connectors"): P.VIEW_SOURCES,
    ("GET", "/connectors/{connector}"): P.VIEW_SOURCES,
    ("GET", "/connections"): P.VIEW_SOURCES,
    ("POST", "/connections"): P.MANAGE_SOURCES,
    ("GET", "/connections/{name}"): P.VIEW_SOURCES,
    ("DELETE", "/connections/{name}"): P.MANAGE_SOURCES,
    ("POST", "/connections/{name}/test"): P.MANAGE_SOURCES,
    ("GET", "/dataflows"): P.VIEW_SOURCES,
    ("POST", "/dataflows"): P.MANAGE_SOURCES,
    ("GET", "/dataflows/{name}"): P.VIEW_SOURCES,
    ("PATCH", "/dataflows/{name}"): P.MANAGE_SOURCES,
    ("DELETE", "/dataflows/{name}"): P.MANAGE_SOURCES,
    ("POST", "/dataflows/{name}/runs"): P.MANAGE_SOURCES,
    ("GET", "/runs"): P.VIEW_SOURCES,
    ("GET", "/runs/{run_id}"): P.VIEW_SOURCES,
    ("POST", "/alerts/subscriptions"): P.MANAGE_SOURCES,
    ("GET", "/alerts/subscriptions"): P.VIEW_SOURCES,
    ("GET", "/alerts"): P.VIEW_SOURCES,
    ("GET", "/namespaces"): P.VIEW_IDENTITY_NAMESPACES,
    ("POST", "/namespaces"): P.MANAGE_IDENTITY_NAMESPACES,
    ("POST", "/identity/graph/build"): P.MANAGE_IDENTITY_NAMESPACES,
    ("GET", "/identity/graph"): P.VIEW_IDENTITY_NAMESPACES,
    ("GET", "/identity/rules"): P.VIEW_IDENTITY_NAMESPACES,
    ("PUT", "/identity/rules"): P.MANAGE_IDENTITY_NAMESPACES,
    ("POST", "/identity/matching"): P.MANAGE_IDENTITY_NAMESPACES,
    ("GET", "/identity/matches"): P.VIEW_IDENTITY_NAMESPACES,
    ("POST", "/identity/removals"): P.MANAGE_IDENTITY_NAMESPACES,
    ("GET", "/identity/removals"): P.VIEW_IDENTITY_NAMESPACES,
    ("POST", "/profiles/rebuild"): P.MANAGE_PROFILES,
    ("GET", "/computed-attributes"): P.VIEW_COMPUTED_ATTRIBUTES,
    ("POST", "/computed-attributes"): P.MANAGE_COMPUTED_ATTRIBUTES,
    ("GET", "/computed-attributes/{name}"): P.VIEW_COMPUTED_ATTRIBUTES,
    ("PATCH", "/computed-attributes/{name}"): P.MANAGE_COMPUTED_ATTRIBUTES,
    ("DELETE", "/computed-attributes/{name}"): P.MANAGE_COMPUTED_ATTRIBUTES,
    ("POST", "/computed-attributes/refresh"): P.MANAGE_COMPUTED_ATTRIBUTES,
    ("GET", "/profiles"): P.VIEW_PROFILES,
    ("GET", "/mergepolicies"): P.VIEW_MERGE_POLICIES,
    ("POST", "/mergepolicies"): P.MANAGE_MERGE_POLICIES,
    ("GET", "/segment/definitions"): P.VIEW_SEGMENTS,
    ("POST", "/segment/definitions"): P.MANAGE_SEGMENTS,
    ("GET", "/segment/definitions/{name}"): P.VIEW_SEGMENTS,
    ("PUT", "/segment/definitions/{name}"): P.MANAGE_SEGMENTS,
    ("DELETE", "/segment/definitions/{name}"): P.MANAGE_SEGMENTS,
    ("POST", "/segment/validate"): P.VIEW_SEGMENTS,
    ("POST", "/segment/estimate"): P.VIEW_SEGMENTS,
    ("POST", "/segment/jobs"): P.MANAGE_SEGMENTS,
    ("GET", "/segment/jobs"): P.VIEW_SEGMENTS,
    ("GET", "/segment/jobs/{job_id}"): P.VIEW_SEGMENTS,
    ("DELETE", "/segment/jobs/{job_id}"): P.MANAGE_SEGMENTS,
    ("GET", "/segment/schedule"): P.VIEW_SEGMENTS,
    ("PUT", "/segment/schedule"): P.MANAGE_SEGMENTS,
    ("DELETE", "/segment/schedule"): P.MANAGE_SEGMENTS,
    ("GET", "/segment/definitions/{name}/members"): P.VIEW_SEGMENTS,
    ("POST", "/segment/streaming/evaluate"): P.MANAGE_SEGMENTS,
    ("GET", "/segment/history"): P.VIEW_SEGMENTS,
    ("GET", "/segment/events"): P.VIEW_SEGMENTS,
    ("GET", "/destinations"): P.VIEW_DESTINATIONS,
    ("GET", "/destinations/accounts"): P.VIEW_DESTINATIONS,
    ("POST", "/destinations/accounts"): P.MANAGE_DESTINATIONS,
    ("GET", "/destinations/accounts/{name}"): P.VIEW_DESTINATIONS,
    ("DELETE", "/destinations/accounts/{name}"): P.MANAGE_DESTINATIONS,
    ("PUT", "/destinations/accounts/{name}/marketing-actions"): P.MANAGE_DESTINATIONS,
    ("POST", "/destinations/accounts/{name}/test"): P.MANAGE_DESTINATIONS,
    ("GET", "/destinations/{destination}"): P.VIEW_DESTINATIONS,
    ("GET", "/activations"): P.VIEW_DESTINATIONS,
    ("POST", "/activations"): P.ACTIVATE_DESTINATIONS,
    ("GET", "/activations/runs/{run_id}"): P.VIEW_DESTINATIONS,
    ("GET", "/activations/{name}"): P.VIEW_DESTINATIONS,
    ("DELETE", "/activations/{name}"): P.ACTIVATE_DESTINATIONS,
    ("POST", "/activations/{name}/enable"): P.ACTIVATE_DESTINATIONS,
    ("POST", "/activations/{name}/disable"): P.ACTIVATE_DESTINATIONS,
    ("POST", "/activations/{name}/runs"): P.ACTIVATE_DESTINATIONS,
    ("GET", "/activations/{name}/runs"): P.VIEW_DESTINATIONS,
    ("GET", "/activations/{name}/deadletters"): P.VIEW_DESTINATIONS,
    ("POST", "/activations/{name}/deadletters/replay"): P.ACTIVATE_DESTINATIONS,
    ("POST", "/streaming/inlets"): P.MANAGE_SOURCES,
    ("GET", "/streaming/inlets"): P.VIEW_SOURCES,
    ("GET", "/streaming/inlets/{name}"): P.VIEW_SOURCES,
    ("DELETE", "/streaming/inlets/{name}"): P.MANAGE_SOURCES,
    ("GET", "/streaming/stats"): P.VIEW_SOURCES,
    ("GET", "/campaign/instance"): P.VIEW_CAMPAIGN,
    ("GET", "/campaign/recipients"): P.VIEW_CAMPAIGN,
    ("GET", "/campaign/recipients/{external_id}"): P.VIEW_CAMPAIGN,
    ("POST", "/campaign/recipients/{external_id}/opt-out"): P.MANAGE_CAMPAIGN,
    ("GET", "/campaign/lists"): P.VIEW_CAMPAIGN,
    ("POST", "/campaign/lists"): P.MANAGE_CAMPAIGN,
    ("GET", "/campaign/lists/{name}/members"): P.VIEW_CAMPAIGN,
    ("POST", "/campaign/lists/{name}/subscribe"): P.MANAGE_CAMPAIGN,
    ("GET", "/campaign/addresses"): P.VIEW_CAMPAIGN,
    ("POST", "/campaign/addresses"): P.MANAGE_CAMPAIGN,
    ("GET", "/campaign/suppressions"): P.VIEW_CAMPAIGN,
    ("POST", "/campaign/suppressions"): P.MANAGE_CAMPAIGN,
    ("DELETE", "/campaign/suppressions/{email}"): P.MANAGE_CAMPAIGN,
    ("POST", "/campaign/logs/export"): P.MANAGE_CAMPAIGN,
    ("POST", "/campaign/connect"): _CONNECT_CAMPAIGN,
    ("GET", "/campaign/deliveries"): P.VIEW_CAMPAIGN,
    ("POST", "/campaign/deliveries"): P.MANAGE_CAMPAIGN,
    ("GET", "/campaign/deliveries/{name}"): P.VIEW_CAMPAIGN,
    ("POST", "/campaign/deliveries/{name}/check"): P.VIEW_CAMPAIGN,
    ("POST", "/campaign/deliveries/{name}/proof"): P.MANAGE_CAMPAIGN,
    ("POST", "/campaign/deliveries/{name}/send"): P.MANAGE_CAMPAIGN,
    ("GET", "/campaign/deliveries/{name}/log"): P.VIEW_CAMPAIGN,
    ("GET", "/campaign/workflows"): P.VIEW_CAMPAIGN,
    ("POST", "/campaign/workflows"): P.MANAGE_CAMPAIGN,
    ("GET", "/campaign/workflows/runs/{run_id}"): P.VIEW_CAMPAIGN,
    ("POST", "/campaign/workflows/runs/{run_id}/resume"): P.MANAGE_CAMPAIGN,
    ("GET", "/campaign/workflows/{name}"): P.VIEW_CAMPAIGN,
    ("PUT", "/campaign/workflows/{name}"): P.MANAGE_CAMPAIGN,
    ("DELETE", "/campaign/workflows/{name}"): P.MANAGE_CAMPAIGN,
    ("POST", "/campaign/workflows/{name}/runs"): P.MANAGE_CAMPAIGN,
    ("GET", "/campaign/workflows/{name}/runs"): P.VIEW_CAMPAIGN,
    ("POST", "/campaign/import"): P.MANAGE_CAMPAIGN,
    ("GET", "/campaign/loads"): P.VIEW_CAMPAIGN,
    ("POST", "/campaign/bounces/process"): P.MANAGE_CAMPAIGN,
    # access control itself
    ("GET", "/me"): ANY_CALLER,
    ("POST", "/auth/login"): Open("public: signs a person in (failures limited per address, users locked out)"),
    ("POST", "/auth/logout"): ANY_CALLER,
    ("GET", "/users"): P.MANAGE_USERS_AND_ROLES,
    ("POST", "/users"): P.MANAGE_USERS_AND_ROLES,
    ("GET", "/users/{name}"): P.MANAGE_USERS_AND_ROLES,
    ("POST", "/users/{name}/disable"): P.MANAGE_USERS_AND_ROLES,
    ("POST", "/users/{name}/enable"): P.MANAGE_USERS_AND_ROLES,
    ("GET", "/roles"): P.MANAGE_USERS_AND_ROLES,
    ("POST", "/roles"): P.MANAGE_USERS_AND_ROLES,
    ("POST", "/roles/{name}/grants"): P.MANAGE_USERS_AND_ROLES,
    ("DELETE", "/roles/{name}/grants"): P.MANAGE_USERS_AND_ROLES,
    ("GET", "/tokens"): P.MANAGE_USERS_AND_ROLES,
    ("POST", "/tokens"): P.MANAGE_USERS_AND_ROLES,
    ("DELETE", "/tokens/{token_id}"): P.MANAGE_USERS_AND_ROLES,
    ("GET", "/labels"): P.VIEW_DATA_USAGE_POLICIES,
    ("POST", "/labels"): P.MANAGE_DATA_USAGE_POLICIES,
    ("GET", "/datasets/{name}/labels"): P.VIEW_DATA_USAGE_POLICIES,
    ("POST", "/datasets/{name}/labels"): P.APPLY_DATA_USAGE_LABELS,
    ("DELETE", "/datasets/{name}/labels"): P.APPLY_DATA_USAGE_LABELS,
    ("GET", "/marketing-actions"): P.VIEW_DATA_USAGE_POLICIES,
    ("POST", "/marketing-actions"): P.MANAGE_DATA_USAGE_POLICIES,
    ("GET", "/policies"): P.VIEW_DATA_USAGE_POLICIES,
    ("POST", "/policies"): P.MANAGE_DATA_USAGE_POLICIES,
    ("POST", "/policies/{name}/enable"): P.MANAGE_DATA_USAGE_POLICIES,
    ("POST", "/policies/{name}/disable"): P.MANAGE_DATA_USAGE_POLICIES,
    ("GET", "/activations/{name}/policies"): P.VIEW_DATA_USAGE_POLICIES,
    ("POST", "/privacy/jobs"): P.MANAGE_PRIVACY_JOBS,
    ("GET", "/privacy/jobs"): P.MANAGE_PRIVACY_JOBS,
    ("GET", "/privacy/jobs/{job_id}"): P.MANAGE_PRIVACY_JOBS,
    ("GET", "/privacy/jobs/{job_id}/bundle"): P.MANAGE_PRIVACY_JOBS,
    ("GET", "/audit"): P.VIEW_USER_ACTIVITY_LOG,
    ("GET", "/audit/export"): P.VIEW_USER_ACTIVITY_LOG,
}
"""(method, path template) -> what the route needs."""

COMMANDS: dict[str, Requirement] = {
    "init": LOCAL,
    "serve": LOCAL,
    "worker": LOCAL,
    "demo": LOCAL,
    "functions": ANY_CALLER,
    "ingest": P.MANAGE_DATASETS,
    "activate": P.ACTIVATE_DESTINATIONS,
    **{f"schema {c}": P.MANAGE_SCHEMAS for c in ("create", "update", "delete")},
    **{f"schema {c}": P.VIEW_SCHEMAS for c in ("show", "list", "union")},
    **{f"fieldgroup {c}": P.VIEW_SCHEMAS for c in ("list", "show")},
    **{f"fieldgroup {c}": P.MANAGE_SCHEMAS for c in ("create", "update")},
    **{f"dataset {c}": P.VIEW_DATASETS for c in ("list", "show", "preview", "stats")},
    **{
        f"dataset {c}": P.MANAGE_DATASETS
        for c in ("create", "enable-profile", "delete-records", "ttl", "contract", "purge")
    },
    **{f"batch {c}": P.VIEW_DATASETS for c in ("show", "list", "errors")},
    "batch delete": P.MANAGE_DATASETS,
    "sandbox list": ANY_CALLER,
    "sandbox create": P.MANAGE_SANDBOXES,
    **{f"token {c}": P.MANAGE_USERS_AND_ROLES for c in ("create", "list", "revoke")},
    **{f"user {c}": P.MANAGE_USERS_AND_ROLES for c in ("create", "list", "show", "disable", "enable", "password")},
    **{f"role {c}": P.MANAGE_USERS_AND_ROLES for c in ("create", "grant", "revoke", "list")},
    "whoami": ANY_CALLER,
    **{f"label {c}": P.VIEW_DATA_USAGE_POLICIES for c in ("list", "show")},
    **{f"label {c}": P.APPLY_DATA_USAGE_LABELS for c in ("add", "remove")},
    "label create": P.MANAGE_DATA_USAGE_POLICIES,
    **{f"policy {c}": P.VIEW_DATA_USAGE_POLICIES for c in ("list", "evaluate")},
    **{f"policy {c}": P.MANAGE_DATA_USAGE_POLICIES for c in ("create", "enable", "disable")},
    "action list": P.VIEW_DATA_USAGE_POLICIES,
    "action create": P.MANAGE_DATA_USAGE_POLICIES,
    **{f"privacy {c}": P.MANAGE_PRIVACY_JOBS for c in ("access", "delete", "jobs")},
    "audit list": P.VIEW_USER_ACTIVITY_LOG,
    "audit export": P.VIEW_USER_ACTIVITY_LOG,
    **{f"sources {c}": P.VIEW_SOURCES for c in ("list", "show")},
    **{f"connection {c}": P.VIEW_SOURCES for c in ("show", "list")},
    **{f"connection {c}": P.MANAGE_SOURCES for c in ("create", "test", "delete")},
    **{f"dataflow {c}": P.VIEW_SOURCES for c in ("list",)},
    **{f"dataflow {c}": P.MANAGE_SOURCES for c in ("create", "edit", "run", "enable", "disable", "delete")},
    **{f"runs {c}": P.VIEW_SOURCES for c in ("list", "show")},
    "alert subscribe": P.MANAGE_SOURCES,
    **{f"alert {c}": P.VIEW_SOURCES for c in ("subscriptions", "list")},
    **{f"identity {c}": P.VIEW_IDENTITY_NAMESPACES for c in ("namespaces", "graph", "explain", "matches", "removals")},
    **{
        f"identity {c}": P.MANAGE_IDENTITY_NAMESPACES for c in ("create", "build", "match", "rules", "unlink", "remove")
    },
    "profile get": P.VIEW_PROFILES,
    "profile rebuild": P.MANAGE_PROFILES,
    **{f"computed {c}": P.MANAGE_COMPUTED_ATTRIBUTES for c in ("create", "update", "delete", "refresh")},
    **{f"computed {c}": P.VIEW_COMPUTED_ATTRIBUTES for c in ("list", "show")},
    **{f"segment {c}": P.MANAGE_SEGMENTS for c in ("create", "update", "delete", "run", "cancel")},
    **{f"segment {c}": P.VIEW_SEGMENTS for c in ("validate", "list", "show", "estimate", "members", "history")},
    "segment jobs": P.VIEW_SEGMENTS,
    **{f"segment schedule {c}": P.MANAGE_SEGMENTS for c in ("set", "disable")},
    "segment schedule show": P.VIEW_SEGMENTS,
    "mergepolicy create": P.MANAGE_MERGE_POLICIES,
    "mergepolicy list": P.VIEW_MERGE_POLICIES,
    **{f"destinations {c}": P.VIEW_DESTINATIONS for c in ("list", "show")},
    **{f"destination {c}": P.VIEW_DESTINATIONS for c in ("list", "show", "validate")},
    **{f"destination {c}": P.MANAGE_DESTINATIONS for c in ("connect", "test", "delete", "actions")},
    **{f"activation {c}": P.VIEW_DESTINATIONS for c in ("list", "show", "runs", "deadletters")},
    **{f"activation {c}": P.ACTIVATE_DESTINATIONS for c in ("create", "run", "enable", "disable", "delete", "replay")},
    "campaign init": LOCAL,
    "campaign serve": LOCAL,
    **{f"campaign {c}": P.VIEW_CAMPAIGN for c in ("loads", "status", "recipients")},
    **{f"campaign {c}": P.MANAGE_CAMPAIGN for c in ("import", "bounces", "opt-out", "export-logs")},
    "campaign connect": _CONNECT_CAMPAIGN,
    **{f"campaign list {c}": P.MANAGE_CAMPAIGN for c in ("subscribe", "create")},
    **{f"campaign list {c}": P.VIEW_CAMPAIGN for c in ("list", "members")},
    "campaign address add": P.MANAGE_CAMPAIGN,
    "campaign address list": P.VIEW_CAMPAIGN,
    **{f"campaign suppression {c}": P.MANAGE_CAMPAIGN for c in ("add", "remove")},
    "campaign suppression list": P.VIEW_CAMPAIGN,
    **{f"campaign delivery {c}": P.MANAGE_CAMPAIGN for c in ("create", "proof", "send")},
    **{f"campaign delivery {c}": P.VIEW_CAMPAIGN for c in ("list", "show", "check", "log")},
    **{f"campaign workflow {c}": P.MANAGE_CAMPAIGN for c in ("create", "update", "delete", "run", "resume")},
    **{f"campaign workflow {c}": P.VIEW_CAMPAIGN for c in ("list", "show", "runs", "show-run")},
    **{f"streaming {c}": P.VIEW_SOURCES for c in ("inlets", "show", "stats")},
    **{f"streaming {c}": P.MANAGE_SOURCES for c in ("create", "delete")},
    "streaming process": LOCAL,
}
"""command path (`"dataset create"`) -> what the command needs when it acts as an API token (`ACCORD_TOKEN`)."""


PAGES: dict[tuple[str, str], Requirement] = {
    ("GET", "/ui/login"): Open("public: the sign-in form"),
    ("POST", "/ui/login"): Open("public: signs a person in (failures limited per address, users locked out)"),
    ("POST", "/ui/logout"): ANY_CALLER,
    ("GET", "/ui"): ANY_CALLER,
    ("GET", "/ui/sources"): P.VIEW_SOURCES,
    ("GET", "/ui/sources/cards"): P.VIEW_SOURCES,
    ("GET", "/ui/static/{name}"): Open("public: the workspace's own scripts and styles"),
    # operations: each person sees only the ones they started
    ("GET", "/ui/operations"): ANY_CALLER,
    ("GET", "/ui/operations/{operation_id}"): ANY_CALLER,
    ("GET", "/ui/operations/{operation_id}/state"): ANY_CALLER,
    # sources
    ("GET", "/ui/sources/connections"): P.VIEW_SOURCES,
    ("GET", "/ui/sources/connections/{name}"): P.VIEW_SOURCES,
    ("GET", "/ui/sources/new-connection"): P.MANAGE_SOURCES,
    ("POST", "/ui/connections"): P.MANAGE_SOURCES,
    ("POST", "/ui/connections/{name}/test"): P.MANAGE_SOURCES,
    ("GET", "/ui/sources/dataflows"): P.VIEW_SOURCES,
    ("GET", "/ui/sources/dataflows/{name}"): P.VIEW_SOURCES,
    ("GET", "/ui/sources/runs/{run_id}"): P.VIEW_SOURCES,
    ("GET", "/ui/sources/new-dataflow"): P.MANAGE_SOURCES,
    ("POST", "/ui/sources/new-dataflow"): P.MANAGE_SOURCES,
    ("POST", "/ui/dataflows"): P.MANAGE_SOURCES,
    ("POST", "/ui/dataflows/{name}/runs"): P.MANAGE_SOURCES,
    # data
    ("GET", "/ui/data"): Open(
        "any signed-in person: it shows the sections (schemas, datasets, identity namespaces) "
        "whose View permission they hold"
    ),
    ("GET", "/ui/data/schemas"): P.VIEW_SCHEMAS,
    ("GET", "/ui/data/schemas/{name}"): P.VIEW_SCHEMAS,
    ("GET", "/ui/data/new-schema"): P.MANAGE_SCHEMAS,
    ("POST", "/ui/schemas"): P.MANAGE_SCHEMAS,
    ("GET", "/ui/data/datasets"): P.VIEW_DATASETS,
    ("GET", "/ui/data/datasets/{name}"): P.VIEW_DATASETS,
    ("GET", "/ui/data/batches/{batch_id}"): P.VIEW_DATASETS,
    ("GET", "/ui/data/new-dataset"): P.MANAGE_DATASETS,
    ("POST", "/ui/datasets"): P.MANAGE_DATASETS,
    ("POST", "/ui/datasets/{name}/ttl"): P.MANAGE_DATASETS,
    ("POST", "/ui/datasets/{name}/purge"): P.MANAGE_DATASETS,
    ("GET", "/ui/data/namespaces"): P.VIEW_IDENTITY_NAMESPACES,
    ("GET", "/ui/data/new-namespace"): P.MANAGE_IDENTITY_NAMESPACES,
    ("POST", "/ui/namespaces"): P.MANAGE_IDENTITY_NAMESPACES,
    # profiles
    ("GET", "/ui/profiles"): P.VIEW_PROFILES,
    ("GET", "/ui/profiles/view"): P.VIEW_PROFILES,
    ("GET", "/ui/profiles/unlink"): P.MANAGE_IDENTITY_NAMESPACES,
    ("POST", "/ui/profiles/unlink"): P.MANAGE_IDENTITY_NAMESPACES,
    # audiences
    ("GET", "/ui/audiences"): P.VIEW_SEGMENTS,
    ("GET", "/ui/audiences/new"): P.MANAGE_SEGMENTS,
    ("POST", "/ui/audiences/new"): P.MANAGE_SEGMENTS,
    ("POST", "/ui/audiences/check"): P.VIEW_SEGMENTS,
    ("GET", "/ui/audiences/{segment_id}"): P.VIEW_SEGMENTS,
    ("GET", "/ui/audiences/{segment_id}/edit"): P.MANAGE_SEGMENTS,
    ("POST", "/ui/audiences/{segment_id}/edit"): P.MANAGE_SEGMENTS,
    ("POST", "/ui/audiences/{segment_id}/jobs"): P.MANAGE_SEGMENTS,
    # destinations
    ("GET", "/ui/destinations"): P.VIEW_DESTINATIONS,
    ("GET", "/ui/destinations/cards"): P.VIEW_DESTINATIONS,
    ("GET", "/ui/destinations/configure/{destination}"): P.VIEW_DESTINATIONS,
    ("POST", "/ui/destinations/configure/{destination}"): P.MANAGE_DESTINATIONS,
    ("GET", "/ui/destinations/accounts"): P.VIEW_DESTINATIONS,
    ("GET", "/ui/destinations/accounts/{name}"): P.VIEW_DESTINATIONS,
    ("POST", "/ui/destinations/accounts/{name}/test"): P.MANAGE_DESTINATIONS,
    ("GET", "/ui/destinations/accounts/{name}/activate"): P.VIEW_DESTINATIONS,
    ("POST", "/ui/destinations/accounts/{name}/activate"): P.ACTIVATE_DESTINATIONS,
    ("GET", "/ui/destinations/activations"): P.VIEW_DESTINATIONS,
    ("GET", "/ui/destinations/activations/{name}"): P.VIEW_DESTINATIONS,
    ("GET", "/ui/destinations/activations/{name}/runs/{run_id}"): P.VIEW_DESTINATIONS,
    ("POST", "/ui/destinations/activations/{name}/enable"): P.ACTIVATE_DESTINATIONS,
    ("POST", "/ui/destinations/activations/{name}/disable"): P.ACTIVATE_DESTINATIONS,
    ("POST", "/ui/destinations/activations/{name}/runs"): P.ACTIVATE_DESTINATIONS,
    ("POST", "/ui/destinations/activations/{name}/deadletters/replay"): P.ACTIVATE_DESTINATIONS,
    # campaign
    ("GET", "/ui/campaign"): P.VIEW_CAMPAIGN,
    ("GET", "/ui/campaign/recipients"): P.VIEW_CAMPAIGN,
    ("GET", "/ui/campaign/recipients/{recipient_id}"): P.VIEW_CAMPAIGN,
    ("POST", "/ui/campaign/recipients/{recipient_id}/opt-out"): P.MANAGE_CAMPAIGN,
    ("GET", "/ui/campaign/lists"): P.VIEW_CAMPAIGN,
    ("GET", "/ui/campaign/lists/{list_id}"): P.VIEW_CAMPAIGN,
    ("GET", "/ui/campaign/workflows"): P.VIEW_CAMPAIGN,
    ("GET", "/ui/campaign/workflows/{name}"): P.VIEW_CAMPAIGN,
    ("POST", "/ui/campaign/workflows/{name}/run"): P.MANAGE_CAMPAIGN,
    ("GET", "/ui/campaign/deliveries"): P.VIEW_CAMPAIGN,
    ("GET", "/ui/campaign/deliveries/{delivery_id}"): P.VIEW_CAMPAIGN,
    ("GET", "/ui/campaign/deliveries/{delivery_id}/preview"): P.VIEW_CAMPAIGN,
    ("POST", "/ui/campaign/deliveries/{delivery_id}/check"): P.VIEW_CAMPAIGN,
    ("POST", "/ui/campaign/deliveries/{delivery_id}/proof"): P.MANAGE_CAMPAIGN,
    ("POST", "/ui/campaign/deliveries/{delivery_id}/send"): P.MANAGE_CAMPAIGN,
    # governance
    ("GET", "/ui/governance"): Open("any signed-in person; each section shows only with the permission it needs"),
    ("GET", "/ui/governance/labels"): P.VIEW_DATA_USAGE_POLICIES,
    ("GET", "/ui/governance/datasets/{name}"): P.VIEW_DATA_USAGE_POLICIES,
    ("POST", "/ui/labels"): P.MANAGE_DATA_USAGE_POLICIES,
    ("POST", "/ui/datasets/{name}/labels"): P.APPLY_DATA_USAGE_LABELS,
    ("POST", "/ui/datasets/{name}/labels/remove"): P.APPLY_DATA_USAGE_LABELS,
    ("GET", "/ui/governance/policies"): P.VIEW_DATA_USAGE_POLICIES,
    ("POST", "/ui/policies"): P.MANAGE_DATA_USAGE_POLICIES,
    ("POST", "/ui/policies/{name}/enable"): P.MANAGE_DATA_USAGE_POLICIES,
    ("POST", "/ui/policies/{name}/disable"): P.MANAGE_DATA_USAGE_POLICIES,
    ("GET", "/ui/governance/marketing-actions"): P.VIEW_DATA_USAGE_POLICIES,
    ("POST", "/ui/marketing-actions"): P.MANAGE_DATA_USAGE_POLICIES,
    ("GET", "/ui/governance/privacy"): P.MANAGE_PRIVACY_JOBS,
    ("GET", "/ui/governance/privacy/{job_id}"): P.MANAGE_PRIVACY_JOBS,
    ("GET", "/ui/governance/privacy/{job_id}/bundle"): P.MANAGE_PRIVACY_JOBS,
    ("POST", "/ui/privacy/jobs"): P.MANAGE_PRIVACY_JOBS,
    ("GET", "/ui/governance/activity"): P.VIEW_USER_ACTIVITY_LOG,
    ("GET", "/ui/governance/activity/export"): P.VIEW_USER_ACTIVITY_LOG,
    ("GET", "/ui/governance/users"): P.MANAGE_USERS_AND_ROLES,
    ("GET", "/ui/governance/users/{name}"): P.MANAGE_USERS_AND_ROLES,
    ("POST", "/ui/users"): P.MANAGE_USERS_AND_ROLES,
    ("POST", "/ui/users/{name}/disable"): P.MANAGE_USERS_AND_ROLES,
    ("POST", "/ui/users/{name}/enable"): P.MANAGE_USERS_AND_ROLES,
    ("POST", "/ui/users/{name}/grants"): P.MANAGE_USERS_AND_ROLES,
    ("POST", "/ui/users/{name}/grants/revoke"): P.MANAGE_USERS_AND_ROLES,
    ("GET", "/ui/governance/roles"): P.MANAGE_USERS_AND_ROLES,
    ("POST", "/ui/roles"): P.MANAGE_USERS_AND_ROLES,
}
"""The web workspace's pages and actions (`/ui`), checked as the API's routes are: a page shows only the
sections whose View permission its caller holds; an action needs what its API route needs."""


def route_requirement(method: str, path: str) -> Requirement | None:
    """What a route needs, or None when the table does not declare it (then nobody may call it)."""
    return ROUTES.get((method.upper(), path))


def permissions_document() -> str:
    """docs/permissions.md: the permissions, the built-in roles, and what each route and command needs."""
    from accord.access.permissions import BUILT_IN_ROLES

    lines = [
        "# Permissions",
        "",
        "Generated from `accord/access/requirements.py` and `accord/access/permissions.py` by "
        "`make docs-permissions`; a test fails when this page and the table disagree.",
        "",
        "A permission is held in a sandbox, through a role granted to a user in that sandbox or in every "
        "sandbox (`accord role grant`). A call that lacks one is answered 403 with the permission's name "
        "(`ACCESS-0405-403`). Permissions marked *home-wide* count only when granted in every sandbox.",
        "",
        "## Permissions",
        "",
        "| permission | allows |",
        "|---|---|",
    ]
    for permission in Permission:
        wide = " (*home-wide*)" if permission in HOME_WIDE else ""
        lines.append(f"| {permission.value}{wide} | {DESCRIPTIONS[permission]} |")
    lines += ["", "## Built-in roles", "", "| role | what it is for | permissions |", "|---|---|---|"]
    for name, (description, held) in BUILT_IN_ROLES.items():
        shown = "all" if held == frozenset(Permission) else ", ".join(p.value for p in Permission if p in held)
        lines.append(f"| {name} | {description} | {shown} |")
    lines += ["", "## REST routes", "", "| method | path | needs |", "|---|---|---|"]
    for (method, path), needed in sorted(ROUTES.items(), key=lambda item: (item[0][1], item[0][0])):
        lines.append(f"| {method} | `{path}` | {_shown(needed)} |")
    lines += [
        "",
        "## CLI commands",
        "",
        "The CLI acts as the home's owner, who holds every permission, unless `ACCORD_TOKEN` names an API token: "
        "then each command needs what this table says, in the sandbox it works in.",
        "",
        "| command | needs |",
        "|---|---|",
    ]
    for command, needed in sorted(COMMANDS.items()):
        lines.append(f"| `accord {command}` | {_shown(needed)} |")
    lines += ["", "## Web workspace", "", "| method | path | needs |", "|---|---|---|"]
    for (method, path), needed in sorted(PAGES.items(), key=lambda item: (item[0][1], item[0][0])):
        lines.append(f"| {method} | `{path}` | {_shown(needed)} |")
    lines += [
        "",
        "## Accounts of some destinations",
        "",
        "Creating an account (`POST /destinations/accounts`, `accord destination connect`) of these destinations "
        "needs a further permission besides Manage Destinations:",
        "",
        "| destination | also needs |",
        "|---|---|",
    ]
    lines += [f"| `{destination}` | {permission.value} |" for destination, permission in DESTINATION_NEEDS.items()]
    return "\n".join(lines) + "\n"


def _shown(needed: Requirement) -> str:
    return f"none: {needed.why}" if isinstance(needed, Open) else needed.value
