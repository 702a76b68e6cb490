"""Who may call Accord and what they may name: API tokens (roles and per-sandbox permissions later);
the folders of this machine that callers may point at."""

from accord.access.paths import AllowedRoots, PathNotAllowedError
from accord.access.tokens import Principal, authenticate, create_token, list_tokens, revoke_token

__all__ = [
    "AllowedRoots",
    "PathNotAllowedError",
    "Principal",
    "authenticate",
    "create_token",
    "list_tokens",
    "revoke_token",
]
