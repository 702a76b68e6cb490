"""Sources: the connector catalog, connections with encrypted secrets, dataflows and their runs."""

from accord.sources.connections import (
    connection_document,
    create_connection,
    delete_connection,
    find_connection,
    get_connection,
    list_connections,
    seal_clear_secrets,
    test_connection,
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
from accord.sources.registry import connector_ids, connector_spec, list_connectors
from accord.sources.runs import get_run, list_runs, run_dataflow
from accord.sources.secrets import SecretBox, ensure_key_file
from accord.sources.spec import Capabilities, Checkpoint, CheckStep, ConnectorSpec, IngestItem, ReadContext, Source

__all__ = [
    "Capabilities",
    "CheckStep",
    "Checkpoint",
    "ConnectorSpec",
    "IngestItem",
    "ReadContext",
    "Schedule",
    "SecretBox",
    "Source",
    "connection_document",
    "connector_ids",
    "connector_spec",
    "create_connection",
    "create_dataflow",
    "dataflow_document",
    "delete_connection",
    "delete_dataflow",
    "ensure_key_file",
    "find_connection",
    "find_dataflow",
    "get_connection",
    "get_run",
    "list_connections",
    "list_connectors",
    "list_dataflows",
    "list_runs",
    "run_dataflow",
    "seal_clear_secrets",
    "set_enabled",
    "test_connection",
    "update_dataflow",
]
