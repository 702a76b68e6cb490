"""Destinations: the destination catalog, accounts, activation flows that send audiences out, and their runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.destinations.accounts import (
        account_document,
        create_account,
        delete_account,
        find_account,
        get_account,
        list_accounts,
        open_destination,
        test_account,
    )
    from accord.destinations.drafts import evaluate_draft, exportable_sources
    from accord.destinations.erasure import (
        ActivationsErased,
        dead_letters_of,
        export_folders,
        files_naming,
        flows_held,
        forget_dead_letters,
        forget_snapshots,
        scratch_folder,
        scrub_folders,
        snapshots_of,
    )
    from accord.destinations.flows import (
        FlowDefinition,
        find_flow,
        get_flow,
        list_flows,
        parse_definition,
        set_state,
    )
    from accord.destinations.following import Followers, follow_once
    from accord.destinations.health import run_health
    from accord.destinations.registry import (
        destination_class,
        destination_ids,
        destination_spec,
        list_destinations,
        register_declared,
    )
    from accord.destinations.runs import delete_flow, get_run, list_runs, run_activation
    from accord.destinations.spec import (
        FREQUENCIES,
        Aggregation,
        Destination,
        DestinationSpec,
        ExportFile,
        FileDestination,
        FileOptions,
        HttpRequest,
        Limits,
        ProfileRow,
        RequestContext,
        StreamingConfig,
        StreamingDestination,
    )
    from accord.destinations.streaming.deadletters import (
        CatalogDeadLetters,
        DeadLetterSink,
        count_dead_letters,
        list_dead_letters,
        replay_dead_letters,
    )
    from accord.destinations.streaming.declared import render_sample, validate_declared_file
    from accord.destinations.streaming.lanes import DeliveryResult, deliver, deliver_async
    from accord.destinations.usage import (
        change_segment_checked,
        create_flow,
        evaluate_flow,
        set_account_actions,
        update_segment_checked,
    )

_EXPORTS = {
    "erasure": [
        "ActivationsErased",
        "dead_letters_of",
        "export_folders",
        "files_naming",
        "flows_held",
        "forget_dead_letters",
        "forget_snapshots",
        "scratch_folder",
        "scrub_folders",
        "snapshots_of",
    ],
    "accounts": [
        "account_document",
        "create_account",
        "delete_account",
        "find_account",
        "get_account",
        "list_accounts",
        "open_destination",
        "test_account",
    ],
    "drafts": ["evaluate_draft", "exportable_sources"],
    "following": ["Followers", "follow_once"],
    "flows": ["FlowDefinition", "find_flow", "get_flow", "list_flows", "parse_definition", "set_state"],
    "registry": ["destination_class", "destination_ids", "destination_spec", "list_destinations", "register_declared"],
    "runs": ["delete_flow", "get_run", "list_runs", "run_activation"],
    "health": ["run_health"],
    "usage": [
        "change_segment_checked",
        "create_flow",
        "evaluate_flow",
        "set_account_actions",
        "update_segment_checked",
    ],
    "spec": [
        "FREQUENCIES",
        "Aggregation",
        "Destination",
        "DestinationSpec",
        "ExportFile",
        "FileDestination",
        "FileOptions",
        "HttpRequest",
        "Limits",
        "ProfileRow",
        "RequestContext",
        "StreamingConfig",
        "StreamingDestination",
    ],
    "streaming.deadletters": [
        "CatalogDeadLetters",
        "DeadLetterSink",
        "count_dead_letters",
        "list_dead_letters",
        "replay_dead_letters",
    ],
    "streaming.declared": ["render_sample", "validate_declared_file"],
    "streaming.lanes": ["DeliveryResult", "deliver", "deliver_async"],
}
__all__ = lazy_face(__name__, _EXPORTS)
