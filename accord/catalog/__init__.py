"""Operational metadata: sandboxes, schemas, datasets, batches, tokens. SQLite by default, PostgreSQL by URL."""

from accord.catalog.database import Catalog
from accord.catalog.exceptions import CatalogUnavailableError, NotInitialisedError, redact_url
from accord.catalog.models import (
    AlertRecord,
    AlertSubscriptionRecord,
    ApiToken,
    BatchRecord,
    BatchSourceRecord,
    ConnectionRecord,
    DataflowRecord,
    DatasetRecord,
    FieldGroupRecord,
    FlowRunRecord,
    IdentityNamespaceRecord,
    IdentityRulesRecord,
    MergePolicyRecord,
    Sandbox,
    SchemaRecord,
    new_id,
    utcnow,
)
from accord.catalog.sandboxes import (
    DEFAULT_SANDBOX,
    create_sandbox,
    list_sandboxes,
    resolve_sandbox,
    sandbox_document,
)

__all__ = [
    "DEFAULT_SANDBOX",
    "AlertRecord",
    "AlertSubscriptionRecord",
    "ApiToken",
    "BatchRecord",
    "BatchSourceRecord",
    "Catalog",
    "CatalogUnavailableError",
    "ConnectionRecord",
    "DataflowRecord",
    "DatasetRecord",
    "FieldGroupRecord",
    "FlowRunRecord",
    "IdentityNamespaceRecord",
    "IdentityRulesRecord",
    "MergePolicyRecord",
    "NotInitialisedError",
    "Sandbox",
    "SchemaRecord",
    "create_sandbox",
    "list_sandboxes",
    "new_id",
    "redact_url",
    "resolve_sandbox",
    "sandbox_document",
    "utcnow",
]
