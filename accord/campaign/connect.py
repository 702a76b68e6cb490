"""`accord campaign connect`: both directions between a CDP sandbox and a campaign instance, in one step.

Out: an `accord-campaign` destination account whose root is the instance's landing folder (the flows
that send audiences to it are the user's to make: which audiences, which fields). Back: schemas and
profile-enabled datasets for the delivery logs, the tracking logs and the consents that unsubscribes
change, a connection to the instance's logs folder, and one dataflow per file kind, hourly. The logs
join profiles by the recipients' external id, in the namespace the audiences were sent with (CRMID
unless told otherwise). What exists already is kept and said so: running it again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accord.campaign.exceptions import CampaignInputError

RECIPIENT_GROUP = {
    "name": "campaign-recipient",
    "title": "Campaign recipient",
    "classes": ["profile"],
    "fields": {"_tenant": {"type": "object", "properties": {"campaignRecipient": {"type": "object", "properties": {
        "externalID": {"type": "string", "maxLength": 255}}}}}},
}  # fmt: skip
"""A profile field for the recipient's external id: the identity of the consent records."""

_DELIVERY = "_experience.campaign.delivery"
_TRACKING = "_experience.campaign.tracking"


@dataclass(frozen=True)
class Instance:
    """What the CDP needs to know of a campaign instance: its name and its two folders."""

    name: str
    landing: str
    logs: str


def instance_document(engine: Any) -> dict[str, Any]:
    """What `GET /campaign/instance` answers, and what `connect` reads of a remote instance."""
    return {"instance": engine.name, "landing": str(engine.landing), "logs": str(engine.logs),
            "targetMappings": ["recipient"], "limits": {
                "audiences": engine.settings.campaign_max_audiences, "fields": engine.settings.campaign_max_fields,
                "activeProfiles": engine.settings.campaign_max_active_profiles,
                "landingBytes": int(engine.settings.campaign_max_landing_bytes)}}  # fmt: skip


def remote_instance(url: str, token: str, timeout: float = 10) -> Instance:
    """Ask a campaign instance that runs elsewhere (`accord serve` or `accord campaign serve`) what it is."""
    import httpx

    try:
        answer = httpx.get(f"{url.rstrip('/')}/campaign/instance", headers={"Authorization": f"Bearer {token}"},
                           timeout=timeout)  # fmt: skip
    except httpx.HTTPError as exc:
        raise CampaignInputError(f"cannot reach the campaign instance at {url}: {exc}", url=url) from None
    if answer.status_code in (401, 403):
        raise CampaignInputError(f"the campaign instance at {url} refused the token ({answer.status_code})", url=url)
    if answer.status_code != 200:
        raise CampaignInputError(f"the campaign instance at {url} answered {answer.status_code}", url=url)
    try:
        body = answer.json()
        return Instance(name=body["instance"], landing=body["landing"], logs=body["logs"])
    except (ValueError, KeyError, TypeError):
        raise CampaignInputError(f"{url} did not answer as a campaign instance does", url=url) from None


def connect(workspace: Any, sandbox: str, instance: Instance, *, namespace: str = "CRMID",
            every: str = "hour") -> dict[str, Any]:  # fmt: skip
    """Set up both directions for `instance` in `sandbox`; what was created and what was there already."""
    from accord import destinations, lake, schema, sources
    from accord.access import AllowedRoots
    from accord.errors import ConflictError

    prefix = f"campaign-{instance.name}"
    created: list[str] = []
    kept: list[str] = []

    def make(what: str, action: Any) -> None:
        try:
            action()
            created.append(what)
        except ConflictError:
            kept.append(what)

    settings = workspace.settings
    box, roots = sources.SecretBox(settings.home), AllowedRoots.from_settings(settings)
    with workspace.catalog.session() as session:
        make(f"destination account {prefix}", lambda: destinations.create_account(
            session, box, sandbox, prefix, "accord-campaign",
            {"instance": instance.name, "targetMapping": "recipient", "root": instance.landing}, roots))  # fmt: skip
        make("field group campaign-recipient", lambda: schema.create_field_group(session, sandbox, RECIPIENT_GROUP))
        for name, document in _schemas(prefix, namespace).items():
            make(f"schema {name}", lambda document=document: schema.create_schema(session, sandbox, document))
            make(f"dataset {name}", lambda name=name: lake.create_dataset(session, sandbox, name, name,
                                                                          profile_enabled=True))  # fmt: skip
        make(f"connection {prefix}-logs", lambda: sources.create_connection(
            session, box, sandbox, f"{prefix}-logs", "local", {"root": instance.logs}, roots))  # fmt: skip
        for name, (glob, mapping) in _dataflows(prefix).items():
            make(f"dataflow {name}", lambda name=name, glob=glob, mapping=mapping: sources.create_dataflow(
                session, sandbox, {"name": name, "connection": f"{prefix}-logs", "dataset": name,
                                   "source": {"glob": glob}, "mapping": mapping,
                                   "schedule": {"frequency": every}}))  # fmt: skip
    return {"instance": instance.name, "sandbox": sandbox, "namespace": namespace, "created": created, "kept": kept,
            "destinationAccount": prefix, "dataflows": list(_dataflows(prefix))}  # fmt: skip


def _schemas(prefix: str, namespace: str) -> dict[str, dict[str, Any]]:
    def identity(path: str) -> list[dict[str, Any]]:
        return [{"path": path, "namespace": namespace, "primary": True}]

    return {
        f"{prefix}-delivery-logs": {"name": f"{prefix}-delivery-logs", "class": "experienceevent",
                                    "fieldGroups": ["campaign-delivery-logs"],
                                    "identities": identity(f"{_DELIVERY}.externalID")},
        f"{prefix}-tracking-logs": {"name": f"{prefix}-tracking-logs", "class": "experienceevent",
                                    "fieldGroups": ["campaign-tracking-logs"],
                                    "identities": identity(f"{_TRACKING}.externalID")},
        f"{prefix}-consents": {"name": f"{prefix}-consents", "class": "profile",
                               "fieldGroups": ["consents-and-preferences", "campaign-recipient"],
                               "identities": identity("_tenant.campaignRecipient.externalID")},
    }  # fmt: skip


def _dataflows(prefix: str) -> dict[str, tuple[str, dict[str, Any]]]:
    def copied(base: str, columns: list[str]) -> list[dict[str, Any]]:
        return [{"source": column, "destination": f"{base}.{column}"} for column in columns]

    delivery = [
        {"expression": 'concat("d-", broadlogID, "-", eventType)', "destination": "_id"},
        {"source": "timestamp", "destination": "timestamp"},
        {"expression": '"message.feedback"', "destination": "eventType"},
        *copied(_DELIVERY, ["externalID", "campaignID", "campaignName", "broadlogID", "deliveryID"]),
        *copied(_DELIVERY, ["deliveryName", "channel", "status", "reason"]),
    ]
    tracking = [
        {"expression": 'concat("t-", trackinglogID)', "destination": "_id"},
        {"source": "timestamp", "destination": "timestamp"},
        {"expression": '"message.tracking"', "destination": "eventType"},
        {"source": "eventType", "destination": f"{_TRACKING}.urlType"},
        *copied(_TRACKING, ["externalID", "campaignID", "campaignName", "trackinglogID", "broadlogID"]),
        *copied(_TRACKING, ["deliveryID", "deliveryName", "url", "userAgent"]),
    ]
    consents = [
        {"source": "externalID", "destination": "_tenant.campaignRecipient.externalID"},
        {"source": "emailConsent", "destination": "consents.marketing.email.val"},
    ]
    return {
        f"{prefix}-delivery-logs": ("deliverylogs_*.csv", {"mappings": delivery}),
        f"{prefix}-tracking-logs": ("trackinglogs_*.csv", {"mappings": tracking}),
        f"{prefix}-consents": ("consents_*.csv", {"mappings": consents}),
    }
