"""Connections as lists show them (never their secrets): one statement, for the CLI's quick path and the API."""

from __future__ import annotations

from typing import Any

from accord.catalog.reading import CatalogReader, json_value, utc_time

SHOWN_COLUMNS = ("id", "name", "connector", "config", "secret_fields", "created_at")
ALL_CONNECTIONS = """
SELECT id, name, connector, config, secret_fields, created_at FROM connections
WHERE sandbox_id = :sandbox_id ORDER BY name
"""
ONE_CONNECTION = """
SELECT id, name, connector, config, secret_fields, created_at FROM connections
WHERE sandbox_id = :sandbox_id AND id = :connection_id
"""


def read_connections(reader: CatalogReader, sandbox_id: str, connection_id: str | None = None) -> list[dict[str, Any]]:
    """The sandbox's connections (or the one with `connection_id`) by name: secret fields are named, never given."""
    if connection_id is None:
        rows = reader.rows(ALL_CONNECTIONS, sandbox_id=sandbox_id)
    else:
        rows = reader.rows(ONE_CONNECTION, sandbox_id=sandbox_id, connection_id=connection_id)
    return [connection_from_row(row) for row in rows]


def connection_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """A connection as the API and CLI show it, from its columns (as stored, or as a record holds them)."""
    return {
        "id": row["id"],
        "name": row["name"],
        "connector": row["connector"],
        "config": json_value(row["config"]),
        "secretFields": list(json_value(row["secret_fields"]) or []),
        "createdAt": utc_time(row["created_at"]).isoformat(),  # type: ignore[union-attr]
    }
