"""Who may call Accord: API tokens now; roles and per-sandbox permissions later."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.access.tokens import Principal, authenticate, create_token, list_tokens, revoke_token

_EXPORTS = {
    "tokens": ["Principal", "authenticate", "create_token", "list_tokens", "revoke_token"],
}
__all__ = lazy_face(__name__, _EXPORTS)
