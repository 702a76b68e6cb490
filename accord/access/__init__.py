"""Who may call Accord and what they may name: API tokens with a role and a sandbox scope; the
folders of this machine that callers may point at."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.access.listing import read_tokens
    from accord.access.paths import AllowedRoots, PathNotAllowedError
    from accord.access.tokens import (
        ROLES,
        AdminOnlyError,
        Principal,
        SandboxForbiddenError,
        authenticate,
        authorize_sandbox,
        create_token,
        require_admin,
        revoke_token,
    )

_EXPORTS = {
    "listing": ["read_tokens"],
    "paths": ["AllowedRoots", "PathNotAllowedError"],
    "tokens": [
        "AdminOnlyError",
        "Principal",
        "ROLES",
        "SandboxForbiddenError",
        "authenticate",
        "authorize_sandbox",
        "create_token",
        "require_admin",
        "revoke_token",
    ],
}
__all__ = lazy_face(__name__, _EXPORTS)
