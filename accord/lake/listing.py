"""Datasets as lists show them: one statement, for the CLI's quick path and the API alike."""

from __future__ import annotations

from typing import Any

from accord.catalog.reading import CatalogReader, utc_time

ALL_DATASETS = """
SELECT d.id, d.name, s.name AS schema_name, s.class_name, d.profile_enabled, d.ttl_days, d.schema_contract,
       d.created_at,
       COUNT(b.id) AS batch_count, COALESCE(SUM(b.output_record_count), 0) AS row_count
FROM datasets d
LEFT JOIN schemas s ON s.id = d.schema_id
LEFT JOIN batches b ON b.dataset_id = d.id AND b.status = 'success'
WHERE d.sandbox_id = :sandbox_id
GROUP BY d.id, d.name, s.name, s.class_name, d.profile_enabled, d.ttl_days, d.schema_contract, d.created_at
ORDER BY d.name
"""
ONE_DATASET = """
SELECT d.id, d.name, s.name AS schema_name, s.class_name, d.profile_enabled, d.ttl_days, d.schema_contract,
       d.created_at,
       COUNT(b.id) AS batch_count, COALESCE(SUM(b.output_record_count), 0) AS row_count
FROM datasets d
LEFT JOIN schemas s ON s.id = d.schema_id
LEFT JOIN batches b ON b.dataset_id = d.id AND b.status = 'success'
WHERE d.sandbox_id = :sandbox_id AND d.id = :dataset_id
GROUP BY d.id, d.name, s.name, s.class_name, d.profile_enabled, d.ttl_days, d.schema_contract, d.created_at
"""


def read_datasets(reader: CatalogReader, sandbox_id: str, dataset_id: str | None = None) -> list[dict[str, Any]]:
    """The sandbox's datasets (or the one with `dataset_id`) by name, with their successful batches counted."""
    if dataset_id is None:
        rows = reader.rows(ALL_DATASETS, sandbox_id=sandbox_id)
    else:
        rows = reader.rows(ONE_DATASET, sandbox_id=sandbox_id, dataset_id=dataset_id)
    return [
        {
            "id": row["id"],
            "name": row["name"],
            "schema": row["schema_name"],
            "class": row["class_name"],
            "profileEnabled": bool(row["profile_enabled"]),
            "ttlDays": row["ttl_days"],
            "schemaContract": row["schema_contract"],
            "createdAt": utc_time(row["created_at"]).isoformat(),  # type: ignore[union-attr]
            "batchCount": int(row["batch_count"]),
            "rowCount": int(row["row_count"]),  # PostgreSQL sums big integers as decimals
        }
        for row in rows
    ]
