"""Who may call Accord and what they may do: users and service accounts, roles granted per sandbox, API
tokens that act for a user, the table of what each route and command needs; the folders of this machine
that callers may point at."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.access.activity import (
        Activity,
        ActivityQuery,
        command_activity,
        export_activity,
        list_activity,
        parse_since,
        record,
        route_activity,
    )
    from accord.access.listing import read_tokens
    from accord.access.paths import AllowedRoots, PathNotAllowedError
    from accord.access.permissions import BUILT_IN_ROLES, HOME_WIDE, Permission
    from accord.access.principal import (
        EVERY_SANDBOX,
        PermissionMissingError,
        Principal,
        SandboxForbiddenError,
        authorize_sandbox,
        campaign_withheld,
        require,
        require_for_account,
    )
    from accord.access.requirements import (
        ANY_CALLER,
        COMMANDS,
        DESTINATION_NEEDS,
        LOCAL,
        PAGES,
        ROUTES,
        AllOf,
        Open,
        Requirement,
        changes_nothing,
        permissions_document,
        permissions_needed,
        route_requirement,
    )
    from accord.access.roles import create_role, grant_role, list_roles, revoke_role
    from accord.access.tokens import authenticate, create_token, parse_expiry, revoke_token
    from accord.access.users import OWNER, create_user, list_users, set_disabled, set_password, show_user

_EXPORTS = {
    "activity": [
        "Activity",
        "ActivityQuery",
        "command_activity",
        "export_activity",
        "list_activity",
        "parse_since",
        "record",
        "route_activity",
    ],
    "listing": ["read_tokens"],
    "paths": ["AllowedRoots", "PathNotAllowedError"],
    "permissions": ["BUILT_IN_ROLES", "HOME_WIDE", "Permission"],
    "principal": [
        "EVERY_SANDBOX",
        "PermissionMissingError",
        "Principal",
        "SandboxForbiddenError",
        "authorize_sandbox",
        "campaign_withheld",
        "require",
        "require_for_account",
    ],
    "requirements": [
        "ANY_CALLER",
        "COMMANDS",
        "DESTINATION_NEEDS",
        "LOCAL",
        "PAGES",
        "ROUTES",
        "AllOf",
        "Open",
        "Requirement",
        "changes_nothing",
        "permissions_document",
        "permissions_needed",
        "route_requirement",
    ],
    "roles": ["create_role", "grant_role", "list_roles", "revoke_role"],
    "tokens": ["authenticate", "create_token", "parse_expiry", "revoke_token"],
    "users": ["OWNER", "create_user", "list_users", "set_disabled", "set_password", "show_user"],
}
__all__ = lazy_face(__name__, _EXPORTS)
