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
    from accord.destinations.registry import destination_ids, destination_spec, list_destinations
    from accord.destinations.spec import (
        FREQUENCIES,
        Destination,
        DestinationSpec,
        ExportFile,
        FileDestination,
        FileOptions,
        Limits,
    )

_EXPORTS = {
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
    "registry": ["destination_ids", "destination_spec", "list_destinations"],
    "spec": ["FREQUENCIES", "Destination", "DestinationSpec", "ExportFile", "FileDestination", "FileOptions", "Limits"],
}
__all__ = lazy_face(__name__, _EXPORTS)
