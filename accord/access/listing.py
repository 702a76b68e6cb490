"""API tokens as lists show them (never their values nor hashes): one statement for the CLI and the API."""

from __future__ import annotations

from typing import Any

from accord.catalog.reading import CatalogReader, utc_time

TOKENS = """
SELECT t.id, t.name, u.name AS user, t.role, s.name AS sandbox, t.created_at, t.expires_at, t.revoked_at
FROM api_tokens t
LEFT JOIN sandboxes s ON s.id = t.sandbox_id
LEFT JOIN users u ON u.id = t.user_id
"""
ALL_TOKENS = TOKENS + "ORDER BY t.created_at, t.id"
ONE_TOKEN = TOKENS + "WHERE t.id = :token_id"


def read_tokens(reader: CatalogReader, token_id: str | None = None) -> list[dict[str, Any]]:
    """Every token (or the one `token_id` names), oldest first: its name, its user, the role and sandbox it is
    narrowed to (None: all its user holds, every sandbox), when it ends, and if revoked."""
    rows = reader.rows(ALL_TOKENS) if token_id is None else reader.rows(ONE_TOKEN, token_id=token_id)
    return [
        {
            "id": row["id"],
            "name": row["name"],
            "user": row["user"],
            "role": row["role"],
            "sandbox": row["sandbox"],
            "createdAt": utc_time(row["created_at"]).isoformat(),  # type: ignore[union-attr]
            "expiresAt": expires.isoformat() if (expires := utc_time(row["expires_at"])) is not None else None,
            "revoked": row["revoked_at"] is not None,
        }
        for row in rows
    ]
