"""Which audience a landed file is, from its name, and the instance's limit on audiences.

The CDP's `accord-campaign` destination names files by the flow's name template; the default,
`%DESTINATION%_segment%SEGMENT_ID%_%DATETIME(yyyyMMddHHmmss)%`, gives `campaign_segment<id>_20261130081500.csv`.
The audience's id is what follows `segment` (up to the next `_`); the list is named after the file without its
date-time and extension (`campaign_segment<id>`, or `parisians` for a template `%SEGMENT_NAME%_%DATETIME%`), so
that every file of one audience feeds one list. A list is found by its audience id first, then by its name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import func, or_, select

from accord.campaign.exceptions import CampaignLimitError
from accord.campaign.models import ListRecord

SEGMENT = re.compile(r"segment([0-9A-Za-z][0-9A-Za-z-]*)")
MOMENT = re.compile(r"[_-]\d{8}(?:[_-]?\d{4,9})?$|[_-]\d{10,}$")


@dataclass(frozen=True)
class Audience:
    id: str
    list_name: str


def audience_of(file_name: str) -> Audience:
    stem = PurePosixPath(file_name).name
    stem = stem[: stem.index(".")] if "." in stem else stem
    list_name = MOMENT.sub("", stem) or stem
    found = SEGMENT.search(stem)
    return Audience(found.group(1) if found else list_name, list_name[:255])


def find_audience_list(session: Any, audience: Audience) -> ListRecord | None:
    query = select(ListRecord).where(or_(ListRecord.audience_id == audience.id, ListRecord.name == audience.list_name))
    return next(iter(sorted(session.scalars(query), key=lambda r: r.audience_id != audience.id)), None)


def check_audience_room(session: Any, limit: int, audience: Audience, file: str, admitted: set[str]) -> None:
    """Refuse a file of a new audience when the instance holds `limit` audiences already, counting the new ones
    `admitted` earlier in the same run; admitted, the audience joins them."""
    if audience.id in admitted or find_audience_list(session, audience) is not None:
        return
    held = session.scalar(select(func.count()).select_from(ListRecord).where(ListRecord.origin == "audience")) or 0
    if held + len(admitted) < limit:
        admitted.add(audience.id)
    else:
        raise CampaignLimitError(
            f"{file} is a new audience, and the instance holds {held} already, its limit (setting "
            "campaign_max_audiences): nothing of it was loaded",
            file=file,
            limit=limit,
        )
