"""Accord Campaign: audiences as CSV files to a campaign instance's landing folder, for its import workflow.

The fields of the reference product's Campaign destination: the account's name, the instance, and
the target mapping the audiences are loaded with (`recipient`, the one the campaign engine knows).
Profile-based, in batches every 3, 6, 8, 12 or 24 hours; at most 25 audiences and 20 fields a flow,
the reference limits. The files land as the local folder destination lands them (whole, under the
allowed roots), in the instance's landing folder, which its file collector watches.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field

from accord.destinations.connectors.local import LocalFolderConfig, LocalFolderDestination
from accord.destinations.exceptions import DestinationRefusedError
from accord.destinations.spec import SYNC_MODES, DestinationSpec, ExportFile, FileOptions, Limits
from accord.sources import LOCAL_PATH

INSTANCE_FILE = ".accord-instance.json"
"""What a campaign instance says of itself in its landing folder: its limits and what it holds (written by the
engine, `accord.campaign.publish_instance`). An activation reads it before a file lands, so that what the
instance would refuse is refused here, at activation, with why."""

ACCORD_COLUMNS = ("segmentMembership.status", "operation")
"""Columns Accord writes itself, which an instance does not count among an audience's fields."""


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
        marketing_actions=("emailTargeting",),
        sync_modes=SYNC_MODES,  # the operation column says what the import workflow does with each recipient
    )

    def write(self, file: ExportFile) -> str:
        self._check_instance(file)
        return super().write(file)

    def _check_instance(self, file: ExportFile) -> None:
        """Refuse a file the instance would refuse whole: more fields than it takes, a new audience past its
        number of audiences, more bytes than its landing folder may hold. Nothing is truncated."""
        said = self.root / INSTANCE_FILE
        if file.name.startswith("manifest-") or not said.is_file():
            return  # an instance that says nothing of itself (an older one) refuses at its import, as before
        try:
            instance: dict[str, Any] = json.loads(said.read_text())
        except (OSError, ValueError):
            return
        name = instance.get("instance") or getattr(self.config, "instance", "")
        fields = [c for c in _header(file.path) if c not in ACCORD_COLUMNS]
        most = instance.get("maxFields")
        if isinstance(most, int) and len(fields) > most:
            raise DestinationRefusedError(
                f"{file.name} has {len(fields)} fields and campaign instance {name!r} takes at most {most} "
                "(its setting campaign_max_fields): map fewer fields, or have its administrator raise the limit",
                file=file.name, fields=len(fields), limit=most,
            )  # fmt: skip
        held, audiences = instance.get("audiences") or [], instance.get("maxAudiences")
        new = not any(f"segment{audience}" in file.name or Path(file.name).name.startswith(str(audience))
                      for audience in held)  # fmt: skip
        if new and isinstance(audiences, int) and len(held) >= audiences:
            raise DestinationRefusedError(
                f"{file.name} is a new audience, and campaign instance {name!r} holds {len(held)}, its limit (its "
                "setting campaign_max_audiences): remove an audience from it, or have its administrator raise the "
                "limit", file=file.name, limit=audiences,
            )  # fmt: skip
        room = instance.get("maxLandingBytes")
        waiting = sum(p.stat().st_size for p in self.root.glob("*.csv*") if p.is_file())
        if isinstance(room, int) and waiting + file.size > room:
            raise DestinationRefusedError(
                f"{file.name} ({file.size:,} bytes) would put {waiting + file.size:,} bytes in the landing folder "
                f"of campaign instance {name!r}, past its limit of {room:,} (campaign_max_landing_bytes): let its "
                "import workflow take the files waiting, or have its administrator raise the limit",
                file=file.name, limit=room,
            )  # fmt: skip


def _header(path: Path) -> list[str]:
    """The columns of a CSV file (gzip or not), from its first line."""
    import csv

    with path.open("rb") as probe:
        packed = probe.read(2) == b"\x1f\x8b"
    opener: Any = gzip.open if packed else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle), [])
