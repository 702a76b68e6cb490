"""Data usage labels and marketing actions: the vocabulary of data governance.

A label says how a piece of data may be used (on a dataset, a field, and by lineage on what is made
from them); a marketing action says what a destination or a job does with data. A policy forbids an
action for data whose labels match an expression (`expressions.py`). The core labels and actions are
the reference product's, by name; their descriptions here are our own words. Custom labels and actions
are an organisation's own, next to these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

LabelCategory = Literal["contract", "identity", "sensitive", "custom"]
LABEL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
"""What a label's name may be: a letter, then letters, digits and `_`, up to 64 characters."""


@dataclass(frozen=True)
class Label:
    """A data usage label: its name (`C4`), category and what it means."""

    name: str
    category: LabelCategory
    description: str


@dataclass(frozen=True)
class MarketingAction:
    """Something done with data that a policy may forbid: its name (`emailTargeting`), title and meaning."""

    name: str
    title: str
    description: str


def _labels(category: LabelCategory, described: dict[str, str]) -> dict[str, Label]:
    return {name: Label(name, category, text) for name, text in described.items()}


CORE_LABELS: dict[str, Label] = {
    **_labels("contract", {
        "C1": "May leave Accord only aggregated, without individual or device identifiers",
        "C2": "May not be exported to a third party",
        "C3": "May not be combined or used with directly identifying data",
        "C4": "May not be used for targeting ads or content, on site or across sites",
        "C5": "May not be used for interest-based targeting across sites",
        "C6": "May not be used for targeting ads on site",
        "C7": "May not be used for targeting content on site",
        "C8": "May not be used to measure the organisation's own sites or apps",
        "C9": "May not be used in data science workflows",
        "C10": "May not be used for single-identity activation",
        "C11": "May not be shared with segment-match partners",
        "C12": "May not be exported in any way",
    }),
    **_labels("identity", {
        "I1": "Identifies a person directly (a name, an e-mail address, a phone number)",
        "I2": "Identifies a person indirectly (a cookie, a device or a pseudonymous identifier)",
    }),
    **_labels("sensitive", {
        "S1": "A precise location (latitude and longitude of a device)",
        "S2": "A broad location (a region or geofenced area)",
        "S3": "A special category of personal data (health, beliefs, ethnic origin and the like)",
    }),
}  # fmt: skip
"""The core labels, by name: contract (C1-C12), identity (I1-I2) and sensitive (S1-S3)."""

CORE_ACTIONS: dict[str, MarketingAction] = {
    action.name: action
    for action in (
        MarketingAction("analytics", "Analytics", "Measuring and reporting on how people use sites and apps"),
        MarketingAction("combineWithPii", "Combine with PII", "Joining data with directly identifying data"),
        MarketingAction("crossSiteTargeting", "Cross-Site Targeting", "Targeting ads or content across sites"),
        MarketingAction("dataScience", "Data Science", "Training and scoring models on the data"),
        MarketingAction("emailTargeting", "Email Targeting", "Choosing whom to e-mail, and what"),
        MarketingAction("exportToThirdParty", "Export to Third Party", "Sending data to another organisation"),
        MarketingAction("onsiteAdvertising", "Onsite Advertising", "Choosing ads shown on the organisation's sites"),
        MarketingAction("onsitePersonalization", "Onsite Personalization", "Choosing content shown on its sites"),
        MarketingAction("segmentMatch", "Segment Match", "Sharing audiences with match partners"),
        MarketingAction(
            "singleIdentityPersonalization",
            "Single Identity Personalization",
            "Personalising for one identity, without stitching",
        ),
    )
}
"""The core marketing actions, by name."""


__all__ = ["CORE_ACTIONS", "CORE_LABELS", "LABEL_NAME", "Label", "LabelCategory", "MarketingAction"]
