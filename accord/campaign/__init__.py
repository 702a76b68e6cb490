"""The campaign engine: its own database, recipients and lists, workflows, e-mail deliveries, tracking, and
the logs it sends back to the CDP. One instance per home; `accord serve` runs it, or `accord campaign serve`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.faces import lazy_face

if TYPE_CHECKING:
    from accord.campaign.bounces import process_bounces
    from accord.campaign.broadlog import delivery_log, recipient_deliveries
    from accord.campaign.database import CampaignDatabase
    from accord.campaign.deliveries import (
        check_delivery,
        create_delivery,
        get_delivery,
        list_deliveries,
        preview_delivery,
        proof,
        target_recipients,
    )
    from accord.campaign.engine import RECIPIENT_COLUMNS, CampaignEngine, initialise_engine
    from accord.campaign.erasure import (
        CampaignErased,
        bounce_messages_naming,
        forget_recipients,
        instance_folders,
        recipients_of,
    )
    from accord.campaign.exceptions import MissingFieldError, TemplateCheckError, TrackingLinkError
    from accord.campaign.mailer import send_messages, send_proof, subscribe_and_confirm
    from accord.campaign.messages import MESSAGE_POLICY, DeliveryContent, MessageFactory, Renderer, render_message
    from accord.campaign.queries import compile_filter
    from accord.campaign.recipients import (
        add_seed_address,
        address_problem,
        create_list,
        get_list,
        get_recipient,
        list_lists,
        list_member_ids,
        list_recipients,
        normalise_address,
        recipient_lists,
        seed_addresses,
        set_opt_out,
        suppress,
        suppressions,
        unsuppress,
    )
    from accord.campaign.sending import send_delivery
    from accord.campaign.subscriptions import confirm_subscription, subscribe, subscription
    from accord.campaign.summary import campaign_summary, engagement
    from accord.campaign.templates import compile_templates
    from accord.campaign.tracking import record_click, record_open, unsubscribe, unsubscription

_EXPORTS = {
    "erasure": ["CampaignErased", "bounce_messages_naming", "forget_recipients", "instance_folders", "recipients_of"],
    "bounces": ["process_bounces"],
    "broadlog": ["delivery_log", "recipient_deliveries"],
    "database": ["CampaignDatabase"],
    "deliveries": [
        "check_delivery",
        "create_delivery",
        "get_delivery",
        "list_deliveries",
        "preview_delivery",
        "proof",
        "target_recipients",
    ],
    "engine": ["RECIPIENT_COLUMNS", "CampaignEngine", "initialise_engine"],
    "exceptions": ["MissingFieldError", "TemplateCheckError", "TrackingLinkError"],
    "mailer": ["send_messages", "send_proof", "subscribe_and_confirm"],
    "messages": ["MESSAGE_POLICY", "DeliveryContent", "MessageFactory", "Renderer", "render_message"],
    "queries": ["compile_filter"],
    "recipients": [
        "add_seed_address",
        "address_problem",
        "create_list",
        "get_list",
        "get_recipient",
        "list_lists",
        "list_member_ids",
        "list_recipients",
        "normalise_address",
        "recipient_lists",
        "seed_addresses",
        "set_opt_out",
        "suppress",
        "suppressions",
        "unsuppress",
    ],
    "sending": ["send_delivery"],
    "summary": ["campaign_summary", "engagement"],
    "subscriptions": ["confirm_subscription", "subscribe", "subscription"],
    "templates": ["compile_templates"],
    "tracking": ["record_click", "record_open", "unsubscribe", "unsubscription"],
}
__all__ = lazy_face(__name__, _EXPORTS)
