"""Who may call Accord and what they may name: API tokens with a role and a sandbox scope; the
folders of this machine that callers may point at."""

from accord.access.paths import AllowedRoots, PathNotAllowedError
from accord.access.tokens import (
    ROLES,
    AdminOnlyError,
    Principal,
    SandboxForbiddenError,
    authenticate,
    authorize_sandbox,
    create_token,
    list_tokens,
    require_admin,
    revoke_token,
)

__all__ = [
    "ROLES",
    "AdminOnlyError",
    "AllowedRoots",
    "PathNotAllowedError",
    "Principal",
    "SandboxForbiddenError",
    "authenticate",
    "authorize_sandbox",
    "create_token",
    "list_tokens",
    "require_admin",
    "revoke_token",
]
