"""Sources: the connector catalog, connections with encrypted secrets, dataflows and their runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.sources.alerts import list_alerts, list_subscriptions, subscribe
    from accord.sources.connections import (
        connection_document,
        create_connection,
        delete_connection,
        find_connection,
        get_connection,
        list_connections,
        seal_clear_secrets,
        split_spec_secrets,
        step_documents,
        test_connection,
        validate_spec_config,
    )
    from accord.sources.dataflows import (
        Schedule,
        create_dataflow,
        dataflow_document,
        delete_dataflow,
        find_dataflow,
        list_dataflows,
        set_enabled,
        update_dataflow,
    )
    from accord.sources.diagnostics import run_row_errors
    from accord.sources.drafts import draft_problems, preview_dataflow, target_fields
    from accord.sources.files import FileSelection, FileStoreSource, RemoteFile
    from accord.sources.listing import read_connections
    from accord.sources.registry import connector_class, connector_ids, connector_spec, list_connectors
    from accord.sources.runs import get_run, list_runs, run_dataflow, run_health
    from accord.sources.secrets import SecretBox, ensure_key_file
    from accord.sources.spec import (
        LOCAL_PATH,
        SECRET,
        Capabilities,
        Checkpoint,
        CheckStep,
        ConnectorSpec,
        IngestItem,
        PluginSpec,
        ReadContext,
        Source,
        marked_fields,
    )
    from accord.sources.stores.azure import (
        AzureLocation,
        azure_container,
        azure_container_steps,
        azure_error_code,
        azure_error_message,
    )
    from accord.sources.stores.s3 import S3Location, s3_bucket_steps, s3_client, s3_error_code, s3_error_message
    from accord.sources.stores.sftp import (
        SftpLogin,
        SftpSession,
        host_key_fingerprint,
        open_sftp,
        sftp_folder_failure,
    )

_EXPORTS = {
    "listing": ["read_connections"],
    "connections": [
        "connection_document",
        "create_connection",
        "delete_connection",
        "find_connection",
        "get_connection",
        "list_connections",
        "seal_clear_secrets",
        "split_spec_secrets",
        "step_documents",
        "test_connection",
        "validate_spec_config",
    ],
    "dataflows": [
        "Schedule",
        "create_dataflow",
        "dataflow_document",
        "delete_dataflow",
        "find_dataflow",
        "list_dataflows",
        "set_enabled",
        "update_dataflow",
    ],
    "alerts": ["list_alerts", "list_subscriptions", "subscribe"],
    "diagnostics": ["run_row_errors"],
    "drafts": ["draft_problems", "preview_dataflow", "target_fields"],  # the workspace's dataflow wizard
    "files": ["FileSelection", "FileStoreSource", "RemoteFile"],  # the campaign's file collector lists with these
    "registry": ["connector_class", "connector_ids", "connector_spec", "list_connectors"],
    "runs": ["get_run", "list_runs", "run_dataflow", "run_health"],
    "secrets": ["SecretBox", "ensure_key_file"],
    "spec": [
        "LOCAL_PATH",
        "SECRET",
        "Capabilities",
        "CheckStep",
        "Checkpoint",
        "ConnectorSpec",
        "IngestItem",
        "PluginSpec",
        "ReadContext",
        "Source",
        "marked_fields",
    ],
    # remote file stores, shared with the destinations that write to them
    "stores.azure": [
        "AzureLocation",
        "azure_container",
        "azure_container_steps",
        "azure_error_code",
        "azure_error_message",
    ],
    "stores.s3": ["S3Location", "s3_bucket_steps", "s3_client", "s3_error_code", "s3_error_message"],
    "stores.sftp": ["SftpLogin", "SftpSession", "host_key_fingerprint", "open_sftp", "sftp_folder_failure"],
}
__all__ = lazy_face(__name__, _EXPORTS)
