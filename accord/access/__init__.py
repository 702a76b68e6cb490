"""Who may call Accord: API tokens now; roles and per-sandbox permissions later."""

from accord.access.tokens import Principal, authenticate, create_token, list_tokens, revoke_token

__all__ = ["Principal", "authenticate", "create_token", "list_tokens", "revoke_token"]
