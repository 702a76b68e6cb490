"""Accord Campaign: audiences as CSV files to a campaign instance's landing folder, for its import workflow.

The fields of the reference product's Campaign destination: the account's name, the instance, and
the target mapping the audiences are loaded with (`recipient`, the one the campaign engine knows).
Profile-based, in batches every 3, 6, 8, 12 or 24 hours; at most 25 audiences and 20 fields a flow,
the reference limits. The files land as the local folder destination lands them (whole, under the
allowed roots), in the instance's landing folder, which its file collector watches.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from accord.destinations.connectors.local import LocalFolderConfig, LocalFolderDestination
from accord.destinations.spec import SYNC_MODES, DestinationSpec, FileOptions, Limits
from accord.sources import LOCAL_PATH


class CampaignConfig(LocalFolderConfig):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    instance: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", title="Instance",
                          description="Name of the campaign instance the audiences go to: letters, digits, '_', "
                          "'.' and '-', starting with a letter or digit, at most 64.")  # fmt: skip
    target_mapping: Literal["recipient"] = Field(
        default="recipient",
        alias="targetMapping",
        title="Target mapping",
        description="The target mapping the instance loads the audiences with: `recipient` (external id, "
        "e-mail, first and last name, phone, custom fields).",
    )
    root: str = Field(
        description="The instance's landing folder, which its file collector watches; it must lie inside the "
        "folders the operator allows (setting `allowed_roots`).",
        json_schema_extra=LOCAL_PATH,
    )


class CampaignDestination(LocalFolderDestination):
    spec = DestinationSpec(
        id="accord-campaign",
        name="Accord Campaign",
        category="email marketing",
        description="Audiences to an Accord Campaign instance: CSV files in its landing folder, loaded into "
        "recipients and lists by its import workflow.",
        config=CampaignConfig,
        export_type="profile",
        delivery="batch",
        schedules=("3h", "6h", "8h", "12h", "daily"),
        files=FileOptions(formats=("csv",)),
        limits=Limits(audiences_per_flow=25, attributes_per_flow=20),
        consent_channel="email",
        sync_modes=SYNC_MODES,  # the operation column says what the import workflow does with each recipient
    )
