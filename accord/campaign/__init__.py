"""The campaign engine: its own database, recipients and lists, workflows, e-mail deliveries, tracking, and
the logs it sends back to the CDP. One instance per home; `accord serve` runs it, or `accord campaign serve`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.campaign.bounces import process_bounces
    from accord.campaign.database import CampaignDatabase
    from accord.campaign.engine import RECIPIENT_COLUMNS, CampaignEngine, initialise_engine
    from accord.campaign.recipients import (
        add_seed_address,
        address_problem,
        create_list,
        get_recipient,
        list_lists,
        list_member_ids,
        list_recipients,
        normalise_address,
        seed_addresses,
        set_opt_out,
        suppress,
        suppressions,
        unsuppress,
    )
    from accord.campaign.sending import send_delivery

_EXPORTS = {
    "bounces": ["process_bounces"],
    "database": ["CampaignDatabase"],
    "engine": ["RECIPIENT_COLUMNS", "CampaignEngine", "initialise_engine"],
    "recipients": [
        "add_seed_address",
        "address_problem",
        "create_list",
        "get_recipient",
        "list_lists",
        "list_member_ids",
        "list_recipients",
        "normalise_address",
        "seed_addresses",
        "set_opt_out",
        "suppress",
        "suppressions",
        "unsuppress",
    ],
    "sending": ["send_delivery"],
}
__all__ = lazy_face(__name__, _EXPORTS)
