"""Sources: the connector catalog, connections with encrypted secrets, dataflows and their runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
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
    from accord.sources.listing import read_connections
    from accord.sources.registry import connector_ids, connector_spec, list_connectors
    from accord.sources.runs import get_run, list_runs, run_dataflow
    from accord.sources.secrets import SecretBox, ensure_key_file
    from accord.sources.spec import Capabilities, Checkpoint, CheckStep, ConnectorSpec, IngestItem, ReadContext, Source

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
        "test_connection",
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
    "registry": ["connector_ids", "connector_spec", "list_connectors"],
    "runs": ["get_run", "list_runs", "run_dataflow"],
    "secrets": ["SecretBox", "ensure_key_file"],
    "spec": ["Capabilities", "CheckStep", "Checkpoint", "ConnectorSpec", "IngestItem", "ReadContext", "Source"],
}
__all__ = lazy_face(__name__, _EXPORTS)
