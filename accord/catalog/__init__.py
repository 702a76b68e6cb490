"""Operational metadata: sandboxes, schemas, datasets, batches, tokens. SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.catalog.activations import ActivationFlowRecord
    from accord.catalog.database import Catalog, Database, SessionReader
    from accord.catalog.exceptions import (
        CatalogAuthenticationError,
        CatalogUnavailableError,
        NotInitialisedError,
        redact_url,
    )
    from accord.catalog.health import run_health_rows
    from accord.catalog.models import (
        ActivityRecord,
        AlertRecord,
        AlertSubscriptionRecord,
        ApiToken,
        BatchRecord,
        BatchSourceRecord,
        ComputedAttributeRecord,
        ConnectionRecord,
        CustomLabelRecord,
        DataflowRecord,
        DataLabelRecord,
        DatasetRecord,
        FieldGroupRecord,
        FlowRunRecord,
        IdentityNamespaceRecord,
        IdentityRemovalRecord,
        IdentityRulesRecord,
        JobLeaseRecord,
        MarketingActionRecord,
        MergePolicyRecord,
        PolicyRecord,
        RoleGrantRecord,
        RoleRecord,
        Sandbox,
        SchemaRecord,
        SegmentDefinitionRecord,
        SegmentJobRecord,
        SegmentScheduleRecord,
        SessionRecord,
        UserRecord,
        UtcDateTime,
        aware,
        new_id,
        utcnow,
    )
    from accord.catalog.reading import (
        CatalogReader,
        clear_secrets_pending,
        head_revision,
        json_value,
        needs_work,
        quick_reader,
        sandbox_id_of,
        utc_time,
    )
    from accord.catalog.sandboxes import (
        DEFAULT_SANDBOX,
        create_sandbox,
        list_sandboxes,
        resolve_sandbox,
        sandbox_document,
    )

_EXPORTS = {
    "activations": ["ActivationFlowRecord"],
    "database": ["Catalog", "Database", "SessionReader"],
    "exceptions": ["CatalogAuthenticationError", "CatalogUnavailableError", "NotInitialisedError", "redact_url"],
    "models": [
        "ActivityRecord",
        "AlertRecord",
        "AlertSubscriptionRecord",
        "ApiToken",
        "BatchRecord",
        "BatchSourceRecord",
        "ComputedAttributeRecord",
        "ConnectionRecord",
        "CustomLabelRecord",
        "DataflowRecord",
        "DataLabelRecord",
        "DatasetRecord",
        "FieldGroupRecord",
        "FlowRunRecord",
        "IdentityNamespaceRecord",
        "IdentityRemovalRecord",
        "IdentityRulesRecord",
        "JobLeaseRecord",
        "MarketingActionRecord",
        "MergePolicyRecord",
        "PolicyRecord",
        "RoleGrantRecord",
        "RoleRecord",
        "Sandbox",
        "SchemaRecord",
        "SegmentDefinitionRecord",
        "SegmentJobRecord",
        "SegmentScheduleRecord",
        "SessionRecord",
        "UserRecord",
        "UtcDateTime",
        "aware",
        "new_id",
        "utcnow",
    ],
    "health": ["run_health_rows"],
    "reading": [
        "CatalogReader",
        "clear_secrets_pending",
        "head_revision",
        "json_value",
        "needs_work",
        "quick_reader",
        "sandbox_id_of",
        "utc_time",
    ],
    "sandboxes": ["DEFAULT_SANDBOX", "create_sandbox", "list_sandboxes", "resolve_sandbox", "sandbox_document"],
}
__all__ = lazy_face(__name__, _EXPORTS)
