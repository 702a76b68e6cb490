"""Row-level identity error code, beside the ingestion codes."""

INVALID_IDENTITY = "INGEST-1218-400"
TOO_MANY_IDENTITIES = "INGEST-1219-400"
